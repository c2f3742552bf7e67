"""The audit log as people read it (issue 9, item 6): Setup > Settings values only for admins, a password reset as
"password changed", and model names as people call them ("Rate card", not ratecard)."""

import json

import pytest
from django.core.management import call_command
from django.test import Client

from tests.routing.helpers import make_card
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.models import User

pytestmark = pytest.mark.django_db

SETTINGS = {"smtp_host": "smtp.carrier.example", "smtp_username": "mailer-login", "smtp_password": "Smtp-Secret-1",
            "sms_account_sid": "AC0123456789", "sms_auth_token": "Sms-Token-2",
            "sms_api_url": "https://apiuser:Url-Secret-3@sms.carrier.example"}
# Every value a non-admin must not read, secrets or not (only admins read the settings at all).
HIDDEN = ("smtp.carrier.example", "mailer-login", "Smtp-Secret-1", "AC0123456789", "Sms-Token-2", "Url-Secret-3")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def settings_changed(api_for, admin_user) -> list[ObjectChange]:
    admin = api_for(admin_user)
    assert admin.patch("/api/v1/settings/", SETTINGS, format="json").status_code == 200
    assert admin.patch("/api/v1/settings/", {"smtp_host": "smtp2.carrier.example", "smtp_password": "Smtp-Secret-4"},
                       format="json").status_code == 200
    return list(ObjectChange.objects.filter(object_type__model="systemsettings").order_by("id"))


@pytest.mark.parametrize("role", ["viewer_user", "operator_user"])
def test_only_admins_read_settings_values_in_the_audit_api(request, api_for, settings_changed, role) -> None:
    reader = api_for(request.getfixturevalue(role))
    listed = reader.get("/api/v1/audit-log/", {"object_type": "systemsettings"})
    one = reader.get(f"/api/v1/audit-log/{settings_changed[1].pk}/")

    assert listed.status_code == one.status_code == 200
    text = json.dumps(listed.json()) + json.dumps(one.json())
    assert not [value for value in (*HIDDEN, "smtp2.carrier.example", "Smtp-Secret-4") if value in text]
    update = one.json()
    assert (update["action"], update["object_type_name"], update["user"]) == ("update", "Settings", "admin")
    # Which fields changed stays readable; what they hold does not.
    changed = {key for key, value in update["postchange_data"].items() if value == "******** (changed)"}
    assert changed == {"smtp_host", "smtp_password"}
    assert set(update["prechange_data"].values()) == {"********"}


def test_admins_read_settings_values_but_never_the_secrets(api_for, admin_user, settings_changed) -> None:
    update = api_for(admin_user).get(f"/api/v1/audit-log/{settings_changed[1].pk}/").json()
    assert (update["prechange_data"]["smtp_host"], update["postchange_data"]["smtp_host"]) == (
        "smtp.carrier.example", "smtp2.carrier.example")
    assert update["postchange_data"]["smtp_username"] == "mailer-login"
    assert (update["prechange_data"]["smtp_password"], update["postchange_data"]["smtp_password"]) == (
        "********", "******** (changed)")
    text = json.dumps(update)
    assert "Smtp-Secret" not in text and "Sms-Token-2" not in text


def test_only_admins_read_settings_values_on_the_audit_pages(viewer_user, admin_user, settings_changed) -> None:
    entry = settings_changed[1]
    viewer = client_for(viewer_user)
    pages = [viewer.get(f"/audit-log/{entry.pk}/"), viewer.get("/audit-log/", {"object_type": "systemsettings"})]
    assert [response.status_code for response in pages] == [200, 200]
    html = "".join(response.content.decode() for response in pages)
    assert not [value for value in (*HIDDEN, "smtp2.carrier.example") if value in html]
    assert "<h1>Updated settings Settings</h1>" in html.replace("\n", "")
    assert "smtp2.carrier.example" in client_for(admin_user).get(f"/audit-log/{entry.pk}/").content.decode()


#
# A password reset
#


def test_an_operators_password_reset_shows_as_password_changed(admin_user, viewer_user) -> None:
    response = client_for(admin_user).post(f"/operators/{viewer_user.pk}/edit/", {
        "username": viewer_user.username, "first_name": "", "last_name": "", "email": viewer_user.email,
        "role": "viewer", "is_active": "on", "password": "Brand-New-Passphrase-7"})
    assert response.status_code == 302, response.content.decode()[:2000]

    entry = ObjectChange.objects.filter(object_type__model="user", object_id=viewer_user.pk).latest("id")
    viewer_user.refresh_from_db()
    assert (entry.action, entry.user_name, entry.changed_summary) == ("update", "admin", "password changed")
    text = json.dumps([entry.prechange_data, entry.postchange_data])
    assert "Brand-New-Passphrase-7" not in text and viewer_user.password not in text
    listed = client_for(admin_user).get("/audit-log/", {"object_type": "user"}).content.decode()
    assert "<td>password changed</td>" in listed.replace("\n", "")


def test_trunkline_changepassword_shows_as_password_changed(monkeypatch, operator_user) -> None:
    monkeypatch.setattr("django.contrib.auth.management.commands.changepassword.getpass.getpass",
                        lambda prompt="": "Command-Set-Passphrase-8")
    with change_context(source="command"):  # as trunkline's manage.py runs every command
        call_command("changepassword", operator_user.username, stdout=None)

    entry = ObjectChange.objects.filter(object_type__model="user", object_id=operator_user.pk).latest("id")
    assert (entry.source, entry.changed_fields, entry.changed_summary) == ("command", ["password"],
                                                                           "password changed")
    assert "Command-Set-Passphrase-8" not in json.dumps(entry.postchange_data)


#
# Type names
#


def _card_change() -> ObjectChange:
    card = make_card(name="Retail")
    with change_context(source="test"):
        card.notes = "Renamed deck"
        card.save()
    return ObjectChange.objects.filter(object_type__model="ratecard").latest("id")


def test_type_names_are_human_in_the_api_keeping_the_code(api) -> None:
    entry = _card_change()
    body = api.get(f"/api/v1/audit-log/{entry.pk}/").json()
    assert (body["object_type"], body["object_type_name"]) == ("ratecard", "Rate card")
    assert api.get("/api/v1/audit-log/", {"object_type": "ratecard"}).json()["count"] == 2


def test_type_names_are_human_on_the_audit_pages(web) -> None:
    entry = _card_change()
    listed = web.get("/audit-log/", {"object_type": "ratecard"}).content.decode()
    detail = web.get(f"/audit-log/{entry.pk}/").content.decode()
    assert listed.count("<td>Rate card</td>") == 2 and "<td>ratecard</td>" not in listed
    assert "Updated rate card" in detail
    assert str(entry) == "Updated rate card Retail"


def test_the_audit_log_grouped_by_type_names_each_group(web) -> None:
    _card_change()
    response = web.get("/audit-log/", {"group_by": "object_type"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<td><a href="?object_type=ratecard">Rate card</a></td>' in html


def test_rate_cards_grouped_by_provider_name_their_groups(web) -> None:
    # A group of a related model's field (provider__name) is labelled with its value; it was a server error.
    card = make_card(kind="provider", name="Carrier deck")
    response = web.get("/routing/rate-cards/", {"group_by": "provider"})
    assert response.status_code == 200
    html = response.content.decode()
    # Not a link: the `provider` filter takes ids, and ?provider=<name> would list nothing but an error.
    assert f"<td>{card.provider.name}</td>" in html and "?provider=" not in html
    # A group whose column has a filter of the same field links to exactly its rows.
    grouped = web.get("/routing/rate-cards/", {"group_by": "currency"}).content.decode()
    assert f'<td><a href="?currency={card.currency}">{card.currency}</a></td>' in grouped
