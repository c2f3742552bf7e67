"""/api/v1/contacts/: contacts with write-only passwords (typed, or generated and emailed through a real SMTP
server), validation, reset-password, filters, bulk edit/delete, roles and the audit log."""

import re
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient

from tests.cases.api import APIViewTestCases
from tests.factories import CONTACT_PASSWORD, make_contact, make_customer
from tests.servers import COMPANY_NAME, EMAIL_FROM, HOST, SMTPServer, save_settings
from trunkline.audit.models import ObjectChange
from trunkline.core.models import MASKED, MASKED_CHANGED
from trunkline.customers.api.serializers import (
    EMAIL_TAKEN,
    NO_BULK_PASSWORDS,
    NO_IMPORTED_EMAILS,
    PASSWORD_NEEDED,
    PASSWORD_OR_GENERATE,
)
from trunkline.customers.models import Contact, Customer
from trunkline.customers.services import NOTES_HOLD_PASSWORD, PASSWORD_SUBJECT

LIST = "/api/v1/contacts/"
FIELDS = ["id", "url", "customer", "name", "email", "phone", "mobile", "contact_type", "public_notes",
          "private_notes", "email_verified", "mobile_verified", "ip_whitelist", "created", "updated"]
TYPED = "Velvet-Harbour-Lamp-73"
TOO_SHORT = "This password is too short. It must contain at least 10 characters."
TOO_COMMON = "This password is too common."
ROLE_REFUSED = "Your role does not allow this change."
SMTP_DOWN = "The password email could not be sent, so nothing was saved: SMTP 127.0.0.1:{port}: "
EMAIL_NOT_SET_UP = ("Email is not set up: enter the SMTP server and the 'email from' address in Setup > Settings.")
RESET_NEEDS_ONE = "Type the new password, or choose auto-generate to email one."


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


def reset_url(pk: int) -> str:
    return f"{LIST}{pk}/reset-password/"


def counts() -> tuple[int, int]:
    """Contacts and audit entries: a refused request changes neither."""
    return Contact.objects.count(), ObjectChange.objects.count()


def contact_changes(action: str) -> Any:
    return ObjectChange.objects.filter(object_type=ContentType.objects.get_for_model(Contact), action=action)


def emailed_password(mail: Any) -> str:
    match = re.search(r"^  Password: (\S+)$", mail.body, re.MULTILINE)
    assert match, mail.body
    return match.group(1)


@pytest.fixture
def customer(db) -> Customer:
    return make_customer(name="Acme Telecom")


def payload(customer: Customer, **fields: Any) -> dict[str, Any]:
    return {"customer": customer.pk, "name": "Alice Example", "email": "alice@acme.example", "password": TYPED,
            **fields}


#
# Create
#


def test_create_with_typed_password_stores_only_an_argon2_hash(api, operator_user, customer, smtp_settings,
                                                               smtp_server: SMTPServer) -> None:
    response = api.post(LIST, payload(
        customer, email="Alice@ACME.example", phone="+44 20 7183 8750", mobile="+44 7911 123456",
        contact_type="billing", public_notes="Ask for accounts.", private_notes="Prefers email.",
        email_verified=True, ip_whitelist=["192.0.2.10", " 198.51.100.0/24 ", "2001:db8::/32"]), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert list(body) == FIELDS
    contact = Contact.objects.get()
    assert body == {
        "id": contact.pk, "url": f"http://testserver{detail(contact.pk)}", "customer": customer.pk,
        "name": "Alice Example", "email": "alice@acme.example", "phone": "+442071838750", "mobile": "+447911123456",
        "contact_type": "billing", "public_notes": "Ask for accounts.", "private_notes": "Prefers email.",
        "email_verified": True, "mobile_verified": False,
        "ip_whitelist": ["192.0.2.10", "198.51.100.0/24", "2001:db8::/32"],
        "created": body["created"], "updated": body["updated"],
    }
    assert contact.password.startswith("argon2$")
    assert contact.check_password(TYPED)
    assert TYPED not in response.content.decode() and contact.password not in response.content.decode()
    assert smtp_server.messages == []  # a typed password is not emailed
    change = contact_changes("create").get(object_id=contact.pk)
    assert change.postchange_data["password"] == MASKED
    assert (change.user_name, change.source) == (operator_user.username, "api")
    assert (change.related_object_id, change.related_object_type.model) == (customer.pk, "customer")


def test_auto_generated_password_is_emailed_once_from_the_settings_address(api, customer, smtp_settings,
                                                                          smtp_server: SMTPServer) -> None:
    response = api.post(LIST, {"customer": customer.pk, "name": "Bob Builder", "email": "bob@acme.example",
                               "auto_generate_password": True}, format="json")

    assert response.status_code == 201, response.json()
    assert "password" not in response.json() and "auto_generate_password" not in response.json()
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail.sender == EMAIL_FROM
    assert mail.recipients == ["bob@acme.example"]
    assert mail.header_from == f"{COMPANY_NAME} <{EMAIL_FROM}>"
    assert mail.to == "bob@acme.example"
    assert mail.subject == PASSWORD_SUBJECT
    assert "Hello Bob Builder," in mail.body
    assert "customer portal:\n\n  Email:    bob@acme.example\n" in mail.body
    password = emailed_password(mail)
    assert re.fullmatch(r"[A-Za-z0-9]{16}", password)
    contact = Contact.objects.get(email="bob@acme.example")
    assert contact.password.startswith("argon2$")
    assert contact.check_password(password)
    assert password not in response.content.decode()
    assert not ObjectChange.objects.filter(postchange_data__icontains=password).exists()


def test_auto_generate_with_the_smtp_server_down_writes_nothing(api, customer, closed_port) -> None:
    save_settings(smtp_host=HOST, smtp_port=closed_port, smtp_security="none", email_from=EMAIL_FROM)
    before = counts()

    response = api.post(LIST, {"customer": customer.pk, "name": "Bob", "email": "bob@acme.example",
                               "auto_generate_password": True}, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["auto_generate_password"]
    [message] = errors["auto_generate_password"]
    assert message.startswith(SMTP_DOWN.format(port=closed_port))
    assert "Connection refused" in message
    assert counts() == before


def test_auto_generate_without_email_settings_writes_nothing(api, customer) -> None:
    before = counts()
    response = api.post(LIST, {"customer": customer.pk, "name": "Bob", "email": "bob@acme.example",
                               "auto_generate_password": True}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": EMAIL_NOT_SET_UP, "errors": {"non_field_errors": [EMAIL_NOT_SET_UP]}}
    assert counts() == before


def test_smtp_rejection_writes_nothing(api, customer, smtp_settings, smtp_server: SMTPServer) -> None:
    smtp_server.reject_next(1, "550 5.1.1 <bob@acme.example>: Recipient address rejected")
    before = counts()
    response = api.post(LIST, {"customer": customer.pk, "name": "Bob", "email": "bob@acme.example",
                               "auto_generate_password": True}, format="json")
    assert response.status_code == 400
    [message] = response.json()["errors"]["auto_generate_password"]
    assert "Recipient address rejected" in message
    assert counts() == before


@pytest.mark.parametrize(("password", "messages"), [
    ("password", [TOO_SHORT, TOO_COMMON]),
    ("short1!", [TOO_SHORT]),
    ("1234567890123", [TOO_COMMON, "This password is entirely numeric."]),
])
def test_weak_password_is_refused_naming_password(api, customer, password, messages) -> None:
    before = counts()
    response = api.post(LIST, payload(customer, password=password), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"password": messages}
    assert counts() == before


@pytest.mark.parametrize("notes_field", ["public_notes", "private_notes"])
def test_notes_holding_the_typed_password_are_refused(api, customer, notes_field) -> None:
    before = counts()
    response = api.post(LIST, payload(customer, **{notes_field: f"Portal login: {TYPED} (do not share)"}),
                        format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {notes_field: [NOTES_HOLD_PASSWORD]}
    assert counts() == before


def test_a_new_contact_needs_a_password(api, customer) -> None:
    before = counts()
    data = payload(customer)
    del data["password"]
    response = api.post(LIST, data, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"password": [PASSWORD_NEEDED]}
    response = api.post(LIST, {**data, "password": TYPED, "auto_generate_password": True}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"password": [PASSWORD_OR_GENERATE]}
    assert counts() == before


def test_email_is_unique_across_all_contacts_ignoring_case(api, customer) -> None:
    existing = make_contact(make_customer(), email="alice@acme.example")
    other = make_contact(customer, email="carol@acme.example")
    before = counts()

    response = api.post(LIST, payload(customer, email="ALICE@Acme.Example"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"email": [EMAIL_TAKEN]}

    response = api.patch(detail(other.pk), {"email": "Alice@acme.example"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"email": [EMAIL_TAKEN]}
    assert counts() == before

    # Its own email (in any case) is not a clash.
    response = api.patch(detail(existing.pk), {"email": "ALICE@acme.example", "name": "Alice A."}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["email"] == "alice@acme.example"


@pytest.mark.parametrize(("field", "typed", "stored"), [
    ("mobile", "+44 7911 123456", "+447911123456"),
    ("phone", "+1 (212) 736-5000", "+12127365000"),
    ("phone", "+4930901820", "+4930901820"),
    # Possible for its country though in no range libphonenumber knows as allocated (is_valid_number refused it):
    # numbering plans change faster than the library's copy of them.
    ("mobile", "+1 999 999 9999", "+19999999999"),
    ("mobile", "+882 1234567890", "+8821234567890"),
])
def test_phone_numbers_are_stored_in_e164(api, customer, field, typed, stored) -> None:
    response = api.post(LIST, payload(customer, **{field: typed}), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()[field] == stored
    assert getattr(Contact.objects.get(), field) == stored


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("phone", "12345", "'12345' is not in E.164 form: start with + and the country code, such as +447911123456."),
    ("mobile", "07911 123456",
     "'07911 123456' is not in E.164 form: start with + and the country code, such as +447911123456."),
    ("mobile", "+44 12", "'+4412' is too short for +44 (United Kingdom): 2 digits after +44."),
    ("mobile", "+44 1234", "'+441234' is too short for +44 (United Kingdom): 4 digits after +44 can only be a local "
                           "number, without its area code."),
    ("mobile", "+44 7911 1234567", "'+4479111234567' is too long for +44 (United Kingdom): 11 digits after +44."),
    ("mobile", "+999 123456789",
     "'+999 123456789' does not start with a country calling code after the + (such as +44 or +1)."),
    ("mobile", "+1", "'+1' is not a phone number: write + then the country code and the number, such as "
                     "+447911123456."),
    ("mobile", "+1234567890123456789", "'+1234567890123456789' is too long for a phone number (E.164 allows 15 "
                                       "digits)."),
])
def test_invalid_phone_numbers_are_refused(api, customer, field, typed, message) -> None:
    before = counts()
    response = api.post(LIST, payload(customer, **{field: typed}), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    assert counts() == before


def test_ip_whitelist_validation(api, customer) -> None:
    before = counts()
    response = api.post(LIST, payload(customer, ip_whitelist=["192.0.2.1", "10.0.0.300"]), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"ip_whitelist": ["'10.0.0.300' is not an IP address or network (CIDR)."]}
    response = api.post(LIST, payload(customer, ip_whitelist=["192.0.2.0/33"]), format="json")
    assert response.json()["errors"] == {"ip_whitelist": ["'192.0.2.0/33' is not an IP address or network (CIDR)."]}
    assert counts() == before

    response = api.post(LIST, payload(customer), format="json")  # none given: any IP
    assert response.status_code == 201
    assert response.json()["ip_whitelist"] == []


#
# Update and reset password
#


def test_update_without_password_keeps_it(api, customer) -> None:
    contact = make_contact(customer, name="Before")
    stored_hash = contact.password
    response = api.patch(detail(contact.pk), {"name": "Renamed", "mobile_verified": True}, format="json")
    assert response.status_code == 200, response.json()
    contact.refresh_from_db()
    assert (contact.name, contact.mobile_verified, contact.password) == ("Renamed", True, stored_hash)
    change = contact_changes("update").get(object_id=contact.pk)
    assert (change.prechange_data["name"], change.postchange_data["name"]) == ("Before", "Renamed")


def test_update_with_a_typed_password_changes_it(api, customer) -> None:
    contact = make_contact(customer)
    response = api.patch(detail(contact.pk), {"password": TYPED}, format="json")
    assert response.status_code == 200, response.json()
    contact.refresh_from_db()
    assert contact.check_password(TYPED) and not contact.check_password(CONTACT_PASSWORD)


def test_update_refuses_notes_holding_the_new_password(api, customer) -> None:
    contact = make_contact(customer, private_notes=f"pw {TYPED}")
    before = counts()
    response = api.patch(detail(contact.pk), {"password": TYPED}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"private_notes": [NOTES_HOLD_PASSWORD]}
    contact.refresh_from_db()
    assert contact.check_password(CONTACT_PASSWORD)
    assert counts() == before


def test_reset_password_auto_generates_and_emails(api, operator_user, customer, smtp_settings,
                                                  smtp_server: SMTPServer) -> None:
    contact = make_contact(customer, name="Dana", email="dana@acme.example")

    response = api.post(reset_url(contact.pk), {"auto_generate": True}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["detail"] == "A new password was emailed to dana@acme.example."
    assert response.json()["contact"]["id"] == contact.pk
    assert "password" not in response.json()["contact"]
    [mail] = smtp_server.messages
    assert (mail.sender, mail.recipients, mail.subject) == (EMAIL_FROM, ["dana@acme.example"], PASSWORD_SUBJECT)
    password = emailed_password(mail)
    contact.refresh_from_db()
    assert contact.check_password(password)
    assert not contact.check_password(CONTACT_PASSWORD)
    change = contact_changes("update").get(object_id=contact.pk)
    assert (change.prechange_data["password"], change.postchange_data["password"]) == (MASKED, MASKED_CHANGED)
    assert (change.user_name, change.source) == (operator_user.username, "api")
    assert password not in str(change.postchange_data)


def test_reset_password_typed(api, customer, smtp_settings, smtp_server: SMTPServer) -> None:
    contact = make_contact(customer)
    response = api.post(reset_url(contact.pk), {"password": TYPED}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["detail"] == "The password was changed."
    contact.refresh_from_db()
    assert contact.check_password(TYPED)
    assert not contact.check_password(CONTACT_PASSWORD)
    assert smtp_server.messages == []
    change = contact_changes("update").get(object_id=contact.pk)
    assert (change.prechange_data["password"], change.postchange_data["password"]) == (MASKED, MASKED_CHANGED)


@pytest.mark.parametrize(("data", "errors"), [
    ({}, {"password": [RESET_NEEDS_ONE]}),
    ({"password": "password"}, {"password": [TOO_SHORT, TOO_COMMON]}),
    ({"password": TYPED, "auto_generate": True}, {"password": [PASSWORD_OR_GENERATE]}),
    ({"password": "Kept-In-Notes-2024"}, {"public_notes": [NOTES_HOLD_PASSWORD]}),
])
def test_refused_reset_changes_nothing(api, customer, data, errors) -> None:
    contact = make_contact(customer, public_notes="Kept-In-Notes-2024")
    stored_hash = contact.password
    before = counts()
    response = api.post(reset_url(contact.pk), data, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    contact.refresh_from_db()
    assert contact.password == stored_hash
    assert counts() == before


def test_reset_with_the_smtp_server_down_keeps_the_old_password(api, customer, closed_port) -> None:
    save_settings(smtp_host=HOST, smtp_port=closed_port, smtp_security="none", email_from=EMAIL_FROM)
    contact = make_contact(customer)
    before = counts()
    response = api.post(reset_url(contact.pk), {"auto_generate": True}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["auto_generate_password"][0].startswith(SMTP_DOWN.format(port=closed_port))
    contact.refresh_from_db()
    assert contact.check_password(CONTACT_PASSWORD)
    assert counts() == before


def test_reset_password_of_an_unknown_contact_is_404(api, db) -> None:
    assert api.post(reset_url(999999), {"password": TYPED}, format="json").status_code == 404


#
# Reading: the hash never leaves
#


def test_list_and_detail_never_show_the_password(api_for, viewer_user, customer) -> None:
    contact = make_contact(customer)
    client = api_for(viewer_user)
    listed = client.get(LIST)
    shown = client.get(detail(contact.pk))
    assert listed.status_code == shown.status_code == 200
    assert list(listed.json()["results"][0]) == FIELDS
    assert list(shown.json()) == FIELDS
    for response in (listed, shown):
        assert contact.password not in response.content.decode()
        assert "argon2" not in response.content.decode()


#
# Filters and search
#


def test_filters(api, db) -> None:
    acme, bravo, other = make_customer(name="Acme Telecom"), make_customer(name="Bravo Voice"), make_customer()
    alice = make_contact(acme, name="Alice", email="alice@acme.example", mobile="+447911123456",
                         contact_type="billing", email_verified=True, ip_whitelist=["192.0.2.10"],
                         private_notes="Night shift")
    bob = make_contact(acme, name="Bob", email="bob@acme.example", phone="+442071838750", contact_type="noc",
                       public_notes="Escalations")
    carol = make_contact(bravo, name="Carol", email="carol@bravo.example", mobile_verified=True)
    make_contact(other, name="Dave", email="dave@other.example")

    def ids(**params: Any) -> list[int]:
        response = api.get(LIST, params)
        assert response.status_code == 200, response.json()
        return sorted(row["id"] for row in response.json()["results"])

    assert ids(customer=acme.pk) == sorted([alice.pk, bob.pk])
    assert ids(customer=f"{acme.pk},{bravo.pk}") == sorted([alice.pk, bob.pk, carol.pk])
    assert ids(q="bravo") == [carol.pk]  # the customer's name
    assert ids(q="ALICE@") == [alice.pk]
    assert ids(q="escalations") == [bob.pk]
    assert ids(q="7911123") == [alice.pk]
    assert ids(name="car") == [carol.pk]
    assert ids(email="acme.example") == sorted([alice.pk, bob.pk])
    assert ids(phone="2071838750") == [bob.pk]
    assert ids(mobile="+447911") == [alice.pk]
    assert ids(contact_type="noc") == [bob.pk]
    assert ids(contact_type=["noc", "billing"]) == sorted([alice.pk, bob.pk])
    assert ids(email_verified="true") == [alice.pk]
    assert ids(mobile_verified="true") == [carol.pk]
    assert ids(public_notes="escal") == [bob.pk]
    assert ids(private_notes="night") == [alice.pk]
    assert ids(ip_whitelist="192.0.2.10") == [alice.pk]
    assert ids(id=f"{bob.pk},{carol.pk}") == sorted([bob.pk, carol.pk])
    assert api.get(LIST, {"customer": "abc"}).status_code == 400


#
# Bulk edit, bulk delete, import
#


def test_bulk_edit_cannot_set_passwords(api, customer) -> None:
    first, second = make_contact(customer), make_contact(customer)
    before = counts()
    for field, value in (("password", TYPED), ("auto_generate_password", True)):
        response = api.patch(LIST, [{"id": first.pk, "contact_type": "sales"},
                                    {"id": second.pk, field: value}], format="json")
        assert response.status_code == 400
        assert response.json()["errors"] == {"1": {"password": [NO_BULK_PASSWORDS]}}
    assert counts() == before
    second.refresh_from_db()
    assert second.check_password(CONTACT_PASSWORD)


def test_csv_import_with_typed_passwords(api, customer) -> None:
    csv = (f"customer,name,email,mobile,ip_whitelist,password\n"
           f'{customer.pk},Erin,Erin@acme.example,+44 7400 123456,"192.0.2.1, 198.51.100.0/24",{TYPED}\n'
           f"{customer.pk},Frank,frank@acme.example,,,Another-Strong-Pass-9\n")
    response = api.post(f"{LIST}import/", csv, content_type="text/csv")
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 2
    erin = Contact.objects.get(email="erin@acme.example")
    assert (erin.mobile, erin.ip_whitelist) == ("+447400123456", ["192.0.2.1", "198.51.100.0/24"])
    assert erin.check_password(TYPED)
    assert Contact.objects.get(email="frank@acme.example").check_password("Another-Strong-Pass-9")


def test_csv_import_refuses_weak_passwords_by_row_and_auto_generation(api, customer) -> None:
    before = counts()
    csv = (f"customer,name,email,password\n"
           f"{customer.pk},Erin,erin@acme.example,{TYPED}\n"
           f"{customer.pk},Frank,frank@acme.example,password\n")
    response = api.post(f"{LIST}import/", csv, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"] == {"row 3": {"password": [TOO_SHORT, TOO_COMMON]}}

    csv = f"customer,name,email,auto_generate_password\n{customer.pk},Erin,erin@acme.example,true\n"
    response = api.post(f"{LIST}import/", csv, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"] == {"row 2": {"auto_generate_password": [NO_IMPORTED_EMAILS]}}
    assert counts() == before


#
# Roles
#


def test_viewer_cannot_write(api_for, viewer_user, customer, smtp_settings, smtp_server: SMTPServer) -> None:
    contact = make_contact(customer)
    client = api_for(viewer_user)
    before = counts()
    attempts = [
        client.post(LIST, payload(customer), format="json"),
        client.patch(detail(contact.pk), {"name": "X"}, format="json"),
        client.put(detail(contact.pk), payload(customer), format="json"),
        client.delete(detail(contact.pk)),
        client.patch(LIST, [{"id": contact.pk, "name": "X"}], format="json"),
        client.delete(LIST, [{"id": contact.pk}], format="json"),
        client.post(reset_url(contact.pk), {"auto_generate": True}, format="json"),
        client.post(f"{LIST}import/", f"customer,name,email,password\n{customer.pk},E,e@x.example,{TYPED}\n",
                    content_type="text/csv"),
    ]
    for response in attempts:
        assert response.status_code == 403, response.request
        assert response.json() == {"detail": ROLE_REFUSED, "errors": {}}
    assert counts() == before
    assert smtp_server.messages == []
    contact.refresh_from_db()
    assert contact.check_password(CONTACT_PASSWORD)


def test_admin_can_write(api_for, admin_user, customer) -> None:
    response = api_for(admin_user).post(LIST, payload(customer), format="json")
    assert response.status_code == 201, response.json()


#
# The generated cases (create is covered above: its data carries a write-only password)
#


def _three_contacts() -> list[Contact]:
    acme = make_customer(name="Acme Telecom")
    return [make_contact(acme, name="Alice"), make_contact(acme, name="Bob"), make_contact(make_customer())]


class TestContactAPI(APIViewTestCases.ListObjectsTestCase, APIViewTestCases.UpdateObjectTestCase,
                     APIViewTestCases.DeleteObjectTestCase):
    model = Contact
    create_objects = staticmethod(_three_contacts)
    bulk_update_data = {"contact_type": "technical", "email_verified": True, "ip_whitelist": ["203.0.113.0/24"]}
    invalid_update_data = {"mobile": "12345"}


def test_openapi_schema_documents_the_issue_3_resources(db) -> None:
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/contacts/"]) == {"get", "post", "put", "patch", "delete"}
    assert set(paths["/api/v1/contacts/{id}/reset-password/"]) == {"post"}
    assert set(paths["/api/v1/number-blocks/"]) == {"get", "post", "delete"}
    assert set(paths["/api/v1/number-blocks/{id}/"]) == {"get", "delete"}
    assert set(paths["/api/v1/messages/"]) == {"get", "post"}
    assert set(paths["/api/v1/messages/{id}/"]) == {"get"}
    assert set(paths["/api/v1/message-deliveries/"]) == {"get"}
    assert set(paths["/api/v1/settings/"]) == {"get", "patch"}
    components = schema["components"]["schemas"]
    assert "password" not in components["Contact"]["properties"]
    assert {"password", "auto_generate_password"} <= set(components["ContactRequest"]["properties"])
    assert {"smtp_password", "sms_auth_token"}.isdisjoint(components["Settings"]["properties"])
    assert components["DeliveryStatusEnum"]["enum"] == ["queued", "sending", "sent", "failed"]
