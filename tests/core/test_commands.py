"""The `trunkline` commands: token, createadmin, web, demo."""

import io
import os
import queue
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.management.commands.createadmin import AdminAccount
from trunkline.core.management.commands.web import banner
from trunkline.core.models import SystemSettings, User
from trunkline.core.validators import validate_e164
from trunkline.customers.demo import demo_contacts, demo_customers
from trunkline.customers.models import Contact, Customer


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_token_prints_the_same_token_each_time(admin_user) -> None:
    first = run("token", "admin").strip()
    assert first == Token.objects.get(user=admin_user).key
    assert len(first) == 40
    assert run("token", "admin").strip() == first


def test_token_for_unknown_user(db) -> None:
    with pytest.raises(CommandError, match=r"No user named 'ghost'\."):
        run("token", "ghost")


def test_token_authenticates_the_api(admin_user, client) -> None:
    key = run("token", "admin").strip()
    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


def test_createadmin_uses_the_environment_password(db, monkeypatch) -> None:
    monkeypatch.setenv("TRUNKLINE_ADMIN_PASSWORD", "Sup3r-Secret-Pass")
    output = run("createadmin")
    assert output == "Created user 'admin', password: the one in TRUNKLINE_ADMIN_PASSWORD\n"
    admin = User.objects.get(username="admin")
    assert admin.check_password("Sup3r-Secret-Pass")
    assert admin.role == User.Role.ADMIN and admin.is_admin
    assert admin.password.startswith("argon2$")
    change = ObjectChange.objects.get(object_id=admin.pk, action="create")
    assert change.source == "command"
    assert change.postchange_data["password"] == "********"
    # Second run: nothing changed, and it says how to set a new password.
    assert run("createadmin") == ("User 'admin' exists, password unchanged; forgotten? set a new one: "
                                  "trunkline changepassword admin\n")
    assert User.objects.count() == 1


def test_createadmin_generates_and_prints_the_password_once(db, monkeypatch) -> None:
    monkeypatch.delenv("TRUNKLINE_ADMIN_PASSWORD", raising=False)
    output = run("createadmin")
    password = output.split("password: ", 1)[1].split()[0]
    assert output == (f"Created user 'admin', password: {password}  (generated now and shown only this once; "
                      "change it after logging in)\n")
    assert User.objects.get(username="admin").check_password(password)
    assert run("createadmin").startswith("User 'admin' exists, password unchanged;")
    assert User.objects.get(username="admin").check_password(password)


def test_web_banner_says_where_who_and_the_password_or_how_to_reset_it() -> None:
    rule = "=" * 64  # as long as the longest line
    assert banner("http://127.0.0.1:8000/", None) == (
        f"{rule}\nTrunkline is serving on http://127.0.0.1:8000/ (Ctrl+C stops it)\n{rule}\n")
    first_run = banner("http://127.0.0.1:8000/", AdminAccount(created=True, generated_password="s3cret-Pa55"))
    assert first_run.splitlines()[1:4] == [
        "Trunkline is serving on http://127.0.0.1:8000/ (Ctrl+C stops it)",
        "  User:     admin",
        "  Password: s3cret-Pa55  (generated now and shown only this once; change it after logging in)"]
    later = banner("http://127.0.0.1:8000/", AdminAccount(created=False))
    assert later.splitlines()[3] == ("  Password: unchanged; forgotten? set a new one: trunkline changepassword "
                                     "admin")
    from_environment = banner("http://127.0.0.1:8000/", AdminAccount(created=True))
    assert from_environment.splitlines()[3] == "  Password: the one in TRUNKLINE_ADMIN_PASSWORD"


def test_web_says_it_serves_only_once_the_port_is_bound() -> None:
    """Port 0: the kernel picks a free one, so the address printed can only be known after the bind; the
    server answers at it as soon as the line is out."""
    script = Path(sys.executable).with_name("trunkline")
    server = subprocess.Popen([str(script), "web", "--port", "0", "--workers", "1"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=os.environ.copy())
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()
    try:
        printed = [lines.get(timeout=30) for _ in range(3)]
        assert printed[0] == printed[2] == "=" * len(printed[1].rstrip("\n")) + "\n"
        match = re.fullmatch(r"Trunkline is serving on http://127\.0\.0\.1:(\d+)/ \(Ctrl\+C stops it\)\n",
                             printed[1])
        assert match and int(match[1]) > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{match[1]}/static/trunkline/favicon.svg", timeout=10) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("image/svg+xml")
    finally:
        server.terminate()
        server.wait(timeout=30)


def demo_routed() -> int:
    """Demo customers billed in a currency with demo rate cards: each gets one ingress route and one IP."""
    return sum(data["currency"] in ("USD", "GBP", "EUR") for data in demo_customers())


def test_demo_is_idempotent_and_audited(db) -> None:
    routed = demo_routed()
    assert routed == 46
    # 3 providers; per currency, one buy card per provider and one customer card.
    assert run("demo") == ("Demo data: 50 customers created, 0 already there; 70 contacts created.\n"
                           # One IP each, and 127.0.0.1 for one of them (calls from this machine).
                           f"Demo routing: 3 providers, 12 rate cards, {routed} ingress routes, {routed + 1} IP-auth "
                           "entries created.\n"
                           "Demo email and SMS: Setup > Settings send to the outbox; `trunkline outbox` (started by "
                           "`make run`) writes each message to var/outbox/.\n")
    assert Customer.objects.count() == 50
    assert run("demo") == ("Demo data: 0 customers created, 50 already there; 0 contacts created.\n"
                           "Demo routing: 0 providers, 0 rate cards, 0 ingress routes, 0 IP-auth entries created.\n")
    assert Customer.objects.count() == 50
    creates = ObjectChange.objects.filter(action="create", source="command")
    assert creates.filter(object_type__model="customer").count() == 50
    # Each card's deck is one revision; the rows themselves are not change-logged. The settings row is one more.
    assert creates.count() == 50 + 70 + 3 + 12 + 12 + routed + routed + 1 + 1  # + 127.0.0.1's entry
    assert set(Customer.objects.values_list("status", flat=True)) == {"active", "inactive", "pending_approval",
                                                                      "penalty"}
    assert Customer.objects.values("currency").distinct().count() >= 4
    assert Customer.objects.values("country").distinct().count() >= 8
    assert Customer.objects.filter(debit_limit__gt=0).exists()


def test_demo_if_empty_skips_a_database_with_customers(db) -> None:
    assert run("demo", "--if-empty").startswith("Demo data: 50 customers created")
    assert "Customers exist already; no demo data loaded." in run("demo", "--if-empty")
    assert Customer.objects.count() == 50


def test_demo_customers_have_contacts_with_emails_and_mobiles(db) -> None:
    run("demo")
    contacts = list(Contact.objects.select_related("customer"))
    assert len(contacts) == 70
    assert not Customer.objects.filter(contacts=None).exists()
    assert len({contact.email for contact in contacts}) == len({contact.mobile for contact in contacts}) == 70
    for contact in contacts:
        validate_e164(contact.mobile)
        assert contact.email.endswith(f"@{contact.customer.name.lower().replace(' ', '')}.example")
        assert contact.password.startswith("!")  # unusable: no demo contact can log in until given one
    first = demo_customers()[0]
    assert demo_contacts(first, 0) == [{"name": "Tara Garcia", "email": "tara.garcia@quantumvoice.example",
                                        "mobile": "+33612345600", "contact_type": "billing"}]


def test_demo_points_email_and_sms_at_the_outbox_only_where_not_set_up(db) -> None:
    with change_context(source="command"):
        SystemSettings(smtp_host="smtp.carrier.test", smtp_port=587, email_from="noc@carrier.test").save()
    run("demo")
    settings = SystemSettings.load()
    assert (settings.smtp_host, settings.smtp_port, settings.email_from) == ("smtp.carrier.test", 587,
                                                                             "noc@carrier.test")
    assert (settings.sms_api_url, settings.sms_account_sid, settings.sms_auth_token, settings.sms_from) == (
        "http://127.0.0.1:8026", "ACoutbox", "outbox", "Trunkline")
