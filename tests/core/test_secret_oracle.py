"""No secret oracle (issue 8, finding 5): sorting or filtering a list on a write-only secret (an IP-auth password,
a contact's password hash, a SIP user's HA1 or voicemail PIN hash) would recover it, one probe entry at a time.
Ordering is an explicit allow-list per resource that never holds a secret; anything else answers 400."""

from __future__ import annotations

import pytest
from django.test import Client

from config.api import router
from tests.factories import make_contact, make_customer
from tests.sipauth.factories import make_ip_auth, make_sip_user
from trunkline.core.api.filters import secret_fields
from trunkline.core.tables import Table
from trunkline.customers.models import Contact
from trunkline.sipauth.models import IpAuth, SipUser

RESOURCES = {prefix: viewset for prefix, viewset, _ in router.registry}

# Written out, not derived from the models, so a secret the models forget to mark still fails here.
SECRETS = [
    ("contacts", "password"),
    ("ip-auth", "password"),
    ("sip-users", "ha1"),
    ("sip-users", "voicemail_pin"),
]

IP_AUTH_ALLOWED = ("id, customer, ip, direction, channels, cps, manufacturer, version, protocol, port, cli_prefix, "
                   "tech_prefix, strip_digits, bandwidth, username, force_nat, intercept_reinvite, "
                   "cli_authentication, created, updated")
CONTACT_ALLOWED = ("id, customer, name, email, phone, mobile, contact_type, email_verified, mobile_verified, created, "
                   "updated")
SIP_USER_ALLOWED = ("id, customer, username, channels, cps, nat_ping, voicemail_enabled, voicemail_email, created, "
                    "updated")
ALLOWED_TEXT = {"contacts": CONTACT_ALLOWED, "ip-auth": IP_AUTH_ALLOWED, "sip-users": SIP_USER_ALLOWED}


def refusal(term: str, allowed: str) -> dict:
    message = f"Cannot order by {term!r}. Order by {allowed} (a leading '-' for descending)."
    return {"detail": f"ordering: {message}", "errors": {"ordering": [message]}}


def test_the_models_mark_the_secrets_the_test_names():
    assert secret_fields(Contact) == {"password"}
    assert secret_fields(IpAuth) == {"password"}
    assert secret_fields(SipUser) == {"ha1", "voicemail_pin"}


@pytest.mark.parametrize("prefix", sorted(RESOURCES))
def test_every_resource_has_an_explicit_allow_list_without_secrets(prefix):
    viewset = RESOURCES[prefix]
    fields = viewset.ordering_fields
    assert isinstance(fields, tuple) and fields, f"{prefix} has no explicit ordering_fields"
    model = viewset.queryset.model
    assert not set(fields) & secret_fields(model)
    assert not {name for p, name in SECRETS if p == prefix} & set(fields)


@pytest.mark.parametrize(("prefix", "field"), SECRETS)
@pytest.mark.parametrize("descending", [False, True])
def test_ordering_by_a_secret_is_refused(api_for, viewer_user, prefix, field, descending):
    term = f"-{field}" if descending else field

    response = api_for(viewer_user).get(f"/api/v1/{prefix}/", {"ordering": term})

    assert response.status_code == 400
    assert response.json() == refusal(term, ALLOWED_TEXT[prefix])


@pytest.mark.parametrize(("prefix", "term"), [
    ("ip-auth", "customer__contacts__password"),  # a secret one join away
    ("message-deliveries", "contact__password"),
    ("contacts", "name,password"),  # after an allowed field
    ("sip-users", "username,-ha1"),
])
def test_a_secret_reached_through_a_relation_or_a_list_is_refused(api, prefix, term):
    response = api.get(f"/api/v1/{prefix}/", {"ordering": term})

    assert response.status_code == 400
    assert response.json()["errors"]["ordering"][0].startswith(f"Cannot order by {term.split(',')[-1]!r}. Order by ")


def test_a_field_off_the_list_is_refused_not_ignored(api, setup_context):
    make_customer(name="Acme")

    response = api.get("/api/v1/customers/", {"ordering": "notes"})

    assert response.status_code == 400
    assert response.json()["errors"] == {"ordering": [
        "Cannot order by 'notes'. Order by id, name, status, currency, balance, debit_limit, minimum_payment, "
        "tax_rate, channels, cps, country, city, region, postcode, address_line1, paypal_email, website, "
        "portal_access, email_verification, mobile_verification, approved_clis_only, created, updated (a leading "
        "'-' for descending)."]}


@pytest.mark.parametrize("prefix", sorted(RESOURCES))
def test_every_allowed_field_orders_both_ways(api, prefix):
    fields = RESOURCES[prefix].ordering_fields

    ascending = api.get(f"/api/v1/{prefix}/", {"ordering": ",".join(fields)})
    descending = api.get(f"/api/v1/{prefix}/", {"ordering": ",".join(f"-{name}" for name in fields)})

    assert (ascending.status_code, descending.status_code) == (200, 200)


def test_allowed_ordering_still_sorts(api, setup_context):
    customer = make_customer(name="Acme")
    for ip in ("192.0.2.30", "192.0.2.10", "192.0.2.20"):
        make_ip_auth(customer, ip=ip)

    up = api.get("/api/v1/ip-auth/", {"ordering": "ip"}).json()["results"]
    down = api.get("/api/v1/ip-auth/", {"ordering": "-ip"}).json()["results"]

    assert [entry["ip"] for entry in up] == ["192.0.2.10", "192.0.2.20", "192.0.2.30"]
    assert [entry["ip"] for entry in down] == ["192.0.2.30", "192.0.2.20", "192.0.2.10"]


def _probe_position(api, probe_password: str) -> tuple[int, list]:
    """The attack of the finding: write a probe entry with a guessed password, sort by password, see on which
    side of the target the probe lands. Answers the status and where the probe came out."""
    probe = api.post("/api/v1/ip-auth/", {"customer": IpAuth.objects.get().customer_id, "ip": "203.0.113.9",
                                          "password": probe_password}, format="json").json()
    response = api.get("/api/v1/ip-auth/", {"ordering": "password"})
    ids = [entry["id"] for entry in response.json().get("results", [])]
    api.delete(f"/api/v1/ip-auth/{probe['id']}/")
    return response.status_code, ids


def test_the_sorting_oracle_is_gone(api, setup_context):
    make_ip_auth(make_customer(name="Acme"), ip="192.0.2.1", password="m-secret")

    low = _probe_position(api, "a")
    high = _probe_position(api, "z")

    # Before the fix: 200 both times, the probe first with "a" and last with "z" (the target sits between).
    assert low == (400, [])
    assert high == (400, [])


def test_no_filter_or_search_reads_a_secret(api, setup_context):
    """`?password=` is not a filter (an unknown parameter answers 400, so it confirms nothing), and `q` searches
    no secret column: a match would confirm a guess."""
    customer = make_customer(name="Acme")
    make_ip_auth(customer, ip="192.0.2.1", password="Hidden-Value-1")
    make_ip_auth(customer, ip="192.0.2.2", password="Other-Value-2")
    user = make_sip_user(customer)
    make_contact(customer)

    assert set(api.get("/api/v1/ip-auth/", {"password": "Hidden-Value-1"}).json()["errors"]) == {"password"}
    assert api.get("/api/v1/ip-auth/", {"q": "Hidden-Value"}).json()["count"] == 0
    assert set(api.get("/api/v1/sip-users/", {"ha1": user.ha1}).json()["errors"]) == {"ha1"}
    assert api.get("/api/v1/sip-users/", {"q": user.ha1[:8]}).json()["count"] == 0
    assert set(api.get("/api/v1/contacts/", {"password": Contact.objects.get().password}).json()["errors"]) == {
        "password"}
    assert api.get("/api/v1/contacts/", {"q": "argon2"}).json()["count"] == 0


@pytest.mark.parametrize("prefix", sorted(RESOURCES))
def test_no_filterset_touches_a_secret(prefix):
    viewset = RESOURCES[prefix]
    model = viewset.queryset.model
    filterset_class = getattr(viewset, "filterset_class", None)
    secrets = secret_fields(model)
    if filterset_class is None:
        assert viewset.filterset_fields and not set(viewset.filterset_fields) & secrets
        return
    targets = {name.split("__")[0] for name in (f.field_name for f in filterset_class.base_filters.values())}
    assert not targets & secrets
    assert not set(getattr(filterset_class, "search_fields", ())) & secrets


def test_no_board_column_sorts_or_shows_a_secret():
    tables = Table.__subclasses__()
    assert len(tables) >= 5
    for table in tables:
        for column in table.columns:
            for path in (column.order_by, column.accessor or column.name):
                assert not {"password", "ha1", "voicemail_pin", "smtp_password", "sms_auth_token", "key"} \
                    & set(path.split("__") + path.split(".")), (table.__name__, column.name)


def test_the_board_ignores_a_sort_it_does_not_offer(web: Client, setup_context):
    for name in ("Bravo", "Alpha"):
        make_customer(name=name)

    response = web.get("/customers/", {"ordering": "vars"})

    assert response.status_code == 200
    assert [customer.name for customer, _ in response.context["rows"]] == ["Alpha", "Bravo"]


def test_the_schema_lists_the_allowed_orderings(db):
    client = Client()
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()

    parameter = next(p for p in schema["paths"]["/api/v1/ip-auth/"]["get"]["parameters"] if p["name"] == "ordering")

    assert parameter["style"] == "form" and parameter["explode"] is False
    assert parameter["schema"]["type"] == "array"
    enum = parameter["schema"]["items"]["enum"]
    assert enum[:4] == ["id", "-id", "customer", "-customer"]
    assert "ip" in enum and "-ip" in enum and "password" not in enum and "-password" not in enum
    assert parameter["description"].startswith(f"Order by one or more of: {IP_AUTH_ALLOWED};")
    for path, operations in schema["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["name"] == "ordering":
                values = {value.lstrip("-") for value in parameter["schema"]["items"]["enum"]}
                assert not values & {"password", "ha1", "voicemail_pin"}, path
