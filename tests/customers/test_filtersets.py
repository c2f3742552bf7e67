"""CustomerFilterSet: a filter for every field (NetBox's "missing filters" test), each narrowing exactly.

The suite runs on SQLite and PostgreSQL; these tests hold on both (case-insensitive text, JSON tags, decimals).
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.factories import make_customer
from trunkline.customers.filtersets import CustomerFilterSet
from trunkline.customers.models import Customer

# Fields whose filter has another name than the field.
FILTER_NAMES = {"tags": "tag"}


def filter_names(data: dict) -> list[str]:
    filterset = CustomerFilterSet(data, queryset=Customer.objects.all())
    assert filterset.is_valid(), filterset.errors
    return list(filterset.qs.order_by("name").values_list("name", flat=True))


def test_every_concrete_field_has_a_filter():
    filters = set(CustomerFilterSet.get_filters())
    missing = []
    for field in Customer._meta.concrete_fields:
        name = FILTER_NAMES.get(field.name, field.name)
        if not any(f == name or f.startswith(f"{name}__") for f in filters):
            missing.append(field.name)

    assert missing == []


def test_the_filters_are_the_expected_ones():
    """A new field must come with its filter; this list changes with the model, on purpose."""
    assert sorted(CustomerFilterSet.get_filters()) == sorted([
        "q", "id", "created__gte", "created__lte", "updated__gte", "updated__lte",
        "name", "paypal_email", "website", "status", "currency", "country", "address_line1", "address_line2",
        "city", "region", "postcode", "tag", "vars", "notes",
        "debit_limit", "debit_limit__gte", "debit_limit__lte",
        "minimum_payment", "minimum_payment__gte", "minimum_payment__lte",
        "tax_rate", "tax_rate__gte", "tax_rate__lte",
        "balance", "balance__gte", "balance__lte",
        "channels", "channels__gte", "channels__lte",
        "cps", "cps__gte", "cps__lte",
        "portal_access", "email_verification", "mobile_verification", "approved_clis_only",
    ])


@pytest.fixture
def customers(db, setup_context):
    acme = make_customer(
        name="Acme Telecom", paypal_email="Pay@Acme.example", website="https://acme.example", status="active",
        currency="USD", country="US", city="Dallas", region="TX", postcode="75201", address_line1="12 Main Street",
        address_line2="Suite 400", tags=["VIP", "wholesale"], debit_limit=Decimal("500.25"),
        minimum_payment=Decimal("25"), tax_rate=Decimal("0"), channels=30, cps=5, portal_access=True,
        email_verification=True, vars="[cli]\npersist = true", notes="Good payer",
    )
    blue = make_customer(
        name="Blue Ocean Voice", paypal_email="finance@blueocean.example", website="https://blueocean.example",
        status="inactive", currency="GBP", country="GB", city="London", region="Greater London",
        postcode="EC1A 1BB", address_line1="1 Bishopsgate", tags=["retail", "café"], debit_limit=Decimal("0"),
        minimum_payment=Decimal("10.5"), tax_rate=Decimal("20"), channels=0, cps=0, portal_access=False,
        mobile_verification=True, approved_clis_only=True, notes="Slow to answer",
    )
    north = make_customer(
        name="Northwind Connect", website="https://northwind.example", status="penalty", currency="EUR",
        country="DE", city="Frankfurt am Main", region="Hessen", postcode="60311", address_line1="Zeil 5",
        tags=["wholesale-eu", 'say "hi"'], debit_limit=Decimal("2500"), minimum_payment=Decimal("100"),
        tax_rate=Decimal("19.5"), channels=120, cps=20, vars="limit = 5",
    )
    zen = make_customer(
        name="Zenith Dialer", paypal_email="billing@zenith.example", status="pending_approval", currency="USD",
        tags=[], channels=60, cps=10,
    )
    # The balance moves only through the ledger; set it the way the ledger would, below the model.
    Customer.objects.filter(pk=acme.pk).update(balance=Decimal("-12.345678"))
    Customer.objects.filter(pk=north.pk).update(balance=Decimal("1000"))
    return {"acme": acme, "blue": blue, "north": north, "zen": zen}


ALL = ["Acme Telecom", "Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]


@pytest.mark.parametrize(("data", "expected"), [
    ({}, ALL),
    # Text: contains, case-insensitive.
    ({"name": "OCEAN"}, ["Blue Ocean Voice"]),
    ({"name": "n"}, ["Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]),
    ({"paypal_email": "pay@acme"}, ["Acme Telecom"]),
    ({"paypal_email": ".example"}, ["Acme Telecom", "Blue Ocean Voice", "Zenith Dialer"]),
    ({"website": "NORTHWIND"}, ["Northwind Connect"]),
    ({"address_line1": "main st"}, ["Acme Telecom"]),
    ({"address_line2": "400"}, ["Acme Telecom"]),
    ({"city": "frankfurt"}, ["Northwind Connect"]),
    ({"region": "london"}, ["Blue Ocean Voice"]),
    ({"postcode": "ec1a"}, ["Blue Ocean Voice"]),
    ({"vars": "PERSIST"}, ["Acme Telecom"]),
    ({"vars": "="}, ["Acme Telecom", "Northwind Connect"]),
    ({"notes": "payer"}, ["Acme Telecom"]),
    ({"name": "100%"}, []),  # LIKE wildcards are literal
    ({"name": "_"}, []),
    # Choices: exact, several values OR-ed.
    ({"status": ["active"]}, ["Acme Telecom"]),
    ({"status": ["pending_approval", "penalty"]}, ["Northwind Connect", "Zenith Dialer"]),
    ({"currency": ["USD"]}, ["Acme Telecom", "Zenith Dialer"]),
    ({"currency": ["EUR", "GBP"]}, ["Blue Ocean Voice", "Northwind Connect"]),
    ({"country": ["GB"]}, ["Blue Ocean Voice"]),
    ({"country": ["US", "DE"]}, ["Acme Telecom", "Northwind Connect"]),
    # Money and numbers: exact and ranges.
    ({"debit_limit": "500.25"}, ["Acme Telecom"]),
    ({"debit_limit": "500.250000"}, ["Acme Telecom"]),
    ({"debit_limit__gte": "500.25"}, ["Acme Telecom", "Northwind Connect"]),
    ({"debit_limit__gte": "500.250001"}, ["Northwind Connect"]),
    ({"debit_limit__lte": "0"}, ["Blue Ocean Voice", "Zenith Dialer"]),
    ({"minimum_payment": "10.5"}, ["Blue Ocean Voice"]),
    ({"minimum_payment__gte": "25", "minimum_payment__lte": "99.99"}, ["Acme Telecom"]),
    ({"tax_rate": "19.5"}, ["Northwind Connect"]),
    ({"tax_rate__gte": "19.5"}, ["Blue Ocean Voice", "Northwind Connect"]),
    ({"tax_rate__lte": "0"}, ["Acme Telecom", "Zenith Dialer"]),
    ({"balance": "-12.345678"}, ["Acme Telecom"]),
    ({"balance__lte": "-0.000001"}, ["Acme Telecom"]),
    ({"balance__gte": "0"}, ["Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]),
    ({"balance__gte": "1000"}, ["Northwind Connect"]),
    ({"channels": "0"}, ["Blue Ocean Voice"]),
    ({"channels__gte": "60"}, ["Northwind Connect", "Zenith Dialer"]),
    ({"channels__lte": "30"}, ["Acme Telecom", "Blue Ocean Voice"]),
    ({"cps": "5"}, ["Acme Telecom"]),
    ({"cps__gte": "10", "cps__lte": "10"}, ["Zenith Dialer"]),
    # Booleans.
    ({"portal_access": "false"}, ["Blue Ocean Voice"]),
    ({"portal_access": "true"}, ["Acme Telecom", "Northwind Connect", "Zenith Dialer"]),
    ({"email_verification": "true"}, ["Acme Telecom"]),
    ({"email_verification": "false"}, ["Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]),
    ({"mobile_verification": "true"}, ["Blue Ocean Voice"]),
    ({"approved_clis_only": "true"}, ["Blue Ocean Voice"]),
    ({"approved_clis_only": "false"}, ["Acme Telecom", "Northwind Connect", "Zenith Dialer"]),
    # Tags: a whole tag, case-insensitive, never part of one.
    ({"tag": "wholesale"}, ["Acme Telecom"]),
    ({"tag": "vip"}, ["Acme Telecom"]),
    ({"tag": "Wholesale-EU"}, ["Northwind Connect"]),
    ({"tag": "whole"}, []),
    ({"tag": "sale"}, []),
    ({"tag": 'say "hi"'}, ["Northwind Connect"]),
    ({"tag": "café"}, ["Blue Ocean Voice"]),
    ({"tag": "  retail  "}, ["Blue Ocean Voice"]),
    ({"tag": ""}, ALL),
    # Search.
    ({"q": "acme"}, ["Acme Telecom"]),
    ({"q": "finance@"}, ["Blue Ocean Voice"]),
    ({"q": "retail"}, ["Blue Ocean Voice"]),
    ({"q": "café"}, ["Blue Ocean Voice"]),
    ({"q": 'say "hi"'}, ["Northwind Connect"]),  # a quote inside a tag is escaped in the JSON text
    ({"q": "bishopsgate"}, ["Blue Ocean Voice"]),
    ({"q": "de"}, ["Northwind Connect"]),  # country code
    ({"q": "payer"}, []),  # private notes are not searched
    # Combined filters narrow together.
    ({"currency": ["USD"], "status": ["active"]}, ["Acme Telecom"]),
    ({"q": "example", "portal_access": "true", "channels__gte": "60"}, ["Northwind Connect", "Zenith Dialer"]),
])
def test_filters_narrow_exactly(customers, data, expected):
    assert filter_names(data) == expected


def test_id_filter(customers):
    ids = f"{customers['blue'].pk},{customers['zen'].pk}"

    assert filter_names({"id": ids}) == ["Blue Ocean Voice", "Zenith Dialer"]
    assert filter_names({"id": str(customers["acme"].pk)}) == ["Acme Telecom"]


def test_id_filter_refuses_non_numbers(customers):
    filterset = CustomerFilterSet({"id": "1,abc"}, queryset=Customer.objects.all())

    assert not filterset.is_valid()
    assert list(filterset.errors) == ["id"]


def test_created_and_updated_ranges(customers):
    moments = {  # created, updated
        "acme": (datetime(2025, 1, 1, 12, tzinfo=UTC), datetime(2025, 6, 1, 12, tzinfo=UTC)),
        "blue": (datetime(2025, 2, 1, 12, tzinfo=UTC), datetime(2025, 2, 1, 12, tzinfo=UTC)),
        "north": (datetime(2025, 3, 1, 12, tzinfo=UTC), datetime(2025, 5, 1, 12, tzinfo=UTC)),
        "zen": (datetime(2025, 4, 1, 12, tzinfo=UTC), datetime(2025, 4, 1, 12, tzinfo=UTC)),
    }
    for key, (created, updated) in moments.items():
        Customer.objects.filter(pk=customers[key].pk).update(created=created, updated=updated)

    assert filter_names({"created__gte": "2025-02-01T12:00:00Z"}) == [
        "Blue Ocean Voice", "Northwind Connect", "Zenith Dialer"]
    assert filter_names({"created__lte": "2025-02-01T11:59:59Z"}) == ["Acme Telecom"]
    assert filter_names({"created__gte": "2025-01-15T00:00:00Z", "created__lte": "2025-03-15T00:00:00Z"}) == [
        "Blue Ocean Voice", "Northwind Connect"]
    assert filter_names({"updated__gte": "2025-05-01T12:00:00Z"}) == ["Acme Telecom", "Northwind Connect"]
    assert filter_names({"updated__lte": "2025-04-01T12:00:00+00:00"}) == ["Blue Ocean Voice", "Zenith Dialer"]
    # Another zone is the same instant: 14:00 in Paris (UTC+2 in summer) is 12:00 UTC.
    assert filter_names({"updated__gte": "2025-06-01T14:00:00+02:00"}) == ["Acme Telecom"]


@pytest.mark.parametrize(("data", "field"), [
    ({"status": ["bogus"]}, "status"),
    ({"currency": ["XYZ"]}, "currency"),
    ({"country": ["XX"]}, "country"),
    ({"channels": "many"}, "channels"),
    ({"debit_limit__gte": "1E+5x"}, "debit_limit__gte"),
    ({"created__gte": "yesterday"}, "created__gte"),
    ({"portal_access": "maybe"}, None),  # an unknown boolean is "no filter", as in NetBox
])
def test_invalid_filter_values(customers, data, field):
    filterset = CustomerFilterSet(data, queryset=Customer.objects.all())

    if field is None:
        assert filterset.is_valid()
        assert filterset.qs.count() == 4
    else:
        assert not filterset.is_valid()
        assert list(filterset.errors) == [field]
