"""/api/v1/sip-users/: the password kept only as the digest HA1, usernames inside number blocks, the customer's
channel capacity, and the voicemail PIN."""

import json
import threading

import pytest
from django.contrib.auth.hashers import check_password
from django.db import connection

from tests.factories import make_customer
from tests.servers import save_settings
from tests.sipauth.factories import SIP_PASSWORD, make_sip_user
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.models import MASKED, MASKED_CHANGED
from trunkline.customers.models import Customer
from trunkline.customers.services import number_block_assign
from trunkline.sipauth.digest import SIP_REALM
from trunkline.sipauth.models import SipUser
from trunkline.sipauth.services import NO_CHANNEL_CAPACITY, sip_user_save

LIST = "/api/v1/sip-users/"
# md5("1001:trunkline:Lantern-Quartz-77"), computed independently (`echo -n ... | md5sum`).
HA1_1001 = "bb2f06b383ba6716f88bac4523e16164"


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


def counts() -> tuple[int, int]:
    return SipUser.objects.count(), ObjectChange.objects.count()


def all_audit_data() -> str:
    return json.dumps([[c.prechange_data, c.postchange_data] for c in ObjectChange.objects.all()])


def test_password_is_stored_only_as_ha1(api, acme):
    response = api.post(LIST, {"customer": acme.pk, "username": "1001", "password": SIP_PASSWORD}, format="json")

    assert response.status_code == 201, response.json()
    user = SipUser.objects.get()
    assert SIP_REALM == "trunkline"
    assert user.ha1 == HA1_1001
    assert SIP_PASSWORD not in json.dumps([f.value_from_object(user) for f in SipUser._meta.concrete_fields],
                                          default=str)


def test_password_and_ha1_never_appear_in_responses_or_the_audit_log(api, acme):
    created = api.post(LIST, {"customer": acme.pk, "username": "1001", "password": SIP_PASSWORD}, format="json")
    pk = created.json()["id"]
    updated = api.patch(detail(pk), {"password": "Second-Password-88"}, format="json")

    for response in (created, updated, api.get(detail(pk)), api.get(LIST)):
        text = json.dumps(response.json())
        assert "password" not in text
        assert SIP_PASSWORD not in text and "Second-Password-88" not in text
        assert HA1_1001 not in text and "ha1" not in text
    audit = all_audit_data()
    assert SIP_PASSWORD not in audit and "Second-Password-88" not in audit and HA1_1001 not in audit
    change = ObjectChange.objects.filter(object_type__model="sipuser", action="update").get()
    # A new password is a change even though the log shows it masked.
    assert (change.prechange_data["ha1"], change.postchange_data["ha1"]) == (MASKED, MASKED_CHANGED)
    assert SipUser.objects.get().ha1 != HA1_1001


def test_new_user_needs_a_password(api, acme):
    response = api.post(LIST, {"customer": acme.pk, "username": "1001"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"password": ["A new SIP user needs a password."]}
    assert SipUser.objects.count() == 0


def test_short_password_is_refused(api, acme):
    response = api.post(LIST, {"customer": acme.pk, "username": "1001", "password": "short"}, format="json")

    assert response.json()["errors"] == {"password": ["Use at least 8 characters."]}


def test_renaming_needs_a_new_password_because_ha1_holds_the_username(api, acme):
    user = make_sip_user(acme, username="1001")
    before = counts()

    refused = api.patch(detail(user.pk), {"username": "1002"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["errors"] == {"password": [
        "Changing the username needs a new password: the stored digest (HA1) is computed from the username and "
        "the password."]}
    assert counts() == before

    renamed = api.patch(detail(user.pk), {"username": "1001", "password": SIP_PASSWORD, "channels": 2},
                        format="json")
    assert renamed.status_code == 200
    user.refresh_from_db()
    assert user.ha1 == HA1_1001


def test_username_is_unique_across_customers(api, acme):
    make_sip_user(make_customer(), username="1001")

    response = api.post(LIST, {"customer": acme.pk, "username": "1001", "password": SIP_PASSWORD}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"username": [
        "Duplicate User Detected: another SIP user already has this username."]}


def test_username_characters(api, acme):
    response = api.post(LIST, {"customer": acme.pk, "username": "bob smith", "password": SIP_PASSWORD},
                        format="json")

    assert response.json()["errors"] == {"username": ["A SIP username holds letters, digits and . _ + - only."]}


def test_ip_whitelist_is_normalised_and_validated(api, acme):
    ok = api.post(LIST, {"customer": acme.pk, "username": "a1", "password": SIP_PASSWORD,
                         "ip_whitelist": "192.0.2.9/24, 198.51.100.7"}, format="json")
    bad = api.post(LIST, {"customer": acme.pk, "username": "a2", "password": SIP_PASSWORD,
                          "ip_whitelist": ["192.0.2.300"]}, format="json")

    assert ok.json()["ip_whitelist"] == ["192.0.2.0/24", "198.51.100.7"]
    assert bad.json()["errors"] == {"ip_whitelist": ["'192.0.2.300' is not an IP address or network (CIDR)."]}


def test_csv_import_sets_passwords_and_is_all_or_nothing(api, acme):
    good = f"customer,username,password,channels\n{acme.pk},1001,{SIP_PASSWORD},2\n"
    bad = good + f"{acme.pk},1002,short,2\n"

    refused = api.post(f"{LIST}import/", bad, content_type="text/csv")
    imported = api.post(f"{LIST}import/", good, content_type="text/csv")

    assert refused.status_code == 400
    assert refused.json()["errors"] == {"row 3": {"password": ["Use at least 8 characters."]}}
    assert imported.status_code == 200, imported.json()
    assert SipUser.objects.get().ha1 == HA1_1001
    assert SIP_PASSWORD not in all_audit_data()


def test_bulk_edit_cannot_set_passwords(api, acme):
    user = make_sip_user(acme)

    response = api.patch(LIST, [{"id": user.pk, "password": "Bulk-Password-1"}], format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"0": {"password": [
        "SIP passwords are set one user at a time, never in a bulk edit."]}}


#
# Internal number blocks
#


@pytest.fixture
def blocks(acme) -> Customer:
    save_settings(number_range_start=1000, number_block_size=1000)
    with change_context(source="test"):
        number_block_assign(customer=acme)  # 1000-1999
        number_block_assign(customer=make_customer())  # 2000-2999
        number_block_assign(customer=acme)  # 3000-3999
    return acme


@pytest.mark.parametrize("username", ["alice", "2500", "999", "4000"])
def test_username_outside_the_customers_blocks_is_refused_naming_the_ranges(api, blocks, username):
    before = counts()

    response = api.post(LIST, {"customer": blocks.pk, "username": username, "password": SIP_PASSWORD},
                        format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"username": [
        "Acme Telecom holds internal number blocks, so the username must be a number in 1000-1999, 3000-3999."]}
    assert counts() == before


@pytest.mark.parametrize("username", ["1000", "1999", "3456"])
def test_username_inside_a_block_is_accepted(api, blocks, username):
    response = api.post(LIST, {"customer": blocks.pk, "username": username, "password": SIP_PASSWORD},
                        format="json")

    assert response.status_code == 201, response.json()


def test_customer_without_blocks_may_use_any_free_username(api, blocks):
    other = make_customer()

    response = api.post(LIST, {"customer": other.pk, "username": "alice", "password": SIP_PASSWORD}, format="json")

    assert response.status_code == 201


#
# Channel capacity
#


def test_channels_add_up_to_at_most_the_customers_channels(api):
    customer = make_customer(channels=10)
    make_sip_user(customer, channels=6)
    before = counts()

    refused = api.post(LIST, {"customer": customer.pk, "username": "u2", "password": SIP_PASSWORD, "channels": 5},
                       format="json")

    assert refused.status_code == 400
    assert refused.json() == {"detail": "channels: No channel capacity available for your account",
                              "errors": {"channels": [NO_CHANNEL_CAPACITY]}}
    assert NO_CHANNEL_CAPACITY == "No channel capacity available for your account"
    assert counts() == before
    fits = api.post(LIST, {"customer": customer.pk, "username": "u2", "password": SIP_PASSWORD, "channels": 4},
                    format="json")
    assert fits.status_code == 201


def test_raising_a_users_channels_past_capacity_is_refused(api):
    customer = make_customer(channels=10)
    first = make_sip_user(customer, channels=6)
    make_sip_user(customer, channels=4)

    response = api.patch(detail(first.pk), {"channels": 7}, format="json")
    same = api.patch(detail(first.pk), {"channels": 6, "cps": 3}, format="json")

    assert response.json()["errors"] == {"channels": [NO_CHANNEL_CAPACITY]}
    assert same.status_code == 200  # its own channels are not counted twice
    first.refresh_from_db()
    assert first.channels == 6


def test_customer_channels_cannot_drop_below_what_its_sip_users_hold(api):
    customer = make_customer(name="Acme Voice", channels=10)
    make_sip_user(customer, channels=6)
    make_sip_user(customer, channels=3)
    before = counts()

    response = api.patch(f"/api/v1/customers/{customer.pk}/", {"channels": 8}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"channels": [
        "The SIP users of Acme Voice hold 9 channels between them; lower theirs first, or keep at least 9."]}
    assert counts() == before
    customer.refresh_from_db()
    assert customer.channels == 10
    assert api.patch(f"/api/v1/customers/{customer.pk}/", {"channels": 9}, format="json").status_code == 200
    assert api.patch(f"/api/v1/customers/{customer.pk}/", {"channels": 0}, format="json").status_code == 200


def test_bulk_edit_past_capacity_writes_nothing(api):
    customer = make_customer(channels=10)
    users = [make_sip_user(customer, channels=1) for _ in range(2)]
    before = counts()

    response = api.patch(LIST, [{"id": user.pk, "channels": 6} for user in users], format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"channels": [NO_CHANNEL_CAPACITY]}
    assert counts() == before
    assert sorted(SipUser.objects.values_list("channels", flat=True)) == [1, 1]


def test_unlimited_customer_has_no_capacity_limit(api):
    customer = make_customer(channels=0)

    response = api.post(LIST, {"customer": customer.pk, "username": "big", "password": SIP_PASSWORD,
                               "channels": 5000}, format="json")

    assert response.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_cannot_overbook_the_capacity():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time; the row lock matters on PostgreSQL")
    customer = make_customer(channels=10)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(username: str) -> None:
        barrier.wait()
        try:
            with change_context(source="test"):
                sip_user_save(user=SipUser(customer=customer, username=username, channels=6), password=SIP_PASSWORD)
            outcomes.append("saved")
        except Exception as error:  # the loser's ValidationError
            outcomes.append(" ".join(getattr(error, "messages", [str(error)])))
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(name,)) for name in ("t1", "t2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [NO_CHANNEL_CAPACITY, "saved"]
    assert SipUser.objects.count() == 1


#
# Voicemail PIN
#


def test_voicemail_pin_reset_returns_a_numeric_pin_once_and_stores_a_hash(api):
    user = make_sip_user(voicemail_enabled=True, voicemail_email="vm@example.test")

    response = api.post(f"{detail(user.pk)}reset-voicemail-pin/")

    assert response.status_code == 200
    pin = response.json()["pin"]
    assert len(pin) == 6 and pin.isdigit()
    user.refresh_from_db()
    assert check_password(pin, user.voicemail_pin)
    assert pin not in user.voicemail_pin
    read = api.get(detail(user.pk)).json()
    assert read["voicemail_pin_set"] is True
    assert pin not in json.dumps(read)
    change = ObjectChange.objects.filter(object_type__model="sipuser", action="update").get()
    assert change.postchange_data["voicemail_pin"] == MASKED


def test_voicemail_pin_needs_voicemail_enabled(api):
    user = make_sip_user()

    response = api.post(f"{detail(user.pk)}reset-voicemail-pin/")

    assert response.status_code == 400
    assert response.json()["errors"] == {"voicemail_enabled": ["Enable voicemail before setting its PIN."]}


def test_viewer_cannot_reset_the_voicemail_pin(api_for, viewer_user):
    user = make_sip_user(voicemail_enabled=True)
    before = counts()

    response = api_for(viewer_user).post(f"{detail(user.pk)}reset-voicemail-pin/")

    assert response.status_code == 403
    assert counts() == before
    user.refresh_from_db()
    assert user.voicemail_pin == ""


#
# Filters
#


def test_filters_and_search(api, acme):
    a = make_sip_user(acme, username="alice", nat_ping="udp", ip_whitelist=["192.0.2.1"])
    b = make_sip_user(acme, username="bob", voicemail_enabled=True, voicemail_email="bob@example.test")
    c = make_sip_user(make_customer(name="Bolt Voice"), username="carol", channels=20)

    def ids(**params: str) -> list[int]:
        response = api.get(LIST, params)
        assert response.status_code == 200, response.json()
        return sorted(item["id"] for item in response.json()["results"])

    assert ids(customer=str(acme.pk)) == [a.pk, b.pk]
    assert ids(nat_ping="udp") == [a.pk]
    assert ids(voicemail_enabled="true") == [b.pk]
    assert ids(ip_whitelist="192.0.2.1") == [a.pk]
    assert ids(channels__gte="10") == [c.pk]
    assert ids(username="aro") == [c.pk]
    assert ids(q="bolt") == [c.pk]
    assert ids(q="bob@") == [b.pk]
