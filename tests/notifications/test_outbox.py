"""The outbox (`trunkline outbox`, started by `make run`): the demo's Send Email & SMS lands in var/outbox/."""

from __future__ import annotations

import email
import email.policy
import http.client
import json
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.factories import make_contact, make_customer
from trunkline.core.context import change_context
from trunkline.core.models import SystemSettings
from trunkline.customers.choices import MessageChannel
from trunkline.customers.demo import demo_settings_outbox
from trunkline.customers.services import message_send
from trunkline.notifications.outbox import Outbox, _SMSHandler
from trunkline.notifications.transport import SmsConfig, SmtpConfig, send_email, send_sms

FILE_NAME = re.compile(r"\d{8}T\d{6}Z-(\d{4})-(email\.eml|sms\.txt)")


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[tuple[Outbox, list[str]]]:
    """An outbox on free ports writing to tmp_path/outbox, and the lines it reported."""
    lines: list[str] = []
    box = Outbox(tmp_path / "outbox", smtp_port=0, sms_port=0, report=lines.append)
    box.start()
    yield box, lines
    box.stop()


def kept(folder: Path) -> list[tuple[str, str, bytes]]:
    """(number, kind, content) of each file, in arrival order."""
    files = []
    for path in sorted(folder.iterdir()):
        match = FILE_NAME.fullmatch(path.name)
        assert match, path.name
        files.append((match[1], match[2], path.read_bytes()))
    return files


def test_the_outbox_keeps_each_email_and_sms_as_a_file_and_says_where(outbox) -> None:
    box, lines = outbox
    send_email(SmtpConfig(host="127.0.0.1", port=box.smtp_port, security="none", username="", password="",
                          sender="noc@trunkline-demo.example"), to="alice@acme.example", subject="Rates",
               body="New deck attached.\n")
    sid = send_sms(SmsConfig(api_url=box.sms_url, account_sid="ACoutbox", auth_token="outbox", sender="Trunkline"),
                   to="+447400123400", body="Maintenance at 02:00 UTC")

    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    (first, kind1, raw), (second, kind2, sms) = kept(box.folder)
    assert (first, kind1, second, kind2) == ("0001", "email.eml", "0002", "sms.txt")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert (message["To"], message["Subject"], message.get_content()) == ("alice@acme.example", "Rates",
                                                                         "New deck attached.\n")
    assert sms == b"To: +447400123400\nFrom: Trunkline\n\nMaintenance at 02:00 UTC\n"
    paths = sorted(box.folder.iterdir())
    assert lines == [f"Outbox: email to alice@acme.example, 'Rates' -> {paths[0]}",
                     f"Outbox: SMS to +447400123400 -> {paths[1]}"]


def test_send_email_and_sms_in_the_demo_settings_land_in_the_outbox(db, outbox) -> None:
    box, _lines = outbox
    with change_context(source="test"):
        customer = make_customer(name="Acme Telecom")
        make_contact(customer, name="Alice Archer", email="alice@acme.example", mobile="+447400123400")
        assert demo_settings_outbox() == ["email", "SMS"]
        # The demo's fixed ports (8025, 8026) may be taken on this machine: the test's outbox listens elsewhere.
        SystemSettings.objects.filter(pk=1).update(smtp_port=box.smtp_port, sms_api_url=box.sms_url)
        message_send(customers=[customer], channel=MessageChannel.EMAIL, subject="Hello {{ customer.name }}",
                     body="Dear {{ contact.name }}")
        message_send(customers=[customer], channel=MessageChannel.SMS, subject="", body="Hi {{ contact.name }}")
    call_command("worker", "--once", stdout=StringIO())

    (_, kind1, raw), (_, kind2, sms) = kept(box.folder)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert (kind1, message["From"], message["To"], message["Subject"], message.get_content()) == (
        "email.eml", "Trunkline Demo Carrier <noc@trunkline-demo.example>", "alice@acme.example",
        "Hello Acme Telecom", "Dear Alice Archer\n")
    assert (kind2, sms) == ("sms.txt", b"To: +447400123400\nFrom: Trunkline\n\nHi Alice Archer\n")


def test_demo_settings_point_at_the_outbox_s_default_ports(db) -> None:
    with change_context(source="test"):
        demo_settings_outbox()
        assert demo_settings_outbox() == []  # set up now: left alone
    settings = SystemSettings.load()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security, settings.email_from,
            settings.company_name) == ("127.0.0.1", 8025, "none", "noc@trunkline-demo.example",
                                       "Trunkline Demo Carrier")
    assert (settings.sms_api_url, settings.sms_account_sid, settings.sms_from) == ("http://127.0.0.1:8026",
                                                                                  "ACoutbox", "Trunkline")


def test_the_sms_sink_refuses_an_oversized_or_unreadable_body_unread(outbox) -> None:
    """Anything on the machine can post to the sink: a declared 10 GB body is refused before it is read."""
    box, lines = outbox
    path = "/2010-04-01/Accounts/ACoutbox/Messages.json"
    for length, status in (("10000000000", 413), ("-1", 400), ("abc", 400)):
        connection = http.client.HTTPConnection(box.sms_url.removeprefix("http://"), timeout=5)
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", length)
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == status, length
        assert json.loads(response.read())["code"] == 20001
        connection.close()
    assert list(box.folder.iterdir()) == [] and lines == []


def test_the_sms_sink_drops_a_client_that_never_sends_its_body(outbox, monkeypatch) -> None:
    box, lines = outbox
    monkeypatch.setattr(_SMSHandler, "timeout", 0.5)
    connection = http.client.HTTPConnection(box.sms_url.removeprefix("http://"), timeout=10)
    connection.putrequest("POST", "/2010-04-01/Accounts/ACoutbox/Messages.json")
    connection.putheader("Content-Length", "100")
    connection.endheaders()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
    connection.close()
    assert list(box.folder.iterdir()) == [] and lines == []
