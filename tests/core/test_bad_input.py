"""Bad input answers 400 in the error format, never 500 (issue 8, finding 8): integers past the databases'
64-bit range, UTC offsets PostgreSQL refuses, digits that are not ASCII, OPTIONS on list URLs."""

from datetime import UTC, timedelta

import pytest
from rest_framework.test import APIClient

from tests.factories import make_customer
from tests.routing.helpers import load_rates, make_card, make_provider
from tests.servers import save_settings
from trunkline.core.integers import DB_INT_MAX, ascii_int
from trunkline.customers.models import Customer

TOO_BIG = 2**63  # one past the 64-bit range: SQLite's driver raised OverflowError


@pytest.fixture
def admin_api(api_for, admin_user) -> APIClient:
    return api_for(admin_user)


@pytest.mark.parametrize(("text", "expected"), [
    ("42", 42), ("0", 0), (str(DB_INT_MAX), DB_INT_MAX), (str(TOO_BIG), None), ("²", None), ("³", None),
    ("٣", None), ("-1", None), ("", None), (" 4", None), ("1.0", None),
    ("9" * 5000, None), ("0" * 5000 + "7", 7),  # past int()'s 4,300-digit limit: refused, not a ValueError
])
def test_ascii_int_takes_only_ascii_digits_within_range(text: str, expected: int | None) -> None:
    assert ascii_int(text) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("query", [f"id={TOO_BIG}", f"id=1,{TOO_BIG}", f"id=-{TOO_BIG + 1}"])
def test_ids_past_the_64_bit_range_are_a_400(admin_api, query: str) -> None:
    make_customer()
    response = admin_api.get(f"/api/v1/customers/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == ["id"]
    assert body["detail"].startswith("id: Ensure this value is ")


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "field"), [
    (f"/api/v1/customers/?channels__gte={TOO_BIG}", "channels__gte"),
    (f"/api/v1/contacts/?customer={TOO_BIG}", "customer"),
    (f"/api/v1/number-blocks/?number={TOO_BIG}", "number"),
    (f"/api/v1/audit-log/?object_id={TOO_BIG}", "object_id"),
    (f"/api/v1/rates/?revision={TOO_BIG}", "revision"),
    ("/api/v1/customers/?channels=1.5", "channels"),
    ("/api/v1/customers/?id=²", "id"),
    ("/api/v1/ip-auth/?customer=³", "customer"),
])
def test_integer_filters_refuse_what_the_database_cannot_hold(admin_api, url: str, field: str) -> None:
    response = admin_api.get(url)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


@pytest.mark.django_db
def test_the_largest_64_bit_id_is_a_plain_miss(admin_api) -> None:
    make_customer()
    response = admin_api.get(f"/api/v1/customers/?id={DB_INT_MAX}")
    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.django_db
def test_bulk_edit_of_an_id_past_the_range_is_a_400_and_writes_nothing(admin_api) -> None:
    customer = make_customer(channels=5)
    response = admin_api.patch("/api/v1/customers/", [{"id": customer.pk, "channels": 9},
                                                       {"id": TOO_BIG, "channels": 9}], format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"1": {"id": [f"No customer with id {TOO_BIG}."]}}
    customer.refresh_from_db()
    assert customer.channels == 5


@pytest.mark.django_db
def test_date_filters_take_any_utc_offset_as_the_same_instant(admin_api) -> None:
    # PostgreSQL refuses offsets beyond ±15:59 ("time zone displacement out of range", a 500); Python takes them.
    customer = make_customer()
    before = (customer.created - timedelta(hours=1)).astimezone(UTC)
    after = (customer.created + timedelta(hours=1)).astimezone(UTC)
    as_plus_18 = (before + timedelta(hours=18)).strftime("%Y-%m-%dT%H:%M:%S") + "+18:00"
    as_minus_20 = (after - timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M:%S") + "-20:00"

    found = admin_api.get("/api/v1/customers/", {"created__gte": as_plus_18})
    assert found.status_code == 200
    assert [c["id"] for c in found.json()["results"]] == [customer.pk]
    missed = admin_api.get("/api/v1/customers/", {"created__gte": as_minus_20})
    assert missed.status_code == 200
    assert missed.json()["count"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "field"), [
    ("/api/v1/customers/?created__gte=0001-01-01T00:00:00%2B01:00", "created__gte"),
    ("/api/v1/audit-log/?time__lte=9999-12-31T23:00:00-05:00", "time__lte"),
    ("/api/v1/message-deliveries/?sent_at__gte=0001-01-01T00:30:00%2B00:45", "sent_at__gte"),
])
def test_a_date_outside_years_1_to_9999_in_utc_is_a_400(admin_api, url: str, field: str) -> None:
    response = admin_api.get(url)
    assert response.status_code == 400
    assert response.json()["errors"] == {field: ["Enter a date and time between the years 1 and 9999 in UTC."]}


@pytest.mark.django_db
def test_rate_revision_date_filters_are_bounded_too(admin_api) -> None:
    response = admin_api.get("/api/v1/rate-revisions/?date_live__gte=2026-01-01T00:00:00-23:59")
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["customers", "rate-cards", "ip-auth", "parameter-rewrites", "contacts"])
def test_options_on_a_list_url_describes_the_fields(admin_api, path: str) -> None:
    response = admin_api.options(f"/api/v1/{path}/")
    assert response.status_code == 200
    actions = response.json()["actions"]
    assert set(actions) == {"POST", "PUT"}
    assert actions["POST"] == actions["PUT"]
    assert "id" in actions["POST"]


@pytest.mark.django_db
def test_options_on_a_detail_url_still_works(admin_api) -> None:
    customer = make_customer()
    response = admin_api.options(f"/api/v1/customers/{customer.pk}/")
    assert response.status_code == 200
    assert set(response.json()["actions"]) == {"PUT"}


@pytest.mark.django_db
def test_options_shows_a_viewer_no_write_actions(api_for, viewer_user) -> None:
    response = api_for(viewer_user).options("/api/v1/customers/")
    assert response.status_code == 200
    assert "actions" not in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["³", "²", "٣"])
def test_number_block_search_with_non_ascii_digits_searches_names(admin_api, q: str) -> None:
    save_settings(number_range_start=1000, number_block_size=1000)
    owner, other = make_customer(name=f"Acme {q}"), make_customer(name="Other")
    for customer in (owner, other):
        assert admin_api.post("/api/v1/number-blocks/", {"customer": customer.pk}, format="json").status_code == 201
    response = admin_api.get("/api/v1/number-blocks/", {"q": q})
    assert response.status_code == 200
    assert [block["customer"] for block in response.json()["results"]] == [owner.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("revision", ["²", str(TOO_BIG), "x"])
def test_export_of_a_revision_that_is_not_a_number_is_a_400(admin_api, revision: str) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.01,0,60,60,0,\n")
    response = admin_api.get(f"/api/v1/rate-cards/{card.pk}/export/", {"revision": revision})
    assert response.status_code == 400
    assert response.json()["errors"] == {"revision": [f"The card has no revision {revision}."]}


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["²", str(TOO_BIG)])
def test_generate_tech_prefix_for_a_customer_id_that_is_not_a_number_is_a_400(admin_api, value: str) -> None:
    response = admin_api.post(f"/api/v1/ingress-routes/generate-tech-prefix/?customer={value}")
    assert response.status_code == 400
    assert response.json()["errors"] == {"customer": [f"No customer with id {value!r}."]}


@pytest.mark.django_db
def test_import_row_with_a_superscript_id_is_a_row_error(admin_api) -> None:
    response = admin_api.post("/api/v1/customers/import/", "id,name,currency\n²,Acme,USD\n",
                              content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"] == {"row 2": {"id": ["No customer with id ²."]}}
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_a_rate_card_patch_answers_with_every_documented_field(admin_api) -> None:
    card = make_card()
    response = admin_api.patch(f"/api/v1/rate-cards/{card.pk}/", {"notes": "n"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["active_revision_number"] is None
    assert body["row_count"] is None


def test_schema_documents_the_error_answers(admin_api) -> None:
    schema = admin_api.get("/api/v1/schema/?format=json").json()
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"detail", "errors"}
    listing = schema["paths"]["/api/v1/customers/"]["get"]["responses"]
    assert set(listing) == {"200", "400", "401", "403"}
    assert listing["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert set(schema["paths"]["/api/v1/customers/{id}/"]["delete"]["responses"]) == {"204", "400", "401", "403",
                                                                                      "404"}
    tech_prefix = schema["components"]["schemas"]["IngressRoute"]["properties"]["tech_prefix"]
    assert "oneOf" not in tech_prefix
    assert {"type": "string", "maxLength": 0} in tech_prefix["anyOf"]


@pytest.mark.django_db
def test_an_api_url_no_route_takes_answers_404_in_the_error_format(admin_api) -> None:
    response = admin_api.get("/api/v1/customers/abc.def/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": {}}


@pytest.mark.django_db
def test_a_panel_url_no_route_takes_still_answers_the_html_page(web) -> None:
    response = web.get("/customers/abc.def/x/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_bulk_request_on_rates_naming_no_row_is_a_400(admin_api, method: str) -> None:
    # On PostgreSQL the rows' lock ran outside a transaction: "select_for_update cannot be used outside of a
    # transaction", a 500.
    response = getattr(admin_api, method)("/api/v1/rates/", [{"id": 0}], format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"0": {"id": ["No rate with id 0."]}}


@pytest.mark.django_db
def test_provider_gateways_must_be_a_list_even_an_empty_object_is_refused(admin_api) -> None:
    provider = make_provider()
    response = admin_api.patch(f"/api/v1/providers/{provider.pk}/", {"gateways": {}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"gateways": ["Give a list of gateways, each {host, port, transport}."]}
    provider.refresh_from_db()
    assert provider.gateways == [{"host": "198.51.100.7", "port": 5060, "transport": "udp"}]
