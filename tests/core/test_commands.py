"""The `trunkline` commands: token, createadmin, demo."""

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from trunkline.audit.models import ObjectChange
from trunkline.core.models import User
from trunkline.customers.demo import demo_customers
from trunkline.customers.models import Customer


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
    assert "password from TRUNKLINE_ADMIN_PASSWORD" in output
    admin = User.objects.get(username="admin")
    assert admin.check_password("Sup3r-Secret-Pass")
    assert admin.role == User.Role.ADMIN and admin.is_admin
    assert admin.password.startswith("argon2$")
    change = ObjectChange.objects.get(object_id=admin.pk, action="create")
    assert change.source == "command"
    assert change.postchange_data["password"] == "********"
    # Second run: nothing printed, nothing changed.
    assert run("createadmin") == ""
    assert User.objects.count() == 1


def test_createadmin_generates_and_prints_the_password_once(db, monkeypatch) -> None:
    monkeypatch.delenv("TRUNKLINE_ADMIN_PASSWORD", raising=False)
    output = run("createadmin")
    password = output.split("password: ", 1)[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    assert run("createadmin") == ""


def demo_routed() -> int:
    """Demo customers billed in a currency with demo rate cards: each gets one ingress route and one IP."""
    return sum(data["currency"] in ("USD", "GBP", "EUR") for data in demo_customers())


def test_demo_is_idempotent_and_audited(db) -> None:
    routed = demo_routed()
    assert routed == 46
    # 3 providers; per currency, one buy card per provider and one customer card.
    assert run("demo") == ("Demo data: 50 customers created, 0 already there.\n"
                           f"Demo routing: 3 providers, 12 rate cards, {routed} ingress routes, {routed} IP-auth "
                           "entries created.\n")
    assert Customer.objects.count() == 50
    assert run("demo") == ("Demo data: 0 customers created, 50 already there.\n"
                           "Demo routing: 0 providers, 0 rate cards, 0 ingress routes, 0 IP-auth entries created.\n")
    assert Customer.objects.count() == 50
    creates = ObjectChange.objects.filter(action="create", source="command")
    assert creates.filter(object_type__model="customer").count() == 50
    # Each card's deck is one revision; the rows themselves are not change-logged.
    assert creates.count() == 50 + 3 + 12 + 12 + routed + routed
    assert set(Customer.objects.values_list("status", flat=True)) == {"active", "inactive", "pending_approval",
                                                                      "penalty"}
    assert Customer.objects.values("currency").distinct().count() >= 4
    assert Customer.objects.values("country").distinct().count() >= 8
    assert Customer.objects.filter(debit_limit__gt=0).exists()


def test_demo_if_empty_skips_a_database_with_customers(db) -> None:
    assert run("demo", "--if-empty").startswith("Demo data: 50 customers created")
    assert "Customers exist already; no demo data loaded." in run("demo", "--if-empty")
    assert Customer.objects.count() == 50
