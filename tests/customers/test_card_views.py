"""The customer card in the control panel (Main and Audit Log tabs), contacts and their passwords, internal number
blocks, Send Email & SMS with its message page, and Setup > Settings: exact statuses, rows and errors, the roles,
and that a refused write writes nothing. Email and SMS go to the real local servers of tests/servers.py."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from io import StringIO
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.test import Client

from tests.factories import CONTACT_PASSWORD, make_contact, make_customer
from tests.servers import EMAIL_FROM, SMS_FROM, SMSProviderServer, SMTPServer, save_settings
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.models import Job, SystemSettings, User
from trunkline.customers import services
from trunkline.customers.models import Contact, Customer, Message, MessageDelivery, NumberBlock

TYPED_PASSWORD = "Quartz-Lantern-Meadow-7"
NEW_PASSWORD = "Copper-Harbour-Violet-3"

#
# Reading pages
#


def _text(parts: list[str]) -> str:
    return " ".join("".join(parts).split())


class Page(HTMLParser):
    """What a test reads off a page: tables by data-testid (rows of cell texts), errors by form field, the alerts
    above a form, the flash messages, and links (text, href, classes)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[tuple[list[str], list[str]]]]] = {}
        self.field_errors: dict[str, str] = {}
        self.alerts: list[str] = []
        self.messages: list[str] = []
        self.links: list[dict[str, Any]] = []
        self._open_tables: list[dict[str, Any]] = []
        self._divs: list[str | None] = []
        self._field: dict[str, Any] | None = None
        self._captures: list[list[str]] = []
        self._capture_kinds: list[str] = []
        self.feed(html)

    def _capture(self, kind: str) -> None:
        self._captures.append([])
        self._capture_kinds.append(kind)

    def _release(self, kind: str) -> str:
        index = len(self._capture_kinds) - 1 - self._capture_kinds[::-1].index(kind)
        self._capture_kinds.pop(index)
        return _text(self._captures.pop(index))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div":
            kind = ("field" if "field" in classes else "error" if "errorlist-block" in classes
                    else "message" if "message" in classes else None)
            self._divs.append(kind)
            if kind == "field":
                self._field = {"name": None, "error": ""}
            elif kind in ("error", "message"):
                self._capture(kind)
        elif tag in ("input", "select", "textarea") and self._field is not None and self._field["name"] is None:
            self._field["name"] = attributes.get("name")
        elif tag == "table":
            self._open_tables.append({"testid": attributes.get("data-testid"), "rows": [], "section": None,
                                      "row": None})
        elif tag in ("thead", "tbody", "tfoot") and self._open_tables:
            self._open_tables[-1]["section"] = tag
        elif tag == "tr" and self._open_tables and self._open_tables[-1]["section"] == "tbody":
            self._open_tables[-1]["row"] = (classes, [])
        elif tag in ("td", "th") and self._open_tables and self._open_tables[-1]["row"] is not None:
            self._capture(f"cell{len(self._open_tables)}")
        elif tag == "a":
            self.links.append({"href": attributes.get("href"), "classes": classes,
                               "label": attributes.get("aria-label")})
            self._capture("a")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._divs:
            kind = self._divs.pop()
            if kind == "error":
                text = self._release("error")
                if self._field is not None:
                    self._field["error"] = text
                else:
                    self.alerts.append(text)
            elif kind == "message":
                self.messages.append(self._release("message"))
            elif kind == "field" and self._field is not None:
                if self._field["error"]:
                    self.field_errors[self._field["name"]] = self._field["error"]
                self._field = None
        elif tag in ("td", "th") and f"cell{len(self._open_tables)}" in self._capture_kinds:
            self._open_tables[-1]["row"][1].append(self._release(f"cell{len(self._open_tables)}"))
        elif tag == "tr" and self._open_tables and self._open_tables[-1]["row"] is not None:
            table = self._open_tables[-1]
            table["rows"].append(table["row"])
            table["row"] = None
        elif tag == "table" and self._open_tables:
            table = self._open_tables.pop()
            self.tables.setdefault(table["testid"], []).append(table["rows"])
        elif tag == "a" and "a" in self._capture_kinds:
            self.links[-1]["text"] = self._release("a")

    def handle_data(self, data: str) -> None:
        for capture in self._captures:
            capture.append(data)

    def rows(self, testid: str, index: int = 0) -> list[list[str]]:
        """The body rows of a table as cell texts, leaving out empty-state rows and detail rows."""
        return [cells for classes, cells in self.tables[testid][index] if "detail-row" not in classes
                and not (len(cells) == 1 and cells[0].startswith(("No ", "Nothing")))]

    def link(self, text: str) -> dict[str, Any] | None:
        return next((link for link in self.links if link.get("text") == text or link["label"] == text), None)


def page(response: Any) -> Page:
    return Page(response.content.decode())


def follow(client: Client, response: Any, status: int = 302) -> Page:
    assert response.status_code == status, response.content.decode()[:2000]
    return page(client.get(response["Location"]))


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def changes_of(model: type) -> list[ObjectChange]:
    return list(ObjectChange.objects.filter(object_type=ContentType.objects.get_for_model(model)).order_by("id"))


def run_worker() -> str:
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    return out.getvalue().strip()


def password_in(mail_body: str) -> str:
    return re.search(r"Password: (\S+)", mail_body).group(1)


#
# Fixtures
#


@pytest.fixture
def acme(db) -> Customer:
    return make_customer(name="Acme Telecom", currency="EUR", debit_limit=Decimal("2500"), channels=30,
                         balance=Decimal("-12.5"))


@pytest.fixture
def alice(acme: Customer) -> Contact:
    return make_contact(acme, name="Alice Archer", email="alice@acme.example", mobile="+447911123456",
                        phone="+442071838750", contact_type="billing", email_verified=True)


@pytest.fixture
def number_range(db) -> SystemSettings:
    return save_settings(number_range_start=1000, number_block_size=1000)


def contact_form(customer: Customer, **fields: str) -> dict[str, str]:
    data = {"name": "Bob Baker", "email": "Bob@Acme.example", "phone": "", "mobile": "+44 7400 123456",
            "contact_type": "technical", "public_notes": "", "private_notes": "", "ip_whitelist": "",
            "password": TYPED_PASSWORD, "password_confirm": TYPED_PASSWORD}
    data.update(fields)
    return data


def add_url(customer: Customer) -> str:
    return f"/customers/{customer.pk}/contacts/add/"


#
# The card: tabs and the Main tab
#


def test_the_card_has_its_tabs_on_the_left_main_first(web, acme: Customer) -> None:
    response = web.get(f"/customers/{acme.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    tabs = html.split('<nav class="card-tabs" aria-label="Customer card">', 1)[1].split("</nav>", 1)[0]
    assert tabs.strip() == (f'<a href="/customers/{acme.pk}/" class="active" aria-current="page">Main</a>'
                            f'<a href="/customers/{acme.pk}/auth/">Auth</a>'
                            f'<a href="/customers/{acme.pk}/routing/">Routing</a>'
                            f'<a href="/customers/{acme.pk}/stats/">Stats</a>'
                            f'<a href="/customers/{acme.pk}/latest-calls/">Latest Calls</a>'
                            f'<a href="/customers/{acme.pk}/dialogs/">Dialogs</a>'
                            f'<a href="/customers/{acme.pk}/ledger/">Ledger</a>'
                            f'<a href="/customers/{acme.pk}/cdrs/">CDR</a>'
                            f'<a href="/customers/{acme.pk}/audit-log/">Audit Log</a>')
    audit = web.get(f"/customers/{acme.pk}/audit-log/").content.decode()
    assert f'<a href="/customers/{acme.pk}/audit-log/" class="active" aria-current="page">Audit Log</a>' in audit
    card = page(response)
    assert card.link("Edit Customer")["href"] == f"/customers/{acme.pk}/edit/"
    assert card.link("View Audit Log")["href"] == f"/customers/{acme.pk}/audit-log/"


def test_the_main_tab_summary(web, acme: Customer) -> None:
    unlimited = make_customer(name="Open Line", currency="USD", channels=0)

    html = web.get(f"/customers/{acme.pk}/").content.decode()

    stats = re.findall(r'<span class="label">(.*?)</span><span class="value"[^>]*>(.*?)</span></div>', html,
                       re.S)
    assert [(label, " ".join(re.sub(r"<[^>]+>", " ", value).split())) for label, value in stats] == [
        ("Status", "Active"), ("Balance", "-12.50 EUR"), ("Debit limit", "2,500.00 EUR"),
        ("Channels in use", "0 of 30")]
    other = web.get(f"/customers/{unlimited.pk}/").content.decode()
    assert re.search(r'data-testid="channels-in-use">0 <span class="muted small">\(unlimited\)</span>', other)


def test_contacts_are_listed_with_their_controls(web, acme: Customer, alice: Contact) -> None:
    make_contact(acme, name="Bob Baker", email="bob@acme.example", mobile_verified=True)
    make_contact(make_customer(name="Elsewhere"), name="Zed Other", email="zed@else.example")

    card = page(web.get(f"/customers/{acme.pk}/"))

    assert card.rows("contacts") == [
        ["Alice Archer", "alice@acme.example", "+442071838750", "+447911123456", "Billing", "✓ Yes", "No", ""],
        ["Bob Baker", "bob@acme.example", "—", "—", "General", "No", "✓ Yes", ""],
    ]
    assert card.link("Add contact")["href"] == f"/customers/{acme.pk}/contacts/add/"
    assert card.link("Edit Alice Archer")["href"] == f"/customers/{acme.pk}/contacts/{alice.pk}/edit/"
    assert card.link("Reset the password of Alice Archer")["href"] == f"/customers/contacts/{alice.pk}/password/"
    assert card.link("Delete Alice Archer")["href"] == f"/customers/{acme.pk}/contacts/{alice.pk}/delete/"


def test_a_card_without_contacts_says_so(web, acme: Customer) -> None:
    card = page(web.get(f"/customers/{acme.pk}/"))
    assert card.rows("contacts") == []
    assert card.tables["contacts"][0][0][1] == ["No contacts yet. Press + to add the first; their email is their "
                                                "portal login."]


def test_without_a_number_range_the_card_says_so_and_offers_no_plus(client, web, acme: Customer,
                                                                     admin_user) -> None:
    html = web.get(f"/customers/{acme.pk}/").content.decode()
    assert 'aria-label="Assign number block"' not in html
    assert ('No internal number range is set, so no block can be assigned.\n          An admin sets them in '
            'Setup › Settings.</p>') in html

    admin_html = client_for(admin_user).get(f"/customers/{acme.pk}/").content.decode()
    assert ('Set the Internal Number Range Start and Block Size in <a href="/setup/settings/">Setup › '
            'Settings</a>.') in admin_html


#
# Contacts: add, edit, delete
#


def test_the_add_form_from_a_card_fixes_the_customer(web, acme: Customer) -> None:
    make_customer(name="Not Offered")

    response = web.get(add_url(acme))

    assert response.status_code == 200
    html = response.content.decode()
    select = re.search(r'<select name="customer"[^>]*>(.*?)</select>', html, re.S)
    assert " disabled" in select.group(0).split(">", 1)[0]
    assert re.findall(r"<option[^>]*>(.*?)</option>", select.group(1)) == ["Acme Telecom"]
    assert re.search(r'<input type="checkbox" name="auto_generate_password"[^>]*checked', html)
    assert html.count('data-show-if="!auto_generate_password"') == 2  # both password inputs hide when ticked
    form = page(response)
    assert form.link("Acme Telecom")["href"] == f"/customers/{acme.pk}/"  # crumbs
    assert form.link("Cancel")["href"] == f"/customers/{acme.pk}/"
    assert "Do not put passwords here." in html
    assert web.get("/customers/999999/contacts/add/").status_code == 404


def test_add_a_contact_with_a_typed_password(web, operator_user, acme: Customer) -> None:
    data = contact_form(acme, ip_whitelist="10.0.0.1\n192.168.0.0/24, 2001:db8::/32",
                        private_notes="Prefers email.", email_verified="on")

    response = web.post(add_url(acme), data)

    assert response.status_code == 302
    assert response["Location"] == f"/customers/{acme.pk}/"
    contact = Contact.objects.get()
    assert (contact.customer, contact.name, contact.email, contact.mobile, contact.contact_type) == (
        acme, "Bob Baker", "bob@acme.example", "+447400123456", "technical")
    assert contact.ip_whitelist == ["10.0.0.1", "192.168.0.0/24", "2001:db8::/32"]
    assert (contact.private_notes, contact.email_verified, contact.mobile_verified) == ("Prefers email.", True,
                                                                                        False)
    assert contact.password.startswith("argon2$")
    assert contact.check_password(TYPED_PASSWORD)
    [change] = changes_of(Contact)
    assert (change.action, change.user, change.source, change.ip) == ("create", operator_user, "web", "127.0.0.1")
    assert (change.related_object_id, change.postchange_data["password"]) == (acme.pk, "********")
    card = follow(web, response)
    assert card.messages == ["Created contact Bob Baker <bob@acme.example>."]
    assert card.rows("contacts")[0][:5] == ["Bob Baker", "bob@acme.example", "—", "+447400123456", "Technical"]


def test_add_a_contact_with_an_auto_generated_password_emails_it(web, acme: Customer, smtp_settings,
                                                                 smtp_server: SMTPServer) -> None:
    data = contact_form(acme, auto_generate_password="on", password="", password_confirm="")

    response = web.post(add_url(acme), data)

    assert response.status_code == 302
    contact = Contact.objects.get()
    [mail] = smtp_server.messages
    assert (mail.sender, mail.recipients, mail.subject) == (EMAIL_FROM, ["bob@acme.example"],
                                                            "Your portal password")
    assert contact.check_password(password_in(mail.body))


def test_a_failed_password_email_saves_nothing_and_says_why(web, acme: Customer, closed_port: int) -> None:
    save_settings(smtp_host="127.0.0.1", smtp_port=closed_port, smtp_security="none", email_from=EMAIL_FROM)
    before = ObjectChange.objects.count()

    response = web.post(add_url(acme), contact_form(acme, auto_generate_password="on"))

    assert response.status_code == 200
    form = page(response)
    assert list(form.field_errors) == ["auto_generate_password"]
    assert form.field_errors["auto_generate_password"].startswith(
        "The password email could not be sent, so nothing was saved: ")
    assert "New contact" in response.content.decode()  # still the add form, not an edit of a phantom contact
    assert Contact.objects.count() == 0
    assert ObjectChange.objects.count() == before


@pytest.mark.parametrize(("fields", "field", "error"), [
    ({"password_confirm": "Quartz-Lantern-Meadow-8"}, "password_confirm",
     "The two passwords differ; type the same password twice."),
    ({"password": "short", "password_confirm": "short"}, "password",
     "This password is too short. It must contain at least 10 characters."),
    ({"password": "", "password_confirm": ""}, "password",
     "Type a password, or tick Auto Generate Password to email one."),
    ({"public_notes": f"Login: {TYPED_PASSWORD}"}, "public_notes",
     "Do not put passwords in notes: this note contains the password typed in this form."),
    ({"private_notes": f"pw {TYPED_PASSWORD}"}, "private_notes",
     "Do not put passwords in notes: this note contains the password typed in this form."),
    ({"mobile": "+44 12"}, "mobile", "'+4412' is too short for +44 (United Kingdom): 2 digits after +44."),
    ({"ip_whitelist": "10.0.0.1\nnot-an-ip"}, "ip_whitelist", None),
    ({"email": "ALICE@acme.example"}, "email", "Contact with this Email already exists."),
    ({"name": ""}, "name", "This field is required."),
])
def test_a_refused_contact_names_the_field_and_writes_nothing(web, acme: Customer, alice: Contact, fields: dict,
                                                              field: str, error: str | None) -> None:
    before = (Contact.objects.count(), ObjectChange.objects.count())

    response = web.post(add_url(acme), contact_form(acme, **fields))

    assert response.status_code == 200
    errors = page(response).field_errors
    assert list(errors) == [field]
    if error is not None:
        assert errors[field] == error
    assert (Contact.objects.count(), ObjectChange.objects.count()) == before


def test_edit_a_contact_keeps_its_password(web, acme: Customer, alice: Contact) -> None:
    response = web.get(f"/customers/{acme.pk}/contacts/{alice.pk}/edit/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="password"' not in html and 'name="auto_generate_password"' not in html
    assert '<textarea name="ip_whitelist"' in html

    data = contact_form(acme, name="Alice Archer-Smith", email="alice@acme.example", mobile="+447911123456",
                        phone="+442071838750", contact_type="billing", email_verified="on",
                        ip_whitelist="203.0.113.0/24")
    response = web.post(f"/customers/{acme.pk}/contacts/{alice.pk}/edit/", data)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.name, alice.ip_whitelist) == ("Alice Archer-Smith", ["203.0.113.0/24"])
    assert alice.check_password(CONTACT_PASSWORD)
    update = changes_of(Contact)[-1]
    assert (update.action, update.changed_fields) == ("update", ["name", "ip_whitelist"])
    assert follow(web, response).messages == ["Saved contact Alice Archer-Smith <alice@acme.example>."]


def test_delete_a_contact_after_confirming(web, acme: Customer, alice: Contact) -> None:
    confirm = web.get(f"/customers/{acme.pk}/contacts/{alice.pk}/delete/")
    assert confirm.status_code == 200
    assert "Delete contact Alice Archer &lt;alice@acme.example&gt;?" in confirm.content.decode()
    assert Contact.objects.count() == 1

    response = web.post(f"/customers/{acme.pk}/contacts/{alice.pk}/delete/")

    assert response["Location"] == f"/customers/{acme.pk}/"
    assert Contact.objects.count() == 0
    deleted = changes_of(Contact)[-1]
    assert (deleted.action, deleted.related_object_id) == ("delete", acme.pk)
    assert follow(web, response).messages == ["Deleted contact Alice Archer <alice@acme.example>."]


#
# Contacts: reset password (the key icon)
#


def test_reset_password_typed_replaces_the_old_one(web, acme: Customer, alice: Contact) -> None:
    form = web.get(f"/customers/contacts/{alice.pk}/password/")
    assert form.status_code == 200
    assert re.search(r'<input type="checkbox" name="auto_generate_password"[^>]*checked', form.content.decode())

    response = web.post(f"/customers/contacts/{alice.pk}/password/",
                        {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})

    assert response["Location"] == f"/customers/{acme.pk}/"
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert not alice.check_password(CONTACT_PASSWORD)
    update = changes_of(Contact)[-1]
    assert (update.action, update.changed_summary, update.postchange_data["password"]) == (
        "update", "password changed", "******** (changed)")
    assert follow(web, response).messages == ["Set a new password for Alice Archer."]


def test_reset_password_auto_generated_is_emailed(web, alice: Contact, smtp_settings,
                                                  smtp_server: SMTPServer) -> None:
    response = web.post(f"/customers/contacts/{alice.pk}/password/", {"auto_generate_password": "on"})

    [mail] = smtp_server.messages
    assert mail.recipients == ["alice@acme.example"]
    alice.refresh_from_db()
    assert alice.check_password(password_in(mail.body))
    assert not alice.check_password(CONTACT_PASSWORD)
    assert follow(web, response).messages == ["Emailed a new password to Alice Archer at alice@acme.example."]


@pytest.mark.parametrize(("data", "field", "error"), [
    ({"password": NEW_PASSWORD, "password_confirm": "Other-Password-99"}, "password_confirm",
     "The two passwords differ; type the same password twice."),
    ({"password": "password1", "password_confirm": "password1"}, "password",
     "This password is too short. It must contain at least 10 characters. This password is too common."),
    ({}, "password", "Type the new password, or choose auto-generate to email one."),
    ({"auto_generate_password": "on"}, None,  # no email settings: nothing can be emailed, so nothing changes
     "Email is not set up: enter the SMTP server and the 'email from' address in Setup > Settings."),
])
def test_a_refused_reset_keeps_the_old_password(web, alice: Contact, data: dict, field: str | None,
                                                error: str) -> None:
    before = ObjectChange.objects.count()

    response = web.post(f"/customers/contacts/{alice.pk}/password/", data)

    assert response.status_code == 200
    result = page(response)
    assert result.field_errors == ({field: error} if field else {})
    assert result.alerts == ([] if field else [error])
    alice.refresh_from_db()
    assert alice.check_password(CONTACT_PASSWORD)
    assert ObjectChange.objects.count() == before


def test_a_reset_password_held_in_the_notes_is_refused_naming_the_note(web, acme: Customer) -> None:
    contact = make_contact(acme, email="carol@acme.example", private_notes=f"old idea: {NEW_PASSWORD}")

    response = web.post(f"/customers/contacts/{contact.pk}/password/",
                        {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})

    assert page(response).alerts == ["Private notes: Do not put passwords in notes: this note contains the "
                                     "password typed in this form."]
    contact.refresh_from_db()
    assert contact.check_password(CONTACT_PASSWORD)


#
# Internal number blocks
#


def test_assign_two_blocks_and_release_one(web, acme: Customer, number_range) -> None:
    card = page(web.get(f"/customers/{acme.pk}/"))
    assert card.rows("number-blocks") == []

    first = web.post(f"/customers/{acme.pk}/number-blocks/assign/")
    second = web.post(f"/customers/{acme.pk}/number-blocks/assign/")

    assert first["Location"] == f"/customers/{acme.pk}/#number-blocks"
    card = follow(web, second)
    assert card.messages == ["Assigned number block 1000–1999.", "Assigned number block 2000–2999."]
    assert card.rows("number-blocks") == [["1000–1999", "1,000", "Release"], ["2000–2999", "1,000", "Release"]]
    block = NumberBlock.objects.get(start=1000)
    assert card.link("Release 1000–1999")["href"] == f"/customers/number-blocks/{block.pk}/release/"

    confirm = web.get(f"/customers/number-blocks/{block.pk}/release/")
    assert "Release number block 1000–1999?" in confirm.content.decode()
    response = web.post(f"/customers/number-blocks/{block.pk}/release/")

    assert response["Location"] == f"/customers/{acme.pk}/#number-blocks"
    card = follow(web, response)
    assert card.messages == ["Released number block 1000–1999."]
    assert card.rows("number-blocks") == [["2000–2999", "1,000", "Release"]]
    assert [(c.action, c.object_repr, c.related_object_id) for c in changes_of(NumberBlock)] == [
        ("create", "1000–1999", acme.pk), ("create", "2000–2999", acme.pk), ("delete", "1000–1999", acme.pk)]


def test_assign_without_a_number_range_says_so_and_writes_nothing(web, acme: Customer) -> None:
    before = ObjectChange.objects.count()

    response = web.post(f"/customers/{acme.pk}/number-blocks/assign/")

    assert follow(web, response).messages == [
        "Set Internal Number Range Start and Block Size in Setup > Settings before assigning a number block."]
    assert NumberBlock.objects.count() == 0
    assert ObjectChange.objects.count() == before


def test_assign_is_post_only(web, acme: Customer, number_range) -> None:
    assert web.get(f"/customers/{acme.pk}/number-blocks/assign/").status_code == 405
    assert NumberBlock.objects.count() == 0


#
# Roles
#


def test_a_viewer_sees_the_card_without_any_control(client, viewer_user, acme: Customer, alice: Contact,
                                                     number_range) -> None:
    with change_context(source="test"):
        services.number_block_assign(customer=acme)
    viewer = client_for(viewer_user)

    card = page(viewer.get(f"/customers/{acme.pk}/"))
    html = viewer.get(f"/customers/{acme.pk}/").content.decode()

    assert card.rows("contacts") == [["Alice Archer", "alice@acme.example", "+442071838750", "+447911123456",
                                      "Billing", "✓ Yes", "No"]]
    assert card.rows("number-blocks") == [["1000–1999", "1,000"]]
    for control in ("Add contact", "Edit Alice Archer", "Reset the password of Alice Archer",
                    "Delete Alice Archer", "Assign number block", "Release 1000–1999", "Edit Customer"):
        assert control not in html
    assert "tick customers on the board" not in html
    board = viewer.get("/customers/").content.decode()
    assert "/customers/send/" not in board


def test_a_viewer_is_refused_every_write_url_and_nothing_is_written(viewer_user, acme: Customer, alice: Contact,
                                                                     number_range, smtp_settings) -> None:
    with change_context(source="test"):
        block = services.number_block_assign(customer=acme)
    viewer = client_for(viewer_user)
    before = (Contact.objects.count(), NumberBlock.objects.count(), Message.objects.count(),
              ObjectChange.objects.count(), Contact.objects.get().password)
    requests = [
        ("get", add_url(acme), {}),
        ("post", add_url(acme), contact_form(acme)),
        ("get", f"/customers/{acme.pk}/contacts/{alice.pk}/edit/", {}),
        ("post", f"/customers/{acme.pk}/contacts/{alice.pk}/edit/", contact_form(acme, email="alice@acme.example")),
        ("get", f"/customers/{acme.pk}/contacts/{alice.pk}/delete/", {}),
        ("post", f"/customers/{acme.pk}/contacts/{alice.pk}/delete/", {}),
        ("get", f"/customers/contacts/{alice.pk}/password/", {}),
        ("post", f"/customers/contacts/{alice.pk}/password/", {"password": NEW_PASSWORD,
                                                                "password_confirm": NEW_PASSWORD}),
        ("post", f"/customers/{acme.pk}/number-blocks/assign/", {}),
        ("get", f"/customers/number-blocks/{block.pk}/release/", {}),
        ("post", f"/customers/number-blocks/{block.pk}/release/", {}),
        ("get", "/customers/send/", {}),
        ("post", "/customers/send/", {"pk": [acme.pk]}),
        ("post", "/customers/send/", {"pk": [acme.pk], "channel": "email", "subject": "Hi", "body": "Hi",
                                      "_send": "1"}),
    ]
    for method, url, data in requests:
        assert getattr(viewer, method)(url, data).status_code == 403, (method, url)
    assert (Contact.objects.count(), NumberBlock.objects.count(), Message.objects.count(),
            ObjectChange.objects.count(), Contact.objects.get().password) == before


def test_signed_out_visitors_are_sent_to_log_in(client, acme: Customer, alice: Contact) -> None:
    for url in (f"/customers/{acme.pk}/", f"/customers/{acme.pk}/audit-log/", add_url(acme),
                f"/customers/contacts/{alice.pk}/password/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


#
# The Audit Log tab
#


def test_the_audit_tab_lists_this_customers_changes_newest_first_and_not_the_settings(web, admin_user,
                                                                                      acme: Customer) -> None:
    elsewhere = make_customer(name="Elsewhere")
    make_contact(elsewhere, name="Zed Other", email="zed@else.example")  # another customer's: not listed
    save_settings(number_range_start=1000, number_block_size=1000)
    web.post(add_url(acme), contact_form(acme, name="Bob"))
    bob = Contact.objects.get(email="bob@acme.example")
    web.post(f"/customers/{acme.pk}/contacts/{bob.pk}/edit/", contact_form(acme, name="Bob Baker"))
    web.post(f"/customers/{acme.pk}/number-blocks/assign/")
    admin_web = client_for(admin_user)
    admin_web.post("/setup/settings/", {"company_name": "Trunk Carrier", "smtp_port": 587,
                                        "smtp_security": "starttls", "number_range_start": 1000,
                                        "number_block_size": 1000})
    with change_context(source="portal"):  # the contact themself, in the portal
        bob.refresh_from_db()
        bob.snapshot()
        bob.mobile_verified = True
        bob.save()

    response = web.get(f"/customers/{acme.pk}/audit-log/")

    assert response.status_code == 200
    audit = page(response)
    rows = audit.rows("audit")
    assert [row[1:] for row in rows] == [
        ["Portal", "—", "Updated", "contact Bob Baker <bob@acme.example>", "mobile_verified", "View Difference"],
        ["operator", "127.0.0.1", "Created", "number block 1000–1999", "—", "View Difference"],
        ["operator", "127.0.0.1", "Updated", "contact Bob Baker <bob@acme.example>", "name", "View Difference"],
        ["operator", "127.0.0.1", "Created", "contact Bob <bob@acme.example>", "—", "View Difference"],
        ["test", "—", "Created", "customer Acme Telecom", "—", "View Difference"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", row[0]) for row in rows)
    # View Difference: before and after side by side (changed fields of an update, every field of a create).
    rename = ObjectChange.objects.get(object_repr="Bob Baker <bob@acme.example>", user_name="operator")
    html = response.content.decode()
    assert f'data-toggle-row="diff-{rename.pk}"' in html
    assert audit.rows("diff", 2) == [["name", '"Bob"', '"Bob Baker"']]
    # (Sorted: PostgreSQL's jsonb keeps keys in its own order, so the rows follow it there.)
    assert sorted(audit.rows("diff", 1)) == [["customer", "—", str(acme.pk)], ["end", "—", "1999"],
                                             ["id", "—", str(NumberBlock.objects.get().pk)], ["start", "—", "1000"]]
    assert audit.link("Open the full entry")["href"] == ObjectChange.objects.order_by("-time", "-id")[0] \
        .get_absolute_url()


#
# Send Email & SMS
#


@pytest.fixture
def two_customers(acme: Customer, alice: Contact) -> list[Customer]:
    make_contact(acme, name="Bob Baker", email="bob@acme.example")
    bravo = make_customer(name="Bravo Voice")
    make_contact(bravo, name="Carol Cole", email="carol@bravo.example", mobile="+14155552671")
    return [acme, bravo]


def test_the_board_offers_send_for_the_selected_rows(web) -> None:
    html = web.get("/customers/").content.decode()
    group = html.split('<span class="button-group" aria-label="Selected rows">', 1)[1].split("</span>", 1)[0]
    assert ('<button class="btn" type="submit" form="bulk-form" formaction="/customers/send/" '
            'data-needs-selection') in group


def test_the_send_page_shows_the_selection_and_the_reach(web, two_customers: list[Customer],
                                                         smtp_settings) -> None:
    response = web.post("/customers/send/", {"pk": [c.pk for c in two_customers], "return_url": "/customers/?q=a"})

    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'<li class="spread"><a href="[^"]+">([^<]+)</a><span class="muted small">([^<]+)</span>',
                      html) == [("Acme Telecom", "2 contacts"), ("Bravo Voice", "1 contact")]
    assert (f'data-testid="reach-email">From {EMAIL_FROM} to every contact\'s email address: 3 recipients'
            in html)
    assert 'data-testid="reach-sms">To every contact\'s mobile number: 2 recipients' in html
    assert "SMS is not set up" in html  # said before the operator writes the message
    assert "Email is not set up" not in html
    assert ("Placeholders, filled in for each recipient: <code>{{ customer.name }}</code>, "
            "<code>{{ contact.name }}</code>, <code>{{ company }}</code>.") in html
    assert 'data-show-if="channel=email"' in html  # the subject hides for SMS
    assert page(response).link("Cancel")["href"] == "/customers/?q=a"
    assert Message.objects.count() == 0


def test_send_without_a_selection_goes_back_to_the_board(web) -> None:
    response = web.post("/customers/send/", {})
    assert response["Location"] == "/customers/"
    assert follow(web, response).messages == ["Select at least one customer to send to."]


def test_send_an_email_and_follow_it_on_the_message_page_and_the_cards(web, operator_user,
                                                                      two_customers: list[Customer],
                                                                      smtp_settings,
                                                                      smtp_server: SMTPServer) -> None:
    acme, bravo = two_customers
    response = web.post("/customers/send/", {"pk": [acme.pk, bravo.pk], "channel": "email",
                                             "subject": "Hello {{ customer.name }}",
                                             "body": "Dear {{ contact.name }}, from {{ company }}.", "_send": "1"})

    message = Message.objects.get()
    assert response["Location"] == f"/customers/messages/{message.pk}/"
    assert (message.channel, message.created_by, message.job.status) == ("email", operator_user, "queued")
    queued = web.get(response["Location"])
    html = queued.content.decode()
    assert Page(html).messages == ["Queued the email to 3 recipients."]
    assert '<meta http-equiv="refresh" content="2">' in html
    assert 'aria-valuemax="3" aria-valuenow="0"><span style="width: 0%">' in html
    assert Page(html).rows("deliveries") == [
        ["Acme Telecom", "Alice Archer", "alice@acme.example", "Queued", "—", ""],
        ["Acme Telecom", "Bob Baker", "bob@acme.example", "Queued", "—", ""],
        ["Bravo Voice", "Carol Cole", "carol@bravo.example", "Queued", "—", ""],
    ]
    assert smtp_server.messages == []

    smtp_server.reject_next(1, "550 5.1.1 Mailbox unavailable")
    assert run_worker() == "Ran 1 job."

    done = web.get(f"/customers/messages/{message.pk}/").content.decode()
    assert "http-equiv" not in done  # finished: no more refreshing
    assert 'aria-valuemax="3" aria-valuenow="3"><span style="width: 100%">' in done
    assert re.findall(r'data-testid="count-(\w+)">([^<]+)<', done) == [("sent", "Sent 2"), ("failed", "Failed 1")]
    rows = Page(done).rows("deliveries")
    assert [row[:4] for row in rows] == [["Acme Telecom", "Alice Archer", "alice@acme.example", "Failed"],
                                         ["Acme Telecom", "Bob Baker", "bob@acme.example", "Sent"],
                                         ["Bravo Voice", "Carol Cole", "carol@bravo.example", "Sent"]]
    assert "Mailbox unavailable" in rows[0][5]
    assert sorted(mail.recipients[0] for mail in smtp_server.messages) == ["bob@acme.example",
                                                                            "carol@bravo.example"]
    assert {mail.subject for mail in smtp_server.messages} == {"Hello Acme Telecom", "Hello Bravo Voice"}

    card = page(web.get(f"/customers/{bravo.pk}/"))
    [row] = card.rows("deliveries")
    assert row[1:] == ["Email", "carol@bravo.example", "Hello Bravo Voice", "Sent", ""]
    assert card.link("Hello Bravo Voice")["href"] == f"/customers/messages/{message.pk}/"


def test_an_sms_refused_by_the_provider_shows_why(web, two_customers: list[Customer], sms_settings,
                                                  sms_server: SMSProviderServer) -> None:
    sms_server.fail_next(1)
    web.post("/customers/send/", {"pk": [c.pk for c in two_customers], "channel": "sms", "subject": "ignored",
                                  "body": "Hi {{ contact.name }}", "_send": "1"})
    run_worker()

    message = Message.objects.get()
    rows = page(web.get(f"/customers/messages/{message.pk}/")).rows("deliveries")
    assert [row[2:4] + row[5:] for row in rows] == [
        ["+447911123456", "Failed",
         "SMS provider answered 400: The 'To' number +447911123456 is not a valid phone number."],
        ["+14155552671", "Sent", ""]]
    assert [request.form for request in sms_server.sent] == [{"To": "+14155552671", "From": SMS_FROM,
                                                              "Body": "Hi Carol Cole"}]


@pytest.mark.parametrize(("fields", "configured", "field", "error"), [
    ({}, False, None, "Email is not set up: enter the SMTP server and the 'email from' address in Setup > "
                      "Settings."),
    ({"subject": ""}, True, "subject", "An email needs a subject."),
    ({"body": "  "}, True, "body", "Write the message."),
    ({"body": "Hi {% if %}"}, True, "body", "Template tags such as {% if %} are not allowed; use only "
                                            "{{ customer.name }}, {{ contact.name }} or {{ company }}."),
    ({"body": "{% for d in customer.deliveries.all %}{{ d.message.created_by.auth_token.key }}{% endfor %}"}, True,
     "body", "Template tags such as {% for d in customer.deliveries.all %} are not allowed; use only "
             "{{ customer.name }}, {{ contact.name }} or {{ company }}. Unknown placeholder "
             "{{ d.message.created_by.auth_token.key }}; use {{ customer.name }}, {{ contact.name }} or "
             "{{ company }}."),
    ({"body": "{{ contact.password }}"}, True, "body",
     "Unknown placeholder {{ contact.password }}; use {{ customer.name }}, {{ contact.name }} or {{ company }}."),
    ({"subject": "Acme\r\nBcc: x@y"}, True, "subject",
     "Control characters (such as line breaks) are not allowed here."),
    ({"channel": "fax"}, True, "channel", "Select a valid choice. fax is not one of the available choices."),
    ({"channel": "sms"}, True, None, "SMS is not set up: enter the SMS API URL, account SID, auth token and "
                                     "sender in Setup > Settings."),
])
def test_a_refused_message_says_why_and_queues_nothing(web, two_customers: list[Customer], fields: dict,
                                                      configured: bool, field: str | None, error: str) -> None:
    if configured:
        save_settings(smtp_host="127.0.0.1", email_from=EMAIL_FROM)
    before = (Message.objects.count(), MessageDelivery.objects.count(), Job.objects.count(),
              ObjectChange.objects.count())
    data = {"pk": [c.pk for c in two_customers], "channel": "email", "subject": "Hello", "body": "Hi", "_send": "1",
            **fields}

    response = web.post("/customers/send/", data)

    assert response.status_code == 200
    result = page(response)
    if field is None:
        assert result.alerts == [f"Nothing was sent. {error}"]
        assert result.field_errors == {}
    else:
        assert result.alerts[0] == "Nothing was sent. Correct the fields marked below."
        assert error in (result.field_errors.get(field) or result.alerts[1])
    assert (Message.objects.count(), MessageDelivery.objects.count(), Job.objects.count(),
            ObjectChange.objects.count()) == before


def test_customers_without_contacts_are_refused(web, smtp_settings) -> None:
    lonely = make_customer(name="Lonely Line")

    response = web.post("/customers/send/", {"pk": [lonely.pk], "channel": "email", "subject": "Hi", "body": "Hi",
                                             "_send": "1"})

    assert page(response).alerts == ["Nothing was sent. Customers: None of the selected customers has a contact "
                                     "with an email address."]
    assert Message.objects.count() == 0


def test_the_message_page_shows_partial_progress(web, two_customers: list[Customer], smtp_settings) -> None:
    with change_context(source="test"):
        message = services.message_send(customers=two_customers, channel="email", subject="S", body="B")
    Job.objects.filter(pk=message.job_id).update(status="running", progress_done=1)  # the worker, one sent

    html = web.get(f"/customers/messages/{message.pk}/").content.decode()

    assert '<meta http-equiv="refresh" content="2">' in html
    assert 'aria-valuemax="3" aria-valuenow="1"><span style="width: 33%">' in html
    assert "1 of 3 recipients done" in html


#
# Setup > Settings (the page the card and Send rely on)
#


def test_settings_are_for_admins_only(web, viewer_user) -> None:
    assert web.get("/setup/settings/").status_code == 403
    assert web.post("/setup/settings/", {"company_name": "X"}).status_code == 403
    assert client_for(viewer_user).get("/setup/settings/").status_code == 403
    assert not SystemSettings.objects.exists()


def test_settings_save_keeps_secrets_and_sends_a_test_email(admin_user, smtp_server: SMTPServer) -> None:
    admin = client_for(admin_user)
    data = {"company_name": "Trunk Carrier", "email_from": EMAIL_FROM, "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port, "smtp_security": "none", "smtp_password": "s3cret",
            "sms_api_url": "https://api.twilio.com", "number_range_start": 1000, "number_block_size": 500}

    assert admin.post("/setup/settings/", data)["Location"] == "/setup/settings/"
    # Saving again with the secret left blank keeps it.
    assert admin.post("/setup/settings/", {**data, "smtp_password": ""}).status_code == 302

    settings = SystemSettings.load()
    assert (settings.company_name, settings.smtp_password, settings.number_block_size) == ("Trunk Carrier",
                                                                                          "s3cret", 500)
    html = admin.get("/setup/settings/").content.decode()
    assert "s3cret" not in html
    assert [c.postchange_data["smtp_password"] for c in changes_of(SystemSettings)] == ["********"]

    response = admin.post("/setup/settings/", {"_action": "test_email", "to": "noc@example.test"})
    assert follow(admin, response).messages == ["Test email sent to noc@example.test."]
    [mail] = smtp_server.messages
    assert (mail.sender, mail.recipients) == (EMAIL_FROM, ["noc@example.test"])
