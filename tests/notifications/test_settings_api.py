"""/api/v1/settings/ (Setup > Settings): admins only, secrets write-only and masked in the audit log, and the
"send test" actions against a real SMTP server and a real HTTP SMS provider."""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.servers import (
    EMAIL_FROM,
    HOST,
    SMS_ACCOUNT_SID,
    SMS_AUTH_TOKEN,
    SMS_FROM,
    SMS_PATH,
    SMSProviderServer,
    SMTPServer,
    save_settings,
)
from trunkline.audit.models import ObjectChange
from trunkline.core.models import MASKED, MASKED_CHANGED, SystemSettings
from trunkline.notifications.services import TEST_BODY, TEST_SUBJECT

URL = "/api/v1/settings/"
TEST_EMAIL = "/api/v1/settings/test-email/"
TEST_SMS = "/api/v1/settings/test-sms/"
FIELDS = ["company_name", "company_address", "email_from", "smtp_host", "smtp_port", "smtp_security",
          "smtp_username", "smtp_password_set", "sms_api_url", "sms_account_sid", "sms_auth_token_set", "sms_from",
          "number_range_start", "number_block_size", "updated"]
SMTP_SECRET = "smtp-Secret-4f9a"
SMS_SECRET = "sms-Token-77c1"
FULL: dict[str, Any] = {
    "company_name": "Acme Carrier Ltd", "company_address": "1 Long Lane\nLondon", "email_from": "noc@acme.example",
    "smtp_host": "smtp.acme.example", "smtp_port": 465, "smtp_security": "tls", "smtp_username": "noc",
    "smtp_password": SMTP_SECRET, "sms_api_url": "https://sms.acme.example", "sms_account_sid": "AC42",
    "sms_auth_token": SMS_SECRET, "sms_from": "+447911123456", "number_range_start": 1000, "number_block_size": 1000,
}
ROLE_REFUSED = "Your role does not allow this change."
READ_REFUSED = "Your role does not allow reading this (admins only)."


def counts() -> tuple[int, int]:
    return SystemSettings.objects.count(), ObjectChange.objects.count()


def settings_changes() -> Any:
    return ObjectChange.objects.filter(object_type__model="systemsettings").order_by("id")


@pytest.fixture
def admin_api(api_for, admin_user) -> APIClient:
    return api_for(admin_user)


#
# Who may
#


@pytest.mark.parametrize("role", ["operator_user", "viewer_user"])
def test_only_admins(request, api_for, role) -> None:
    client = api_for(request.getfixturevalue(role))
    before = counts()
    read = client.get(URL)
    assert (read.status_code, read.json()) == (403, {"detail": READ_REFUSED, "errors": {}})
    for response in (client.patch(URL, {"company_name": "X"}, format="json"),
                     client.post(TEST_EMAIL, {"to": "a@b.example"}, format="json"),
                     client.post(TEST_SMS, {"to": "+447911123456"}, format="json")):
        assert response.status_code == 403
        assert response.json() == {"detail": ROLE_REFUSED, "errors": {}}
    assert counts() == before


def test_anonymous_is_refused(db) -> None:
    assert APIClient().get(URL).status_code in (401, 403)
    assert APIClient().patch(URL, {"company_name": "X"}, format="json").status_code in (401, 403)


#
# Reading and writing
#


def test_get_shows_the_defaults_without_writing(admin_api) -> None:
    before = counts()
    response = admin_api.get(URL)
    assert response.status_code == 200
    assert response.json() == {
        "company_name": "", "company_address": "", "email_from": "", "smtp_host": "", "smtp_port": 587,
        "smtp_security": "starttls", "smtp_username": "", "smtp_password_set": False,
        "sms_api_url": "https://api.twilio.com", "sms_account_sid": "", "sms_auth_token_set": False, "sms_from": "",
        "number_range_start": None, "number_block_size": None, "updated": None,
    }
    assert counts() == before == (0, before[1])


def test_patch_saves_and_secrets_are_write_only(admin_api, admin_user) -> None:
    response = admin_api.patch(URL, FULL, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert list(body) == FIELDS
    expected = {name: value for name, value in FULL.items() if name not in ("smtp_password", "sms_auth_token")}
    assert {name: body[name] for name in expected} == expected
    assert (body["smtp_password_set"], body["sms_auth_token_set"]) == (True, True)
    stored = SystemSettings.load()
    assert (stored.smtp_password, stored.sms_auth_token) == (SMTP_SECRET, SMS_SECRET)
    shown = admin_api.get(URL)
    assert shown.json() == body
    for text in (response.content.decode(), shown.content.decode()):
        assert SMTP_SECRET not in text and SMS_SECRET not in text

    [change] = settings_changes()
    assert (change.action, change.user_name, change.source) == ("create", admin_user.username, "api")
    assert change.postchange_data["smtp_password"] == change.postchange_data["sms_auth_token"] == MASKED
    assert change.postchange_data["smtp_host"] == "smtp.acme.example"
    assert SMTP_SECRET not in json.dumps(change.postchange_data) and SMS_SECRET not in json.dumps(
        change.postchange_data)


def test_changing_only_a_secret_is_logged_masked(admin_api) -> None:
    admin_api.patch(URL, FULL, format="json")
    response = admin_api.patch(URL, {"smtp_password": "another-Secret-1"}, format="json")
    assert response.status_code == 200
    assert response.json()["company_name"] == FULL["company_name"]  # partial: the rest is kept
    assert SystemSettings.load().sms_auth_token == SMS_SECRET
    change = settings_changes().last()
    assert change.action == "update"
    assert (change.prechange_data["smtp_password"], change.postchange_data["smtp_password"]) == (MASKED,
                                                                                                 MASKED_CHANGED)
    assert "another-Secret-1" not in json.dumps(change.prechange_data) + json.dumps(change.postchange_data)


def test_a_secret_can_be_cleared(admin_api) -> None:
    admin_api.patch(URL, FULL, format="json")
    response = admin_api.patch(URL, {"sms_auth_token": ""}, format="json")
    assert (response.json()["sms_auth_token_set"], response.json()["smtp_password_set"]) == (False, True)
    assert SystemSettings.load().sms_auth_token == ""


def test_an_unchanged_patch_is_not_logged(admin_api) -> None:
    admin_api.patch(URL, FULL, format="json")
    before = counts()
    assert admin_api.patch(URL, {"company_name": FULL["company_name"]}, format="json").status_code == 200
    assert counts() == before


@pytest.mark.parametrize(("data", "errors"), [
    ({"smtp_security": "ssl"}, {"smtp_security": ['"ssl" is not a valid choice.']}),
    ({"email_from": "not-an-address"}, {"email_from": ["Enter a valid email address."]}),
    ({"smtp_port": "abc"}, {"smtp_port": ["A valid integer is required."]}),
    ({"smtp_port": 70000}, {"smtp_port": ["Ensure this value is less than or equal to 65535."]}),
    ({"smtp_port": 0}, {"smtp_port": ["Ensure this value is greater than or equal to 1."]}),
    ({"number_block_size": -1}, {"number_block_size": ["Ensure this value is greater than or equal to 0."]}),
    ({"sms_api_url": "not a url"}, {"sms_api_url": ["Enter a valid URL."]}),
    ({"company_name": "x" * 201}, {"company_name": ["Ensure this field has no more than 200 characters."]}),
])
def test_invalid_patch_writes_nothing(admin_api, data, errors) -> None:
    save_settings(company_name="Kept")
    before = counts()
    response = admin_api.patch(URL, {"company_name": "Changed", **data}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert counts() == before
    assert SystemSettings.load().company_name == "Kept"


def test_settings_saved_through_the_api_send_the_test_email(admin_api, smtp_server: SMTPServer) -> None:
    response = admin_api.patch(URL, {"smtp_host": HOST, "smtp_port": smtp_server.port, "smtp_security": "none",
                                     "email_from": EMAIL_FROM}, format="json")
    assert response.status_code == 200, response.json()

    response = admin_api.post(TEST_EMAIL, {"to": "ops@acme.example"}, format="json")

    assert response.status_code == 200, response.json()
    [mail] = smtp_server.messages
    assert response.json() == {"detail": "Test email sent to ops@acme.example.",
                               "reference": mail.message["Message-ID"]}
    assert (mail.sender, mail.recipients, mail.header_from) == (EMAIL_FROM, ["ops@acme.example"], EMAIL_FROM)
    assert mail.subject == TEST_SUBJECT
    assert mail.body == TEST_BODY.format(channel="email") + "\n"


#
# Send test
#


def test_test_email_errors(admin_api, closed_port) -> None:
    response = admin_api.post(TEST_EMAIL, {"to": "ops@acme.example"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": [
        "Email is not set up: enter the SMTP server and the 'email from' address in Setup > Settings."]}

    save_settings(smtp_host=HOST, smtp_port=closed_port, smtp_security="none", email_from=EMAIL_FROM)
    response = admin_api.post(TEST_EMAIL, {"to": "ops@acme.example"}, format="json")
    [message] = response.json()["errors"]["to"]
    assert message.startswith(f"The test email was not sent: SMTP {HOST}:{closed_port}: ")
    assert "Connection refused" in message

    assert admin_api.post(TEST_EMAIL, {"to": "nope"}, format="json").json()["errors"] == {
        "to": ["Enter a valid email address."]}
    assert admin_api.post(TEST_EMAIL, {}, format="json").json()["errors"] == {
        "to": ["Give the address or number to send the test to."]}


def test_test_sms_reaches_the_provider(admin_api, sms_settings, sms_server: SMSProviderServer) -> None:
    response = admin_api.post(TEST_SMS, {"to": "+44 7911 123456"}, format="json")

    assert response.status_code == 200, response.json()
    [request] = sms_server.requests
    assert response.json() == {"detail": "Test SMS sent to +44 7911 123456.", "reference": request.response["sid"]}
    assert (request.method, request.path, request.auth) == ("POST", SMS_PATH, (SMS_ACCOUNT_SID, SMS_AUTH_TOKEN))
    assert request.form == {"To": "+447911123456", "From": SMS_FROM, "Body": TEST_BODY.format(channel="SMS")}


def test_test_sms_errors(admin_api, sms_settings, sms_server: SMSProviderServer) -> None:
    sms_server.fail_next(1, status=400, code=21606, message="The 'From' phone number provided is not a valid, "
                                                            "SMS-capable inbound phone number.")
    response = admin_api.post(TEST_SMS, {"to": "+447911123456"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"to": [
        "The test SMS was not sent: SMS provider answered 400: The 'From' phone number provided is not a valid, "
        "SMS-capable inbound phone number."]}

    response = admin_api.post(TEST_SMS, {"to": "12345"}, format="json")
    assert response.json()["errors"] == {"to": [
        "'12345' is not in E.164 form: start with + and the country code, such as +447911123456."]}
    assert len(sms_server.requests) == 1  # an invalid number never reaches the provider

    save_settings(sms_auth_token="wrong")
    response = admin_api.post(TEST_SMS, {"to": "+447911123456"}, format="json")
    assert response.json()["errors"] == {"to": ["The test SMS was not sent: SMS provider answered 401: Authenticate"]}


def test_test_sms_without_settings(admin_api) -> None:
    response = admin_api.post(TEST_SMS, {"to": "+447911123456"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": [
        "SMS is not set up: enter the SMS API URL, account SID, auth token and sender in Setup > Settings."]}
