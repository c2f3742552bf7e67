"""The customer card in a real Chromium: contacts and their passwords (mail through a real SMTP server), number
blocks, Send Email & SMS from the board with the worker run in this process, and View Difference in the Audit Log
tab. Each test drives the UI as an operator does and checks the page, the database and what the servers received.
"""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager

import pytest

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import Page, expect

from tests.factories import CONTACT_PASSWORD, make_contact, make_customer
from tests.servers import EMAIL_FROM, SMTPServer, save_settings
from trunkline.audit.models import ObjectChange
from trunkline.core.jobs import run_ready_jobs
from trunkline.core.models import Job, User
from trunkline.customers.models import Contact, Customer, Message, NumberBlock
from trunkline.customers.services import SEND_MESSAGE_JOB
from trunkline.ledger.services import PUBLISH_BALANCES
from trunkline.routing.publish import PUBLISH_SNAPSHOT

pytestmark = pytest.mark.e2e

TYPED_PASSWORD = "Saffron-Glacier-Tunnel-5"


def navigation(page: Page) -> AbstractContextManager:
    """Wrap the action that leaves the page (form submit, link); waits for the new page's load."""
    return page.expect_navigation(wait_until="load")


def messages(page: Page) -> list[str]:
    return [text.strip() for text in page.locator(".messages .message").all_inner_texts()]


def rows(page: Page, testid: str) -> list[list[str]]:
    """A table's body rows as cell texts (without detail rows and the empty-state row)."""
    return page.get_by_test_id(testid).first.evaluate("""table => Array.from(table.tBodies[0].rows)
        .filter(tr => !tr.classList.contains("detail-row") && !tr.querySelector("td.empty"))
        .map(tr => Array.from(tr.cells).map(cell => cell.innerText.trim()))""")


def open_card(page: Page, customer: Customer) -> None:
    """From the board, as an operator does: click the name."""
    page.goto("/customers/")
    with navigation(page):
        page.get_by_test_id("objects").get_by_role("link", name=customer.name, exact=True).click()
    assert page.url.endswith(f"/customers/{customer.pk}/")


def mailed_password(body: str) -> str:
    return re.search(r"Password: (\S+)", body).group(1)


@pytest.fixture
def acme(db) -> Customer:
    return make_customer(name="Acme Telecom", channels=30)


def test_add_a_contact_with_an_auto_generated_password(operator_page: Page, operator_user: User, acme: Customer,
                                                       smtp_settings, smtp_server: SMTPServer) -> None:
    page = operator_page
    open_card(page, acme)
    expect(page.locator(".card-tabs a")).to_have_text(["Main", "Auth", "Routing", "Stats", "Latest Calls",
                                                       "Dialogs", "Ledger", "CDR", "Audit Log"])
    expect(page.locator(".card-tabs a.active")).to_have_text("Main")
    expect(page.get_by_test_id("channels-in-use")).to_have_text("0 of 30")
    with navigation(page):
        page.get_by_role("link", name="Add contact").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New contact")
    expect(page.locator("#id_customer")).to_be_disabled()
    expect(page.locator("#id_customer")).to_have_value(str(acme.pk))

    # Ticked by default: no password to type. Unticking shows the two inputs; ticking again hides them.
    auto = page.get_by_label("Auto Generate Password")
    expect(auto).to_be_checked()
    expect(page.locator("#id_password")).to_be_hidden()
    expect(page.locator("#id_password_confirm")).to_be_hidden()
    auto.uncheck()
    expect(page.locator("#id_password")).to_be_visible()
    expect(page.locator("#id_password_confirm")).to_be_visible()
    auto.check()
    expect(page.locator("#id_password")).to_be_hidden()

    page.locator("#id_name").fill("Alice Archer")
    page.locator("#id_email").fill("Alice@Acme.example")
    page.locator("#id_mobile").fill("+44 7911 123456")
    page.locator("#id_contact_type").select_option("billing")
    page.locator("#id_public_notes").fill("Billing questions: Alice.")
    page.locator("#id_ip_whitelist").fill("203.0.113.7\n198.51.100.0/24")
    with navigation(page):
        page.get_by_role("button", name="Save").click()

    assert page.url.endswith(f"/customers/{acme.pk}/")
    assert messages(page) == ["Created contact Alice Archer <alice@acme.example>."]
    assert rows(page, "contacts") == [["Alice Archer", "alice@acme.example", "—", "+447911123456", "Billing",
                                       "No", "No", ""]]
    contact = Contact.objects.get()
    assert contact.ip_whitelist == ["203.0.113.7", "198.51.100.0/24"]
    [mail] = smtp_server.messages
    assert (mail.sender, mail.recipients, mail.to) == (EMAIL_FROM, ["alice@acme.example"], "alice@acme.example")
    assert mail.subject == "Your portal password"
    password = mailed_password(mail.body)
    assert contact.check_password(password)
    assert not contact.check_password(password + "x")
    assert password not in page.content()  # never shown again


def test_reset_a_password_by_typing_it(operator_page: Page, acme: Customer) -> None:
    contact = make_contact(acme, name="Bob Baker", email="bob@acme.example")
    page = operator_page
    open_card(page, acme)

    with navigation(page):
        page.get_by_role("link", name="Reset the password of Bob Baker").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset password Bob Baker <bob@acme.example>")
    page.get_by_label("Auto Generate & Email Password").uncheck()
    page.locator("#id_password").fill(TYPED_PASSWORD)
    page.locator("#id_password_confirm").fill(TYPED_PASSWORD + "!")
    with navigation(page):
        page.get_by_role("button", name="Save").click()
    expect(page.locator(".field.invalid .errorlist-block")).to_have_text(
        "The two passwords differ; type the same password twice.")
    contact.refresh_from_db()
    assert contact.check_password(CONTACT_PASSWORD)

    # The re-shown form keeps the box unticked, so the inputs are there to correct.
    expect(page.get_by_label("Auto Generate & Email Password")).not_to_be_checked()
    page.locator("#id_password").fill(TYPED_PASSWORD)
    page.locator("#id_password_confirm").fill(TYPED_PASSWORD)
    with navigation(page):
        page.get_by_role("button", name="Save").click()

    assert page.url.endswith(f"/customers/{acme.pk}/")
    assert messages(page) == ["Set a new password for Bob Baker."]
    contact.refresh_from_db()
    assert contact.check_password(TYPED_PASSWORD)
    assert not contact.check_password(CONTACT_PASSWORD)


def test_assign_two_number_blocks_and_release_one(operator_page: Page, acme: Customer) -> None:
    page = operator_page
    open_card(page, acme)
    expect(page.get_by_test_id("number-range-missing")).to_contain_text("No internal number range is set")
    expect(page.get_by_role("button", name="Assign number block")).to_have_count(0)

    save_settings(number_range_start=1000, number_block_size=1000)
    with navigation(page):
        page.reload()
    expect(page.get_by_test_id("number-range-missing")).to_have_count(0)
    with navigation(page):
        page.get_by_role("button", name="Assign number block").click()
    assert messages(page) == ["Assigned number block 1000–1999."]
    with navigation(page):
        page.get_by_role("button", name="Assign number block").click()
    assert messages(page) == ["Assigned number block 2000–2999."]
    assert rows(page, "number-blocks") == [["1000–1999", "1,000", "Release"], ["2000–2999", "1,000", "Release"]]

    with navigation(page):
        page.get_by_role("link", name="Release 1000–1999").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Release number block 1000–1999?")
    with navigation(page):
        page.get_by_role("button", name="Release").click()

    assert messages(page) == ["Released number block 1000–1999."]
    assert rows(page, "number-blocks") == [["2000–2999", "1,000", "Release"]]
    assert list(NumberBlock.objects.values_list("start", "end", "customer")) == [(2000, 2999, acme.pk)]


def test_send_an_email_to_two_selected_customers(operator_page: Page, operator_user: User, acme: Customer,
                                                 smtp_settings, smtp_server: SMTPServer) -> None:
    make_contact(acme, name="Alice Archer", email="alice@acme.example")
    make_contact(acme, name="Bob Baker", email="bob@acme.example")
    bravo = make_customer(name="Bravo Voice")
    make_contact(bravo, name="Carol Cole", email="carol@bravo.example", mobile="+14155552671")
    unselected = make_customer(name="Charlie Carrier")
    make_contact(unselected, name="Dave Dunn", email="dave@charlie.example")
    page = operator_page
    page.goto("/customers/")

    send = page.get_by_role("button", name="Send", exact=True)
    expect(send).to_be_disabled()  # nothing ticked yet
    page.get_by_role("checkbox", name="Select Acme Telecom", exact=True).check()
    page.get_by_role("checkbox", name="Select Bravo Voice", exact=True).check()
    with navigation(page):
        send.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Send Email & SMS to 2 customers")
    expect(page.get_by_test_id("selected").locator("a")).to_have_text(["Acme Telecom", "Bravo Voice"])
    expect(page.get_by_test_id("reach-email")).to_have_text(
        f"From {EMAIL_FROM} to every contact's email address: 3 recipients")
    # SMS has no subject: choosing it hides the field, choosing email shows it again.
    page.get_by_label("SMS").check()
    expect(page.locator("#id_subject")).to_be_hidden()
    page.get_by_label("Email").check()
    expect(page.locator("#id_subject")).to_be_visible()
    page.locator("#id_subject").fill("Maintenance for {{ customer.name }}")
    page.locator("#id_body").fill("Dear {{ contact.name }},\nmaintenance tonight.\n{{ company }}")
    with navigation(page):
        page.get_by_role("button", name="Send", exact=True).click()

    message = Message.objects.get()
    assert page.url.endswith(f"/customers/messages/{message.pk}/")
    assert messages(page) == ["Queued the email to 3 recipients."]
    progress = page.get_by_role("progressbar", name="Progress")
    expect(progress).to_have_attribute("aria-valuenow", "0")
    assert [row[2:4] for row in rows(page, "deliveries")] == [["alice@acme.example", "Queued"],
                                                             ["bob@acme.example", "Queued"],
                                                             ["carol@bravo.example", "Queued"]]

    run_ready_jobs()  # the worker, here in the test's process
    # One sending job, run once (a routing snapshot publication and the balances file it queues may have come due
    # meanwhile too: the test's customers and contacts are records the call decision reads).
    publications = (PUBLISH_SNAPSHOT, PUBLISH_BALANCES)
    assert list(Job.objects.exclude(kind__in=publications).values_list("kind", "status", "attempts")) == [
        (SEND_MESSAGE_JOB, "done", 1)]

    # The page refreshes itself until the job is done.
    expect(page.get_by_test_id("progress").get_by_role("heading")).to_have_text("Finished")
    expect(progress).to_have_attribute("aria-valuenow", "3")
    expect(page.get_by_test_id("count-sent")).to_have_text("Sent 3")
    assert [[row[0], row[2], row[3]] for row in rows(page, "deliveries")] == [
        ["Acme Telecom", "alice@acme.example", "Sent"], ["Acme Telecom", "bob@acme.example", "Sent"],
        ["Bravo Voice", "carol@bravo.example", "Sent"]]
    received = sorted(smtp_server.messages, key=lambda mail: mail.recipients)
    assert [mail.recipients for mail in received] == [["alice@acme.example"], ["bob@acme.example"],
                                                      ["carol@bravo.example"]]
    assert [(mail.subject, mail.body) for mail in received] == [
        ("Maintenance for Acme Telecom", "Dear Alice Archer,\nmaintenance tonight.\nTest Carrier Ltd\n"),
        ("Maintenance for Acme Telecom", "Dear Bob Baker,\nmaintenance tonight.\nTest Carrier Ltd\n"),
        ("Maintenance for Bravo Voice", "Dear Carol Cole,\nmaintenance tonight.\nTest Carrier Ltd\n"),
    ]

    # Each card shows its own deliveries.
    with navigation(page):
        page.get_by_role("link", name="Bravo Voice").first.click()
    assert [row[1:] for row in rows(page, "deliveries")] == [
        ["Email", "carol@bravo.example", "Maintenance for Bravo Voice", "Sent", ""]]
    with navigation(page):
        page.get_by_role("link", name="Maintenance for Bravo Voice").click()
    assert page.url.endswith(f"/customers/messages/{message.pk}/")


def test_view_difference_in_the_audit_log_tab(operator_page: Page, operator_user: User, acme: Customer) -> None:
    contact = make_contact(acme, name="Alice Archer", email="alice@acme.example")
    page = operator_page
    open_card(page, acme)
    with navigation(page):
        page.get_by_role("link", name="Edit Alice Archer").click()
    page.locator("#id_name").fill("Alice Archer-Smith")
    page.locator("#id_mobile_verified").check()
    with navigation(page):
        page.get_by_role("button", name="Save").click()
    assert messages(page) == ["Saved contact Alice Archer-Smith <alice@acme.example>."]

    with navigation(page):
        page.get_by_role("link", name="Audit Log", exact=True).click()
    expect(page.locator(".card-tabs a.active")).to_have_text("Audit Log")
    assert [row[1:6] for row in rows(page, "audit")] == [
        ["operator", "127.0.0.1", "Updated", "contact Alice Archer-Smith <alice@acme.example>",
         "name, mobile_verified"],
        ["test", "—", "Created", "contact Alice Archer <alice@acme.example>", "—"],
        ["test", "—", "Created", "customer Acme Telecom", "—"],
    ]
    change = ObjectChange.objects.get(object_id=contact.pk, action="update")
    detail = page.locator(f"#diff-{change.pk}")
    expect(detail).to_be_hidden()

    button = page.get_by_role("button", name="View Difference").first
    button.click()

    expect(detail).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    assert detail.get_by_test_id("diff").evaluate("""table => Array.from(table.tBodies[0].rows)
        .map(tr => Array.from(tr.cells).map(cell => cell.innerText.trim()))""") == [
        ["name", '"Alice Archer"', '"Alice Archer-Smith"'], ["mobile_verified", "false", "true"]]
    with navigation(page):
        detail.get_by_role("link", name="Open the full entry").click()
    assert page.url.endswith(f"/audit-log/{change.pk}/")


def test_a_viewer_gets_the_card_without_controls(viewer_page: Page, acme: Customer) -> None:
    make_contact(acme, name="Alice Archer", email="alice@acme.example")
    save_settings(number_range_start=1000, number_block_size=1000)
    page = viewer_page
    open_card(page, acme)

    assert rows(page, "contacts") == [["Alice Archer", "alice@acme.example", "—", "—", "General", "No", "No"]]
    for name in ("Add contact", "Edit Alice Archer", "Reset the password of Alice Archer", "Delete Alice Archer",
                 "Edit Customer"):
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    expect(page.get_by_role("button", name="Assign number block")).to_have_count(0)
    page.goto("/customers/")
    expect(page.get_by_role("button", name="Send", exact=True)).to_have_count(0)
