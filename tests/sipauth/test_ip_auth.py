"""/api/v1/ip-auth/: normalised IPs, validated patterns, the write-only registration password, and the rules for
an IP shared between customers."""

import json
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from tests.factories import make_customer
from tests.routing.helpers import make_card
from tests.sipauth.factories import make_ip_auth, make_route
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.models import MASKED, MASKED_CHANGED
from trunkline.customers.models import Customer
from trunkline.sipauth.models import IpAuth
from trunkline.sipauth.services import ip_auth_save

LIST = "/api/v1/ip-auth/"


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


def counts() -> tuple[int, int]:
    return IpAuth.objects.count(), ObjectChange.objects.count()


@pytest.mark.parametrize(("typed", "stored"), [
    ("192.0.2.7/24", "192.0.2.0/24"),
    (" 192.0.2.7 ", "192.0.2.7"),
    ("192.0.2.7/32", "192.0.2.7"),
    ("2001:DB8:0:0::1/64", "2001:db8::/64"),
])
def test_ip_is_normalised(api, acme, typed, stored):
    response = api.post(LIST, {"customer": acme.pk, "ip": typed}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["ip"] == stored
    assert IpAuth.objects.get().ip == stored


def test_defaults(api, acme):
    body = api.post(LIST, {"customer": acme.pk, "ip": "192.0.2.1"}, format="json").json()

    assert {name: body[name] for name in ("direction", "protocol", "port", "channels", "cps", "codecs", "warnings")} \
        == {"direction": "sends", "protocol": "udp", "port": 5060, "channels": 0, "cps": 0, "codecs": [],
            "warnings": []}


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"ip": "300.1.2.3"}, "ip", "'300.1.2.3' is not an IP address or network (CIDR)."),
    ({"ip": "192.0.2.1", "dial_pattern": "^(44"}, "dial_pattern",
     "missing ) in '^(44'"),
    ({"ip": "192.0.2.1", "tech_prefix": "12a"}, "tech_prefix", "A tech prefix holds digits, # and * only."),
    ({"ip": "192.0.2.1", "cli_prefix": "44x"}, "cli_prefix", "A CLI prefix holds digits, optionally after a +."),
    ({"ip": "192.0.2.1", "protocol": "smpp"}, "protocol", '"smpp" is not a valid choice.'),
    ({"ip": "192.0.2.1", "direction": "both"}, "direction", '"both" is not a valid choice.'),
    ({"ip": "192.0.2.1", "port": 0}, "port", "Ensure this value is greater than or equal to 1."),
])
def test_invalid_fields_are_named_and_nothing_is_written(api, acme, data, field, message):
    before = counts()

    response = api.post(LIST, {"customer": acme.pk, **data}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    assert counts() == before


def test_pcre_named_groups_are_accepted_in_dial_pattern(api, acme):
    response = api.post(LIST, {"customer": acme.pk, "ip": "192.0.2.1", "dial_pattern": "^(?<cc>44)[0-9]{10}$"},
                        format="json")

    assert response.status_code == 201, response.json()


def test_codecs_accept_a_comma_separated_cell(api, acme):
    response = api.post(LIST, {"customer": acme.pk, "ip": "192.0.2.1", "codecs": "PCMA, G729, PCMA"}, format="json")

    assert response.json()["codecs"] == ["PCMA", "G729"]


def test_registration_password_is_stored_never_returned_and_masked_in_the_audit_log(api, acme):
    secret = "Reg1ster-Secret-Value"

    created = api.post(LIST, {"customer": acme.pk, "ip": "192.0.2.1", "username": "trunk", "password": secret},
                       format="json")
    entry = IpAuth.objects.get()
    updated = api.patch(detail(entry.pk), {"password": "An0ther-Secret-Value"}, format="json")
    read = api.get(detail(entry.pk))

    for response in (created, updated, read, api.get(LIST)):
        assert "password" not in json.dumps(response.json())
    # Recoverable: Trunkline must present it when it registers to the customer's switch.
    entry.refresh_from_db()
    assert entry.password == "An0ther-Secret-Value"
    changes = ObjectChange.objects.filter(object_id=entry.pk, object_type__model="ipauth").order_by("id")
    assert [change.action for change in changes] == ["create", "update"]
    assert [change.postchange_data["password"] for change in changes] == [MASKED, MASKED_CHANGED]
    assert secret not in json.dumps([c.prechange_data for c in changes] + [c.postchange_data for c in changes])
    assert "An0ther-Secret-Value" not in json.dumps([c.postchange_data for c in changes])


#
# An IP shared between customers (what tells them apart: test_shared_ip.py)
#


def test_same_customer_and_receiving_entries_may_share_an_ip(api, acme, bolt):
    make_ip_auth(acme, ip="192.0.2.10")
    make_ip_auth(bolt, ip="192.0.2.20", direction="receives")

    same_customer = api.post(LIST, {"customer": acme.pk, "ip": "192.0.2.10", "direction": "receives"},
                             format="json")
    # Only entries that send calls identify a customer; a destination shared by two customers is no ambiguity.
    receiving = api.post(LIST, {"customer": acme.pk, "ip": "192.0.2.20", "direction": "receives"}, format="json")

    assert same_customer.status_code == 201
    assert receiving.status_code == 201
    assert receiving.json()["warnings"] == []


@pytest.mark.django_db(transaction=True)
def test_two_customers_adding_the_same_ip_at_once_cannot_both_succeed():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time; the advisory lock matters on PostgreSQL")
    customers = [make_customer(), make_customer()]
    card = make_card()
    for customer in customers:  # both with a route without a tech prefix: nothing would tell their calls apart
        make_route(customer, card)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(customer: Customer) -> None:
        barrier.wait()
        try:
            with change_context(source="test"):
                ip_auth_save(entry=IpAuth(customer=customer, ip="192.0.2.10"))
            outcomes.append("saved")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(customer,)) for customer in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused", "saved"]
    assert IpAuth.objects.count() == 1


#
# Filters
#


def test_filters_and_search(api, acme, bolt):
    a = make_ip_auth(acme, ip="192.0.2.1", codecs=["PCMA"], tech_prefix="77")
    b = make_ip_auth(acme, ip="192.0.2.2", direction="receives", protocol="tls", manufacturer="Asterisk")
    c = make_ip_auth(bolt, ip="203.0.113.9", cli_authentication=True, channels=40)

    def ids(**params: str) -> list[int]:
        response = api.get(LIST, params)
        assert response.status_code == 200, response.json()
        return sorted(item["id"] for item in response.json()["results"])

    assert ids(customer=str(acme.pk)) == [a.pk, b.pk]
    assert ids(direction="receives") == [b.pk]
    assert ids(protocol="tls") == [b.pk]
    assert ids(codec="pcma") == [a.pk]
    assert ids(tech_prefix="77") == [a.pk]
    assert ids(cli_authentication="true") == [c.pk]
    assert ids(channels__gte="10") == [c.pk]
    assert ids(ip="203.0") == [c.pk]
    assert ids(q="bolt") == [c.pk]
    assert ids(q="asterisk") == [b.pk]
