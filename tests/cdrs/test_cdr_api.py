"""GET /api/v1/cdrs/ and GET /api/v1/cdrs/{id}/: every filter with exact counts, the ordering allow-list, the error
format of bad values (400, never 500), and roles (viewers read, nobody writes through this resource)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.cdrs.cdr_helpers import cdr, make_cdrs, rated, utc
from tests.factories import make_customer
from tests.routing.helpers import make_provider
from trunkline.cdrs.models import Cdr

pytestmark = pytest.mark.django_db

URL = "/api/v1/cdrs/"


@pytest.fixture
def traffic():
    """Five CDRs of Acme (a call with two legs, a busy attempt, an hour-long call, a 503 imported from CSV) and one
    of Bolt, on 1-3 December 2026."""
    acme, bolt = make_customer(name="Acme Voice"), make_customer(name="Bolt Telecom")
    first, second = make_provider(name="First Telecom"), make_provider(name="Second Telecom")
    rows = make_cdrs(
        cdr(acme, utc("2026-12-01T10:00:00"), duration=65, call_id="acme-1", cli="15551230001", provider=first,
            **rated()),
        cdr(acme, utc("2026-12-01T10:00:00"), duration=65, call_id="acme-1", leg="b", cli="15551230001",
            provider=second, release_reason="Upstream BYE"),
        cdr(acme, utc("2026-12-01T11:00:00"), call_id="acme-2", cli="442079990000", dst="33123456789",
            provider=first),
        cdr(acme, utc("2026-12-02T09:00:00"), duration=3600, call_id="acme-3", cli="15551230002", dst="4930123",
            provider=second, release_reason="Lifetime Timeout", customer_charge=Decimal("4.200000")),
        cdr(acme, utc("2026-12-03T00:00:00"), call_id="acme-4", cli="15551230003", dst="442081112222",
            sip_code=503, sip_reason="Channel Limit Reached", source="csv"),
        cdr(bolt, utc("2026-12-01T12:00:00"), duration=30, call_id="bolt-1", provider=first, **rated()),
    )
    return acme, bolt, first, second, {row.call_id + row.leg: row for row in rows}


def call_ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["call_id"] + row["leg"] for row in response.json()["results"]]


def total(api, query: str) -> int:
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 200, response.json()
    return response.json()["count"]


def test_list_is_newest_first_and_paged(api, traffic) -> None:
    acme, *_ = traffic
    response = api.get(f"{URL}?customer={acme.pk}&limit=2")
    assert call_ids(response) == ["acme-4a", "acme-3a"]
    body = response.json()
    assert body["count"] == 5
    assert body["next"].endswith(f"/api/v1/cdrs/?customer={acme.pk}&limit=2&offset=2")
    assert call_ids(api.get(f"{URL}?customer={acme.pk}&limit=2&offset=2")) == ["acme-2a", "acme-1b"]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["acme-4a", "acme-3a", "bolt-1a", "acme-2a", "acme-1b", "acme-1a"]),
    ("customer={acme}", ["acme-4a", "acme-3a", "acme-2a", "acme-1b", "acme-1a"]),
    ("customer={acme},{bolt}", ["acme-4a", "acme-3a", "bolt-1a", "acme-2a", "acme-1b", "acme-1a"]),
    ("provider={first}", ["bolt-1a", "acme-2a", "acme-1a"]),
    ("provider={first}&customer={acme}", ["acme-2a", "acme-1a"]),
    ("provider={second}", ["acme-3a", "acme-1b"]),
    ("call_id=acme-1", ["acme-1b", "acme-1a"]),
    ("call_id=acme-1&leg=b", ["acme-1b"]),
    ("call_id=acme", []),  # exact, not "contains"
    ("start_after=2026-12-01T11:00:00Z", ["acme-4a", "acme-3a", "bolt-1a", "acme-2a"]),
    ("start_after=2026-12-01T13:00:00%2B02:00", ["acme-4a", "acme-3a", "bolt-1a", "acme-2a"]),
    ("start_before=2026-12-01T11:00:00Z", ["acme-1b", "acme-1a"]),
    ("start_after=2026-12-02T00:00:00Z&start_before=2026-12-03T00:00:00Z", ["acme-3a"]),
    ("connected=true", ["acme-3a", "bolt-1a", "acme-1b", "acme-1a"]),
    ("connected=false", ["acme-4a", "acme-2a"]),
    ("number=4420", ["acme-4a", "bolt-1a", "acme-2a", "acme-1b", "acme-1a"]),
    ("number=442071", ["bolt-1a", "acme-1b", "acme-1a"]),
    ("number=1555123000", ["acme-4a", "acme-3a", "bolt-1a", "acme-1b", "acme-1a"]),
    ("number=2071", []),  # a prefix of the source or the destination, not any part
    ("release_reason=Downstream BYE,Lifetime Timeout", ["acme-3a", "bolt-1a", "acme-1a"]),
    ("release_reason=Downstream BYE&release_reason=Lifetime Timeout", ["acme-3a", "bolt-1a", "acme-1a"]),
    ("release_reason=Upstream BYE", ["acme-1b"]),
    ("sip_code=486,503", ["acme-4a", "acme-2a"]),
    ("sip_code=486&sip_code=503", ["acme-4a", "acme-2a"]),
    ("sip_code=200", ["acme-3a", "bolt-1a", "acme-1b", "acme-1a"]),
    ("source=csv", ["acme-4a"]),
    ("q=acme-3", ["acme-3a"]),
    ("q=london", ["bolt-1a", "acme-1a"]),
    ("customer={acme}&connected=true&number=4420", ["acme-1b", "acme-1a"]),
])
def test_filters(api, traffic, query: str, expected: list[str]) -> None:
    acme, bolt, first, second, _ = traffic
    url = f"{URL}?{query.format(acme=acme.pk, bolt=bolt.pk, first=first.pk, second=second.pk)}"
    response = api.get(url)
    assert call_ids(response) == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(("ordering", "expected"), [
    ("duration", ["acme-2a", "acme-4a", "acme-1a", "acme-1b", "acme-3a"]),
    ("-duration", ["acme-3a", "acme-1a", "acme-1b", "acme-2a", "acme-4a"]),
    ("-customer_charge", ["acme-3a", "acme-1a", "acme-1b", "acme-2a", "acme-4a"]),
    ("sip_code,-start", ["acme-3a", "acme-1a", "acme-1b", "acme-2a", "acme-4a"]),
    ("start", ["acme-1a", "acme-1b", "acme-2a", "acme-3a", "acme-4a"]),
    ("-id", ["acme-4a", "acme-3a", "acme-2a", "acme-1b", "acme-1a"]),
])
def test_ordering_allow_list(api, traffic, ordering: str, expected: list[str]) -> None:
    acme, *_ = traffic
    assert call_ids(api.get(f"{URL}?customer={acme.pk}&ordering={ordering}")) == expected


@pytest.mark.parametrize(("ordering", "refused"), [
    ("cli", "cli"), ("-ledger_total", "-ledger_total"), ("customer__name", "customer__name"),
    ("duration,provider_charge", "provider_charge"),
])
def test_ordering_outside_the_allow_list_is_a_400(api, traffic, ordering: str, refused: str) -> None:
    response = api.get(f"{URL}?ordering={ordering}")
    assert response.status_code == 400
    message = (f"Cannot order by {refused!r}. Order by start, duration, customer_charge, sip_code, id (a leading "
               f"'-' for descending).")
    assert response.json() == {"detail": f"ordering: {message}", "errors": {"ordering": [message]}}


@pytest.mark.parametrize(("query", "field", "message"), [
    ("sip_code=99", "sip_code", "Ensure this value is greater than or equal to 100."),
    ("sip_code=700", "sip_code", "Ensure this value is less than or equal to 699."),
    ("sip_code=abc", "sip_code", "Enter a whole number."),
    ("sip_code=486,x", "sip_code", "Enter a whole number."),
    ("customer=x", "customer", "Enter a whole number."),
    ("provider=99999999999999999999", "provider", "Ensure this value is less than or equal to 9223372036854775807."),
    ("start_after=yesterday", "start_after", "Enter a valid date/time."),
    ("start_before=0001-01-01T00:00:00%2B01:00", "start_before",
     "Enter a date and time between the years 1 and 9999 in UTC."),
    ("source=fax", "source", "Select a valid choice. fax is not one of the available choices."),
    ("number=44%00", "number", "Null characters are not allowed."),
    ("release_reason=a%00b", "release_reason", "Null characters are not allowed."),
    ("custmer=1", "custmer", None),
])
def test_bad_filter_values_are_a_400_naming_the_filter(api, traffic, query: str, field: str,
                                                         message: str | None) -> None:
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field]
    if message is not None:
        assert errors[field] == [message]
    else:
        assert errors[field][0].startswith("Unknown query parameter 'custmer'. This list filters by call_id, "
                                           "connected, customer, id, leg, number, provider, q, release_reason, "
                                           "sip_code, source, start_after, start_before;")


def test_connected_takes_the_usual_boolean_words(api, traffic) -> None:
    assert total(api, "connected=True") == 4
    assert total(api, "connected=False") == 2
    # Not one of true/false: no filter, as every boolean filter of the API (Django's NullBooleanField).
    assert total(api, "connected=maybe") == 6


def test_detail_has_both_sides_and_the_profit(api, traffic) -> None:
    acme, _bolt, first, *_, by_id = traffic
    row = by_id["acme-1a"]
    response = api.get(f"{URL}{row.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("rated_at").endswith("Z")
    assert body.pop("created_at").endswith("Z")
    assert body == {
        "id": row.pk, "call_id": "acme-1", "leg": "a", "source": "api", "node": "", "customer": acme.pk,
        "customer_name": "Acme Voice", "ingress_route": None, "provider": first.pk,
        "provider_name": "First Telecom", "source_ip": "", "sip_user": "", "cli": "15551230001",
        "dst": "442071234567", "tech_prefix": "", "start": "2026-12-01T10:00:00Z",
        "answer": "2026-12-01T10:00:02Z", "end": "2026-12-01T10:01:07Z", "connected": True, "duration_ms": 65000,
        "duration": 65, "pdd_ms": None, "ring_ms": None, "sip_code": 200, "sip_reason": "OK",
        "release_reason": "Downstream BYE", "customer_card_id": 3, "customer_revision_id": 9,
        "customer_dest_code": "4420", "customer_dest_name": "UK London", "customer_rate": "0.070000",
        "customer_connect_fee": "0.000000", "customer_billed": 66, "customer_charge": "0.077000",
        "customer_tax": "0.015400", "customer_currency": "USD", "provider_card_id": 4, "provider_revision_id": 12,
        "provider_dest_code": "44", "provider_dest_name": "UK", "provider_rate": "0.050000",
        "provider_connect_fee": "0.000000", "provider_billed": 66, "provider_charge": "0.055000",
        "provider_currency": "USD", "profit": "0.022000", "rating_error": "", "ledger_total": "0.092400",
    }


def test_detail_of_a_cdr_without_provider(api, traffic) -> None:
    *_, by_id = traffic
    body = api.get(f"{URL}{by_id['acme-4a'].pk}/").json()
    assert (body["provider"], body["provider_name"], body["connected"], body["profit"]) == (None, None, False, None)


@pytest.mark.parametrize("pk", ["0", "99999999999999999999", "9223372036854775807"])
def test_unknown_ids_are_a_404(api, traffic, pk: str) -> None:
    response = api.get(f"{URL}{pk}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Cdr matches the given query.", "errors": {}}


def test_viewer_reads_and_cannot_write(api_for, viewer_user, traffic) -> None:
    *_, by_id = traffic
    viewer = api_for(viewer_user)
    assert viewer.get(URL).json()["count"] == 6
    assert viewer.get(f"{URL}{by_id['acme-1a'].pk}/").status_code == 200
    refused = {"detail": "Your role does not allow this change.", "errors": {}}
    for response in (viewer.post(URL, {"call_id": "x"}, format="json"),
                     viewer.patch(f"{URL}{by_id['acme-1a'].pk}/", {"duration": 1}, format="json"),
                     viewer.delete(f"{URL}{by_id['acme-1a'].pk}/")):
        assert response.status_code == 403
        assert response.json() == refused
    assert Cdr.objects.count() == 6
    assert Cdr.objects.get(pk=by_id["acme-1a"].pk).duration == 65


def test_operators_cannot_write_cdrs_through_this_resource_either(api, traffic) -> None:
    *_, by_id = traffic
    assert api.post(URL, {"call_id": "x"}, format="json").status_code == 405
    assert api.delete(f"{URL}{by_id['acme-1a'].pk}/").status_code == 405
    assert api.put(URL, [], format="json").status_code == 405
    assert Cdr.objects.count() == 6


def test_the_schema_documents_the_filters_and_the_ordering(api) -> None:
    schema = api.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/cdrs/"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert sorted(parameters) == ["call_id", "connected", "customer", "id", "leg", "limit", "number", "offset",
                                  "ordering", "provider", "q", "release_reason", "sip_code", "source",
                                  "start_after", "start_before"]
    assert parameters["ordering"]["schema"]["items"]["enum"] == [
        "start", "-start", "duration", "-duration", "customer_charge", "-customer_charge", "sip_code", "-sip_code",
        "id", "-id"]
    assert parameters["connected"]["schema"] == {"type": "boolean"}
    assert parameters["sip_code"]["schema"]["type"] == "array"
    assert set(schema["paths"]["/api/v1/cdrs/{id}/"]) == {"get", "parameters"} or \
        set(schema["paths"]["/api/v1/cdrs/{id}/"]) == {"get"}
