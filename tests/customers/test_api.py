"""The customers REST API: CRUD, validation, search, filters, ordering, pagination, bulk edit/delete, roles, schema."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import make_customer
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.customers.models import Customer

LIST = "/api/v1/customers/"

FIELDS = [
    "id", "url", "name", "paypal_email", "website", "status", "debit_limit", "minimum_payment", "tax_rate",
    "currency", "portal_access", "address_line1", "address_line2", "city", "region", "postcode", "country",
    "channels", "cps", "tags", "vars", "email_verification", "mobile_verification", "approved_clis_only", "notes",
    "balance", "created", "updated",
]

SCIENTIFIC = "Scientific notation such as {} is not accepted; write the number in full."
NOT_NEGATIVE = "Ensure this value is greater than or equal to 0."
PERCENTAGE = "Must be a percentage between 0 and 100."
ROLE_REFUSED = "Your role does not allow this change."

FULL_PAYLOAD: dict[str, Any] = {
    "name": "Acme Telecom",
    "paypal_email": "billing@acme.example",
    "website": "https://acme.example",
    "status": "pending_approval",
    "debit_limit": "250.5",
    "minimum_payment": "25",
    "tax_rate": "20",
    "currency": "GBP",
    "portal_access": False,
    "address_line1": "1 Bishopsgate",
    "address_line2": "Floor 3",
    "city": "London",
    "region": "Greater London",
    "postcode": "EC1A 1BB",
    "country": "GB",
    "channels": 30,
    "cps": 5,
    "tags": ["vip", "wholesale"],
    "vars": "[cli]\npersist = true\n",
    "email_verification": True,
    "mobile_verification": True,
    "approved_clis_only": True,
    "notes": "Pays late.",
}


def detail_url(pk: int) -> str:
    return f"{LIST}{pk}/"



def counts() -> tuple[int, int]:
    """Customers and audit entries: a refused request must change neither."""
    return Customer.objects.count(), ObjectChange.objects.count()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def names(response) -> list[str]:
    body = response.json()
    results = body["results"] if isinstance(body, dict) else body
    return [row["name"] for row in results]


def post(api: APIClient, **fields: Any):
    return api.post(LIST, {"name": "New Customer", "currency": "USD", **fields}, format="json")


# Create / retrieve / update / delete


def test_create_returns_every_field_with_exact_values(api, operator_user):
    response = api.post(LIST, FULL_PAYLOAD, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == FIELDS
    customer = Customer.objects.get()
    assert body["id"] == customer.pk
    assert body["url"] == f"http://testserver/api/v1/customers/{customer.pk}/"
    expected = {
        **FULL_PAYLOAD,
        "debit_limit": "250.500000",
        "minimum_payment": "25.000000",
        "tax_rate": "20.0000",
        "balance": "0.000000",
        "vars": "[cli]\npersist = true",  # text is trimmed, as the control-panel form trims it
    }
    for name, value in expected.items():
        assert body[name] == value, name
    assert parse_time(body["created"]) == customer.created
    assert parse_time(body["updated"]) == customer.updated
    # What was stored, not just what was echoed.
    assert customer.debit_limit == Decimal("250.5")
    assert customer.tax_rate == Decimal("20")
    assert customer.tags == ["vip", "wholesale"]
    assert customer.vars == "[cli]\npersist = true"  # DRF trims the trailing newline
    assert customer.portal_access is False
    entries = ObjectChange.objects.filter(object_type__model="customer", object_id=customer.pk)
    assert list(entries.values_list("action", flat=True)) == ["create"]


def test_create_with_only_required_fields_gets_defaults(api):
    response = api.post(LIST, {"name": "Minimal", "currency": "EUR"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {name: body[name] for name in FIELDS if name not in ("id", "url", "created", "updated")} == {
        "name": "Minimal", "paypal_email": "", "website": "", "status": "active", "debit_limit": "0.000000",
        "minimum_payment": "0.000000", "tax_rate": "0.0000", "currency": "EUR", "portal_access": True,
        "address_line1": "", "address_line2": "", "city": "", "region": "", "postcode": "", "country": "",
        "channels": 0, "cps": 0, "tags": [], "vars": "", "email_verification": False, "mobile_verification": False,
        "approved_clis_only": False, "notes": "", "balance": "0.000000",
    }


def test_retrieve_matches_the_list_entry(api):
    customer = make_customer(name="Acme", debit_limit=Decimal("12.5"), tags=["vip"])

    detail = api.get(detail_url(customer.pk))
    listing = api.get(LIST)

    assert detail.status_code == 200
    assert listing.status_code == 200
    assert detail.json() == listing.json()["results"][0]
    assert detail.json()["debit_limit"] == "12.500000"
    assert detail.json()["tags"] == ["vip"]


def test_retrieve_unknown_is_404_in_the_error_format(api):
    response = api.get(detail_url(999999))

    assert response.status_code == 404
    assert response.json() == {"detail": "No Customer matches the given query.", "errors": {}}


def test_partial_update_changes_only_the_given_field(api):
    customer = make_customer(name="Acme", status="active", channels=10)
    before = counts()

    response = api.patch(detail_url(customer.pk), {"status": "penalty"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "penalty"
    customer.refresh_from_db()
    assert (customer.status, customer.channels, customer.name) == ("penalty", 10, "Acme")
    assert counts() == (before[0], before[1] + 1)


def test_full_update(api):
    customer = make_customer(name="Acme", currency="GBP")

    response = api.put(detail_url(customer.pk), {**FULL_PAYLOAD, "name": "Acme Renamed", "cps": 9}, format="json")

    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.name == "Acme Renamed"
    assert customer.cps == 9
    assert customer.debit_limit == Decimal("250.5")


def test_delete(api):
    customer = make_customer(name="Acme")
    keep = make_customer(name="Keep")
    before = counts()

    response = api.delete(detail_url(customer.pk))

    assert response.status_code == 204
    assert list(Customer.objects.values_list("pk", flat=True)) == [keep.pk]
    assert counts() == (before[0] - 1, before[1] + 1)
    entries = ObjectChange.objects.filter(object_type__model="customer", object_id=customer.pk)
    assert list(entries.values_list("action", flat=True)) == ["delete", "create"]  # newest first


# Read-only balance and money fields


def test_balance_is_read_only_on_create(api):
    response = post(api, balance="500.00")

    assert response.status_code == 201, response.content
    assert response.json()["balance"] == "0.000000"
    assert Customer.objects.get().balance == Decimal("0")


def test_balance_is_read_only_on_update(api):
    customer = make_customer(name="Acme")

    response = api.patch(detail_url(customer.pk), {"balance": "999", "channels": 4}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["balance"] == "0.000000"
    customer.refresh_from_db()
    assert customer.balance == Decimal("0")
    assert customer.channels == 4


@pytest.mark.parametrize(("sent", "shown"), [
    ("1234.5", "1234.500000"),
    ("0.000001", "0.000001"),
    (0.1, "0.100000"),  # a JSON number goes through its decimal text, never binary floating point
    (100, "100.000000"),
])
def test_money_comes_back_as_a_decimal_string(api, sent, shown):
    response = post(api, debit_limit=sent)

    assert response.status_code == 201, response.content
    assert response.json()["debit_limit"] == shown
    assert Customer.objects.get().debit_limit == Decimal(shown)


def test_money_with_too_many_places_is_refused(api):
    before = counts()

    response = post(api, minimum_payment="1.1234567")

    assert response.status_code == 400
    assert response.json()["errors"] == {"minimum_payment": ["Ensure that there are no more than 6 decimal places."]}
    assert counts() == before


@pytest.mark.parametrize("field", ["debit_limit", "minimum_payment", "tax_rate"])
@pytest.mark.parametrize("value", ["1E+5", "2e3", "1.5E-2"])
def test_scientific_notation_is_refused(api, field, value):
    before = counts()

    response = post(api, **{field: value})

    assert response.status_code == 400
    assert response.json() == {"detail": f"{field}: {SCIENTIFIC.format(value)}", "errors": {field: [
        SCIENTIFIC.format(value)]}}
    assert counts() == before


@pytest.mark.parametrize("field", ["channels", "cps"])
def test_scientific_notation_is_refused_in_integers(api, field):
    response = post(api, **{field: "1E+5"})

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [SCIENTIFIC.format("1E+5")]}


def test_scientific_notation_is_refused_on_update(api):
    customer = make_customer(name="Acme", debit_limit=Decimal("10"))
    before = counts()

    response = api.patch(detail_url(customer.pk), {"debit_limit": "1E+5"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"debit_limit": [SCIENTIFIC.format("1E+5")]}
    customer.refresh_from_db()
    assert customer.debit_limit == Decimal("10")
    assert counts() == before


# Field validation


@pytest.mark.parametrize("status", ["active", "inactive", "pending_approval", "penalty"])
def test_every_status_choice_is_accepted(api, status):
    response = post(api, status=status)

    assert response.status_code == 201, response.content
    assert Customer.objects.get().status == status


def test_an_unknown_status_is_refused(api):
    before = counts()

    response = post(api, status="suspended")

    assert response.status_code == 400
    assert response.json() == {"detail": 'status: "suspended" is not a valid choice.',
                               "errors": {"status": ['"suspended" is not a valid choice.']}}
    assert counts() == before


@pytest.mark.parametrize("field", ["debit_limit", "minimum_payment"])
def test_money_limits_cannot_be_negative(api, field):
    refused = post(api, **{field: "-0.01"})
    accepted = post(api, name="Zero", **{field: "0"})

    assert refused.status_code == 400
    assert refused.json()["errors"] == {field: [NOT_NEGATIVE]}
    assert accepted.status_code == 201, accepted.content
    assert Customer.objects.count() == 1


@pytest.mark.parametrize(("value", "ok"), [
    ("0", True), ("100", True), ("17.5", True), ("-0.0001", False), ("100.0001", False), ("250", False),
])
def test_tax_rate_is_a_percentage(api, value, ok):
    before = counts()

    response = post(api, tax_rate=value)

    if ok:
        assert response.status_code == 201, response.content
        assert Customer.objects.get().tax_rate == Decimal(value)
    else:
        assert response.status_code == 400
        assert response.json()["errors"] == {"tax_rate": [PERCENTAGE]}
        assert counts() == before


def test_currency_is_required(api):
    before = counts()

    response = api.post(LIST, {"name": "No Currency"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "currency: This field is required.",
                               "errors": {"currency": ["This field is required."]}}
    assert counts() == before


@pytest.mark.parametrize("code", ["XYZ", "usd", "US"])
def test_currency_must_be_iso_4217(api, code):
    before = counts()

    response = post(api, currency=code)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "currency": [f"'{code}' is not an ISO 4217 currency code (such as USD, EUR, GBP)."]}
    assert counts() == before


@pytest.mark.parametrize("code", ["USD", "EUR", "GBP", "JPY", "INR"])
def test_iso_4217_currencies_are_accepted(api, code):
    response = post(api, currency=code)

    assert response.status_code == 201, response.content
    assert Customer.objects.get().currency == code


def test_currency_cannot_be_changed_after_creation(api):
    customer = make_customer(name="Acme", currency="USD")
    before = counts()

    response = api.patch(detail_url(customer.pk), {"currency": "EUR", "channels": 7}, format="json")

    assert response.status_code == 400
    message = "The currency cannot be changed after the customer is created (it is USD)."
    assert response.json() == {"detail": f"currency: {message}", "errors": {"currency": [message]}}
    customer.refresh_from_db()
    assert customer.currency == "USD"
    assert customer.channels == 0
    assert counts() == before


def test_currency_cannot_be_changed_by_put(api):
    customer = make_customer(name="Acme Telecom", currency="USD")
    before = counts()

    response = api.put(detail_url(customer.pk), FULL_PAYLOAD, format="json")  # FULL_PAYLOAD has GBP

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "currency": ["The currency cannot be changed after the customer is created (it is USD)."]}
    customer.refresh_from_db()
    assert customer.currency == "USD"
    assert counts() == before


def test_sending_the_same_currency_again_is_fine(api):
    customer = make_customer(name="Acme", currency="USD")

    response = api.patch(detail_url(customer.pk), {"currency": "USD", "cps": 3}, format="json")

    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.currency, customer.cps) == ("USD", 3)


@pytest.mark.parametrize("code", ["XX", "gb", "UK"])
def test_country_must_be_iso_3166_alpha_2(api, code):
    before = counts()

    response = post(api, country=code)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "country": [f"'{code}' is not an ISO 3166-1 alpha-2 country code (such as GB, US, DE)."]}
    assert counts() == before


def test_country_alpha_3_is_refused(api):
    response = post(api, country="GBR")

    assert response.status_code == 400
    assert response.json()["errors"] == {"country": [
        "'GBR' is not an ISO 3166-1 alpha-2 country code (such as GB, US, DE).",
        "Ensure this field has no more than 2 characters.",
    ]}


@pytest.mark.parametrize("code", ["GB", "US", "DE", ""])
def test_valid_or_blank_country_is_accepted(api, code):
    response = post(api, country=code)

    assert response.status_code == 201, response.content
    assert Customer.objects.get().country == code


@pytest.mark.parametrize("field", ["channels", "cps"])
def test_limits_cannot_be_negative(api, field):
    refused = post(api, **{field: -1})
    accepted = post(api, name="Unlimited", **{field: 0})

    assert refused.status_code == 400
    assert refused.json()["errors"] == {field: [NOT_NEGATIVE]}
    assert accepted.status_code == 201
    assert getattr(Customer.objects.get(), field) == 0


def test_limits_must_be_whole_numbers(api):
    response = post(api, channels=1.5)

    assert response.status_code == 400
    assert response.json()["errors"] == {"channels": ["A valid integer is required."]}


def test_invalid_email_and_website_are_refused(api):
    response = post(api, paypal_email="not-an-email", website="not a url")

    assert response.status_code == 400
    assert response.json()["errors"] == {"paypal_email": ["Enter a valid email address."],
                                         "website": ["Enter a valid URL."]}


def test_name_is_unique(api):
    make_customer(name="Acme")
    before = counts()

    response = post(api, name="Acme")

    assert response.status_code == 400
    assert response.json()["errors"] == {"name": ["customer with this customer name already exists."]}
    assert counts() == before


def test_tags_as_a_list(api):
    response = post(api, tags=["vip", " wholesale ", "vip"])

    assert response.status_code == 201, response.content
    assert response.json()["tags"] == ["vip", "wholesale"]
    assert Customer.objects.get().tags == ["vip", "wholesale"]


def test_tags_as_a_comma_separated_string(api):
    response = post(api, tags="vip, wholesale ,, vip")

    assert response.status_code == 201, response.content
    assert Customer.objects.get().tags == ["vip", "wholesale"]


@pytest.mark.parametrize(("tags", "errors"), [
    ([{"a": 1}], {"0": ["Not a valid string."]}),
    (["ok", "x" * 51], {"1": ["Ensure this field has no more than 50 characters."]}),
    (["ok", ""], {"1": ["This field may not be blank."]}),
    (["a,b"], ["Tag 'a,b' must be at most 50 characters and contain no comma."]),
])
def test_invalid_tags_are_refused(api, tags, errors):
    before = counts()

    response = post(api, tags=tags)

    assert response.status_code == 400
    assert response.json()["errors"] == {"tags": errors}
    assert counts() == before


def test_tags_can_be_cleared(api):
    customer = make_customer(name="Acme", tags=["vip"])

    response = api.patch(detail_url(customer.pk), {"tags": []}, format="json")

    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.tags == []


def test_valid_toml_vars_are_stored(api):
    response = post(api, vars='[cli]\npersist = true\n[limits]\nmax = 3')

    assert response.status_code == 201, response.content
    assert Customer.objects.get().vars == '[cli]\npersist = true\n[limits]\nmax = 3'


def test_invalid_toml_vars_name_the_line(api):
    before = counts()

    response = post(api, vars="a = 1\nb = = 2\nc = 3")

    assert response.status_code == 400
    assert response.json() == {"detail": "vars: Invalid TOML: Invalid value (at line 2, column 5)",
                               "errors": {"vars": ["Invalid TOML: Invalid value (at line 2, column 5)"]}}
    assert counts() == before


def test_invalid_toml_on_update_leaves_the_stored_vars(api):
    customer = make_customer(name="Acme", vars="a = 1")
    before = counts()

    response = api.patch(detail_url(customer.pk), {"vars": "ok = true\n[broken\nx = 1"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "vars": ["Invalid TOML: Expected ']' at the end of a table declaration (at line 2, column 8)"]}
    customer.refresh_from_db()
    assert customer.vars == "a = 1"
    assert counts() == before


def test_malformed_json_is_a_400(api):
    before = counts()

    response = api.generic("POST", LIST, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert response.json()["errors"] == {}
    assert counts() == before


# Search, filters, ordering, pagination


@pytest.fixture
def board(setup_context):
    """Four customers that differ in every searchable and filterable field."""
    return {
        "acme": make_customer(
            name="Acme Telecom", paypal_email="pay@acme.example", website="https://acme.example", status="active",
            currency="USD", country="US", city="Dallas", region="TX", postcode="75201",
            address_line1="12 Main Street", address_line2="Suite 400", tags=["vip", "wholesale"],
            debit_limit=Decimal("500"), minimum_payment=Decimal("25"), tax_rate=Decimal("0"), channels=30, cps=5,
            portal_access=True, email_verification=True, mobile_verification=False, approved_clis_only=False,
            vars="[cli]\npersist = true", notes="Good payer",
        ),
        "blue": make_customer(
            name="Blue Ocean Voice", paypal_email="finance@blueocean.example", website="https://blueocean.example",
            status="inactive", currency="GBP", country="GB", city="London", region="Greater London",
            postcode="EC1A 1BB", address_line1="1 Bishopsgate", tags=["retail"], debit_limit=Decimal("0"),
            minimum_payment=Decimal("10"), tax_rate=Decimal("20"), channels=0, cps=0, portal_access=False,
            email_verification=False, mobile_verification=True, approved_clis_only=True, notes="Slow to answer",
        ),
        "north": make_customer(
            name="Northwind Connect", paypal_email="", website="https://northwind.example", status="penalty",
            currency="EUR", country="DE", city="Frankfurt am Main", region="Hessen", postcode="60311",
            address_line1="Zeil 5", tags=["wholesale", "trial"], debit_limit=Decimal("2500"),
            minimum_payment=Decimal("100"), tax_rate=Decimal("19"), channels=120, cps=20,
        ),
        "zen": make_customer(
            name="Zenith Dialer", paypal_email="billing@zenith.example", status="pending_approval", currency="USD",
            country="", tags=[], debit_limit=Decimal("0"), minimum_payment=Decimal("0"), tax_rate=Decimal("0"),
            channels=60, cps=10,
        ),
    }


@pytest.mark.parametrize(("query", "expected"), [
    ("acme", ["Acme Telecom"]),                          # name, case-insensitive
    ("OCEAN", ["Blue Ocean Voice"]),                     # name, upper case
    ("finance@", ["Blue Ocean Voice"]),                  # PayPal email
    ("zenith.example", ["Zenith Dialer"]),               # email only (no website)
    ("northwind.example", ["Northwind Connect"]),        # website
    ("retail", ["Blue Ocean Voice"]),                    # tag
    ("wholesale", ["Acme Telecom", "Northwind Connect"]),  # tag on two customers
    ("main street", ["Acme Telecom"]),                   # address line 1
    ("suite 400", ["Acme Telecom"]),                     # address line 2
    ("frankfurt", ["Northwind Connect"]),                # city
    ("hessen", ["Northwind Connect"]),                   # region
    ("ec1a", ["Blue Ocean Voice"]),                      # postcode
    ("example", ["Acme Telecom", "Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]),
    ("nothing-matches-this", []),
    ("  ", ["Acme Telecom", "Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]),  # blank = no search
])
def test_q_searches_name_emails_website_tags_and_address(api, board, query, expected):
    response = api.get(LIST, {"q": query})

    assert response.status_code == 200
    assert response.json()["count"] == len(expected)
    assert names(response) == expected


def test_q_does_not_search_private_notes(api, board):
    response = api.get(LIST, {"q": "good payer"})

    assert response.json()["count"] == 0


@pytest.mark.parametrize(("params", "expected"), [
    ({"name": "ocean"}, ["Blue Ocean Voice"]),
    ({"paypal_email": "billing@"}, ["Zenith Dialer"]),
    ({"website": "acme"}, ["Acme Telecom"]),
    ({"status": "active"}, ["Acme Telecom"]),
    ({"status": ["inactive", "penalty"]}, ["Blue Ocean Voice", "Northwind Connect"]),
    ({"debit_limit": "500"}, ["Acme Telecom"]),
    ({"debit_limit__gte": "500"}, ["Acme Telecom", "Northwind Connect"]),
    ({"debit_limit__lte": "0"}, ["Blue Ocean Voice", "Zenith Dialer"]),
    ({"minimum_payment": "10"}, ["Blue Ocean Voice"]),
    ({"minimum_payment__gte": "25"}, ["Acme Telecom", "Northwind Connect"]),
    ({"tax_rate": "20"}, ["Blue Ocean Voice"]),
    ({"tax_rate__gte": "19", "tax_rate__lte": "19.5"}, ["Northwind Connect"]),
    ({"currency": "USD"}, ["Acme Telecom", "Zenith Dialer"]),
    ({"currency": ["GBP", "EUR"]}, ["Blue Ocean Voice", "Northwind Connect"]),
    ({"portal_access": "false"}, ["Blue Ocean Voice"]),
    ({"portal_access": "true"}, ["Acme Telecom", "Northwind Connect", "Zenith Dialer"]),
    ({"address_line1": "bishopsgate"}, ["Blue Ocean Voice"]),
    ({"address_line2": "suite"}, ["Acme Telecom"]),
    ({"city": "london"}, ["Blue Ocean Voice"]),
    ({"region": "tx"}, ["Acme Telecom"]),
    ({"postcode": "60311"}, ["Northwind Connect"]),
    ({"country": "GB"}, ["Blue Ocean Voice"]),
    ({"country": ["US", "DE"]}, ["Acme Telecom", "Northwind Connect"]),
    ({"channels": "0"}, ["Blue Ocean Voice"]),
    ({"channels__gte": "60"}, ["Northwind Connect", "Zenith Dialer"]),
    ({"channels__lte": "30"}, ["Acme Telecom", "Blue Ocean Voice"]),
    ({"cps": "10"}, ["Zenith Dialer"]),
    ({"cps__gte": "10", "cps__lte": "20"}, ["Northwind Connect", "Zenith Dialer"]),
    ({"tag": "wholesale"}, ["Acme Telecom", "Northwind Connect"]),
    ({"tag": "VIP"}, ["Acme Telecom"]),
    ({"tag": "whole"}, []),
    ({"vars": "persist"}, ["Acme Telecom"]),
    ({"email_verification": "true"}, ["Acme Telecom"]),
    ({"mobile_verification": "true"}, ["Blue Ocean Voice"]),
    ({"approved_clis_only": "true"}, ["Blue Ocean Voice"]),
    ({"notes": "slow"}, ["Blue Ocean Voice"]),
    ({"balance": "0"}, ["Acme Telecom", "Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]),
    ({"balance__gte": "0.000001"}, []),
    ({"status": "active", "currency": "GBP"}, []),
    ({"q": "example", "status": "penalty"}, ["Northwind Connect"]),
])
def test_api_filters(api, board, params, expected):
    response = api.get(LIST, params)

    assert response.status_code == 200, response.content
    assert response.json()["count"] == len(expected)
    assert names(response) == expected


def test_id_filter_takes_several_ids(api, board):
    ids = f"{board['acme'].pk},{board['zen'].pk}"

    response = api.get(LIST, {"id": ids})

    assert names(response) == ["Acme Telecom", "Zenith Dialer"]


def test_id_filter_with_a_non_number_is_a_400_not_a_500(api, board):
    response = api.get(LIST, {"id": "abc"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["id"]


def test_created_filters(api, board):
    cutoff = board["north"].created

    after = api.get(LIST, {"created__gte": cutoff.isoformat()})
    before = api.get(LIST, {"created__lte": cutoff.isoformat()})

    assert names(after) == ["Northwind Connect", "Zenith Dialer"]
    assert names(before) == ["Acme Telecom", "Blue Ocean Voice", "Northwind Connect"]


def test_an_invalid_filter_value_is_a_400(api, board):
    response = api.get(LIST, {"status": "bogus"})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "status: Select a valid choice. bogus is not one of the available choices.",
        "errors": {"status": ["Select a valid choice. bogus is not one of the available choices."]},
    }


@pytest.mark.parametrize(("ordering", "expected"), [
    ("name", ["Acme Telecom", "Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]),
    ("-name", ["Zenith Dialer", "Northwind Connect", "Blue Ocean Voice", "Acme Telecom"]),
    ("channels", ["Blue Ocean Voice", "Acme Telecom", "Zenith Dialer", "Northwind Connect"]),
    ("-channels", ["Northwind Connect", "Zenith Dialer", "Acme Telecom", "Blue Ocean Voice"]),
    ("-debit_limit,name", ["Northwind Connect", "Acme Telecom", "Blue Ocean Voice", "Zenith Dialer"]),
    ("tax_rate,-name", ["Zenith Dialer", "Acme Telecom", "Northwind Connect", "Blue Ocean Voice"]),
    ("-created", ["Zenith Dialer", "Northwind Connect", "Blue Ocean Voice", "Acme Telecom"]),
    ("currency,name", ["Northwind Connect", "Blue Ocean Voice", "Acme Telecom", "Zenith Dialer"]),
])
def test_ordering(api, board, ordering, expected):
    response = api.get(LIST, {"ordering": ordering})

    assert response.status_code == 200
    assert names(response) == expected


def test_pagination(api, setup_context):
    for number in range(5):
        make_customer(name=f"Page {number}")

    first = api.get(LIST, {"limit": 2})
    last = api.get(LIST, {"limit": 2, "offset": 4})

    assert first.json()["count"] == 5
    assert names(first) == ["Page 0", "Page 1"]
    assert first.json()["next"] == "http://testserver/api/v1/customers/?limit=2&offset=2"
    assert first.json()["previous"] is None
    assert last.json()["count"] == 5
    assert names(last) == ["Page 4"]
    assert last.json()["next"] is None
    assert last.json()["previous"] == "http://testserver/api/v1/customers/?limit=2&offset=2"


def test_default_page_size_is_50(api, setup_context):
    for number in range(51):
        make_customer(name=f"Bulk {number:02d}")

    response = api.get(LIST)

    assert response.json()["count"] == 51
    assert len(response.json()["results"]) == 50
    assert response.json()["next"] == "http://testserver/api/v1/customers/?limit=50&offset=50"


# Bulk edit and bulk delete


def test_bulk_patch_changes_both(api):
    a = make_customer(name="A", status="active", channels=1)
    b = make_customer(name="B", status="active", channels=2)
    before = counts()

    response = api.patch(LIST, [{"id": a.pk, "status": "inactive"}, {"id": b.pk, "channels": 99, "tags": "x, y"}],
                         format="json")

    assert response.status_code == 200, response.content
    assert [(row["id"], row["status"], row["channels"]) for row in response.json()] == [
        (a.pk, "inactive", 1), (b.pk, "active", 99)]
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.channels) == ("inactive", 1)
    assert (b.status, b.channels, b.tags) == ("active", 99, ["x", "y"])
    entries = ObjectChange.objects.filter(action="update").order_by("object_id")
    assert counts() == (before[0], before[1] + 2)
    assert [entry.object_id for entry in entries] == [a.pk, b.pk]
    assert {entry.request_id for entry in entries} == {uuid.UUID(response["X-Request-ID"])}


def test_bulk_put_changes_both(api):
    a = make_customer(name="A", currency="USD")
    b = make_customer(name="B", currency="EUR")

    response = api.put(LIST, [
        {"id": a.pk, "name": "A2", "currency": "USD", "cps": 4},
        {"id": b.pk, "name": "B2", "currency": "EUR", "cps": 5},
    ], format="json")

    assert response.status_code == 200, response.content
    assert list(Customer.objects.order_by("pk").values_list("name", "cps")) == [("A2", 4), ("B2", 5)]


def test_bulk_patch_with_one_invalid_object_changes_neither(api):
    a = make_customer(name="A", status="active")
    b = make_customer(name="B", status="active")
    before = counts()

    response = api.patch(LIST, [{"id": a.pk, "status": "inactive"}, {"id": b.pk, "status": "bogus"}], format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"1 object invalid (first: object 1, id {b.pk}); nothing was changed.",
        "errors": {"1": {"status": ['"bogus" is not a valid choice.']}},
    }
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("active", "active")
    assert counts() == before


def test_bulk_patch_currency_change_is_refused(api):
    a = make_customer(name="A", currency="USD")
    b = make_customer(name="B", currency="USD")
    before = counts()

    response = api.patch(LIST, [{"id": a.pk, "cps": 3}, {"id": b.pk, "currency": "EUR"}], format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "1": {"currency": ["The currency cannot be changed after the customer is created (it is USD)."]}}
    assert list(Customer.objects.order_by("pk").values_list("currency", "cps")) == [("USD", 0), ("USD", 0)]
    assert counts() == before


def test_bulk_patch_with_an_unknown_id_changes_nothing(api):
    a = make_customer(name="A")
    before = counts()

    response = api.patch(LIST, [{"id": a.pk, "cps": 3}, {"id": 999999, "cps": 4}], format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 object invalid (first: object 1, id 999999); nothing was changed.",
        "errors": {"1": {"id": ["No customer with id 999999."]}},
    }
    a.refresh_from_db()
    assert a.cps == 0
    assert counts() == before


def test_bulk_patch_giving_two_customers_the_same_name_is_a_400(api):
    a = make_customer(name="A")
    b = make_customer(name="B")
    before = counts()

    response = api.patch(LIST, [{"id": a.pk, "name": "Same"}, {"id": b.pk, "name": "Same"}], format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"1 object invalid (first: object 1, id {b.pk}); nothing was changed.",
        "errors": {"1": {"name": ["'Same' is also given to object 0."]}},
    }
    assert list(Customer.objects.order_by("pk").values_list("name", flat=True)) == ["A", "B"]
    assert counts() == before


@pytest.mark.parametrize(("body", "errors"), [
    ({"id": 1, "cps": 3}, {"non_field_errors": ["Send a non-empty list of objects, each with an 'id'."]}),
    ([], {"non_field_errors": ["Send a non-empty list of objects, each with an 'id'."]}),
    ([{"cps": 3}], {"0": {"id": ["Each object needs an integer 'id'."]}}),
    ([{"id": "1", "cps": 3}], {"0": {"id": ["Each object needs an integer 'id'."]}}),
    ([{"id": True, "cps": 3}], {"0": {"id": ["Each object needs an integer 'id'."]}}),
])
def test_bulk_patch_needs_a_list_of_objects_with_ids(api, body, errors):
    make_customer(name="A")
    before = counts()

    response = api.patch(LIST, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert counts() == before


def test_bulk_patch_with_a_repeated_id_is_refused(api):
    a = make_customer(name="A")
    before = counts()

    response = api.patch(LIST, [{"id": a.pk, "cps": 1}, {"id": a.pk, "cps": 2}], format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "id: The same id appears more than once.",
                               "errors": {"id": ["The same id appears more than once."]}}
    assert counts() == before


def test_bulk_delete_deletes_both(api):
    a = make_customer(name="A")
    b = make_customer(name="B")
    keep = make_customer(name="Keep")
    before = counts()

    response = api.delete(LIST, [{"id": a.pk}, {"id": b.pk}], format="json")

    assert response.status_code == 204
    assert list(Customer.objects.values_list("pk", flat=True)) == [keep.pk]
    assert counts() == (before[0] - 2, before[1] + 2)
    deleted = ObjectChange.objects.filter(action="delete")
    assert sorted(deleted.values_list("object_id", flat=True)) == [a.pk, b.pk]


def test_bulk_delete_with_an_unknown_id_deletes_nothing(api):
    a = make_customer(name="A")
    b = make_customer(name="B")
    before = counts()

    response = api.delete(LIST, [{"id": a.pk}, {"id": 999999}, {"id": b.pk}], format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 object invalid (first: object 1, id 999999); nothing was changed.",
        "errors": {"1": {"id": ["No customer with id 999999."]}},
    }
    assert Customer.objects.filter(pk__in=[a.pk, b.pk]).count() == 2
    assert counts() == before


# Roles


@pytest.fixture
def viewer_api(api_for, viewer_user) -> APIClient:
    return api_for(viewer_user)


def test_viewer_can_read(viewer_api):
    customer = make_customer(name="Acme")

    assert viewer_api.get(LIST).json()["count"] == 1
    assert viewer_api.get(detail_url(customer.pk)).json()["name"] == "Acme"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "list", {"name": "New", "currency": "USD"}),
    ("patch", "detail", {"cps": 1}),
    ("put", "detail", {"name": "Acme", "currency": "USD"}),
    ("delete", "detail", None),
    ("patch", "list", [{"id": "PK", "cps": 1}]),
    ("put", "list", [{"id": "PK", "name": "Acme", "currency": "USD"}]),
    ("delete", "list", [{"id": "PK"}]),
])
def test_viewer_cannot_write(viewer_api, method, path, body):
    customer = make_customer(name="Acme")
    if isinstance(body, list):
        body = [{**item, "id": customer.pk} for item in body]
    before = counts()

    url = LIST if path == "list" else detail_url(customer.pk)
    response = getattr(viewer_api, method)(url, body, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": ROLE_REFUSED, "errors": {}}
    assert counts() == before
    customer.refresh_from_db()
    assert customer.cps == 0


def test_viewer_cannot_import(viewer_api):
    before = counts()

    response = viewer_api.post(f"{LIST}import/", b"name,currency\nAcme,USD\n", content_type="text/csv")

    assert response.status_code == 403
    assert response.json() == {"detail": ROLE_REFUSED, "errors": {}}
    assert counts() == before


@pytest.mark.parametrize(("method", "url"), [
    ("get", LIST), ("post", LIST), ("get", "/api/v1/audit-log/"), ("post", f"{LIST}import/"),
])
def test_unauthenticated_is_refused(db, method, url):
    before = counts()

    response = getattr(APIClient(), method)(url, {"name": "X", "currency": "USD"}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided.", "errors": {}}
    assert response["WWW-Authenticate"] == "Token"
    assert counts() == before


def test_a_wrong_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get(LIST)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "errors": {}}


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operator_and_admin_can_write(request, api_for, role):
    user = request.getfixturevalue(f"{role}_user")
    client = api_for(user)

    created = client.post(LIST, {"name": f"By {role}", "currency": "USD"}, format="json")
    pk = created.json()["id"]
    updated = client.patch(detail_url(pk), {"cps": 2}, format="json")
    bulk = client.patch(LIST, [{"id": pk, "cps": 3}], format="json")
    deleted = client.delete(detail_url(pk))

    assert [created.status_code, updated.status_code, bulk.status_code, deleted.status_code] == [201, 200, 200, 204]
    changes = ObjectChange.objects.filter(object_type__model="customer").order_by("id")
    assert list(changes.values_list("user_name", "action")) == [
        (role, "create"), (role, "update"), (role, "update"), (role, "delete")]


def test_session_authentication_works_for_the_control_panel(web):
    make_customer(name="Acme")

    response = web.get(LIST)

    assert response.status_code == 200
    assert response.json()["count"] == 1


# Schema and docs


def test_openapi_schema(db):
    client = APIClient()

    response = client.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/customers/" in schema["paths"]
    assert "/api/v1/customers/{id}/" in schema["paths"]
    assert "/api/v1/customers/import/" in schema["paths"]
    assert "/api/v1/audit-log/" in schema["paths"]
    assert set(schema["paths"]["/api/v1/customers/"]) == {"get", "post", "put", "patch", "delete"}


def test_openapi_operation_ids_are_unique(db):
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()

    operation_ids = [operation["operationId"] for item in schema["paths"].values() for operation in item.values()]

    assert len(operation_ids) == len(set(operation_ids))
    assert schema["paths"]["/api/v1/customers/"]["patch"]["operationId"] == "customers_bulk_partial_update"
    assert schema["paths"]["/api/v1/customers/"]["put"]["operationId"] == "customers_bulk_update"
    assert schema["paths"]["/api/v1/customers/"]["delete"]["operationId"] == "customers_bulk_destroy"


def test_openapi_documents_bulk_bodies_as_lists(db):
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()
    path = schema["paths"]["/api/v1/customers/"]

    for method in ("put", "patch", "delete"):
        body = path[method]["requestBody"]["content"]["application/json"]["schema"]
        assert body["type"] == "array", method
    patch_item = path["patch"]["requestBody"]["content"]["application/json"]["schema"]["items"]["$ref"]
    component = schema["components"]["schemas"][patch_item.rsplit("/", 1)[1]]
    assert component["required"] == ["id"]
    assert path["patch"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    # 204 on success; the rest are the error answers every operation documents.
    assert set(path["delete"]["responses"]) == {"204", "400", "401", "403", "415"}
    # The objects are named by id in the body: the list's filters and pagination do not apply.
    for method in ("put", "patch", "delete"):
        assert path[method].get("parameters", []) == [], method
    assert len(path["get"]["parameters"]) == 45


def test_swagger_ui_is_served_without_a_cdn(db):
    response = APIClient().get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr" not in html
    assert "unpkg" not in html
    assert "cdnjs" not in html


def test_writes_with_a_change_context_outside_requests_are_not_counted_as_api(api):
    """The API attributes its writes to the request, not to an enclosing context."""
    with change_context(source="test"):
        response = post(api, name="Inside")

    assert response.status_code == 201
    assert ObjectChange.objects.get(object_type__model="customer").source == "api"


def test_ordering_breaks_ties_by_id(api, setup_context):
    """Limit/offset pages need a total order: ties on the ordered field go by id."""
    created = [make_customer(name=name, status="active") for name in ("Zulu", "Alpha", "Mike", "Bravo")]

    pages = [api.get(LIST, {"ordering": "status", "limit": 1, "offset": offset}) for offset in range(4)]
    descending = api.get(LIST, {"ordering": "-status"})

    assert [names(page)[0] for page in pages] == [customer.name for customer in created]
    assert names(descending) == [customer.name for customer in created]


def test_ordering_adds_the_tie_breaker_to_the_query(api, setup_context):
    make_customer(name="A")

    with CaptureQueriesContext(connection) as queries:
        api.get(LIST, {"ordering": "-status"})

    selects = [query["sql"] for query in queries if "ORDER BY" in query["sql"] and "customers_customer" in query["sql"]]
    assert len(selects) == 1
    assert 'ORDER BY "customers_customer"."status" DESC, "customers_customer"."id" ASC' in selects[0]
