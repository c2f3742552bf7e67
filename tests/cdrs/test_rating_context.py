"""RatingContext: CDRs rated on the card revision live at their start, both sides, tax, profit and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_customer
from tests.routing.helpers import load_rates, make_card
from trunkline.cdrs.rating import FIELDS, VERSIONS, RatingContext, RatingInput, _Versions
from trunkline.core.context import change_context
from trunkline.routing.models import IngressRoute, RateActivation
from trunkline.routing.services.ratecards import rate_card_rollback, rate_card_save, rate_revision_activate
from trunkline.routing.services.routes import ingress_route_save

D = Decimal
DAY = datetime(2026, 12, 1, tzinfo=UTC)
EIGHT, TWO_PM, FOUR_PM = DAY + timedelta(hours=8), DAY + timedelta(hours=14), DAY + timedelta(hours=16)


@pytest.fixture(autouse=True)
def _fresh_versions():
    VERSIONS.clear()  # revision ids repeat across tests (rolled-back transactions)
    yield
    VERSIONS.clear()


@pytest.fixture
def world(db):
    """Retail (customer card, 4 dp up) sells 44 at 0.0100 (revision 1, live 08:00) then 0.0200 (revision 2, live
    14:00); Carrier A's card buys 44 at 0.004 (1/1, 6 dp). Acme pays 20 % tax and has one route, no prefix."""
    buy = make_card(kind="provider", name="Carrier A", billing_precision=6)
    load_rates(buy, "44,UK,0.004,0,1,1,0,active\n", now=DAY)
    sell = make_card(name="Retail", egress_cards=[buy])
    first = load_rates(sell, "44,UK,0.0100,0.0050,30,6,0,active\n", now=EIGHT)
    second = load_rates(sell, "44,UK,0.0200,0.0050,30,6,0,active\n4420,London,0.0300,0,60,60,0,active\n",
                        now=TWO_PM)
    customer = make_customer(name="Acme", tax_rate=D("20"))
    with change_context(source="test"):
        route = ingress_route_save(route=IngressRoute(customer=customer, rate_card=sell))
    return {"buy": buy, "sell": sell, "first": first, "second": second, "customer": customer, "route": route}


def call(world, start: datetime, seconds: float | None, dst: str = "4412345678", provider=True, **fields):
    answer = start + timedelta(seconds=3) if seconds is not None else None
    end = answer + timedelta(seconds=seconds) if answer is not None else start + timedelta(seconds=5)
    data = {"customer_id": world["customer"].pk, "ingress_route_id": None,
            "provider_id": world["buy"].provider_id if provider else None, "dst": dst, "tech_prefix": "",
            "start": start, "answer": answer, "end": end}
    data.update(fields)
    return RatingInput(**data)


def test_a_call_is_rated_on_the_revision_live_at_its_start(world) -> None:
    before, after = RatingContext().rate([call(world, TWO_PM - timedelta(minutes=1), 40),
                                          call(world, TWO_PM + timedelta(minutes=1), 40)])
    assert set(before) == set(FIELDS) and len(FIELDS) == 24
    assert (before["customer_revision_id"], before["customer_rate"], before["customer_billed"]) == (
        world["first"].pk, D("0.0100"), 42)
    assert str(before["customer_charge"]) == "0.0120"  # 0.005 + 0.01 x 42 / 60 = 0.012
    assert (after["customer_revision_id"], after["customer_rate"]) == (world["second"].pk, D("0.0200"))
    assert str(after["customer_charge"]) == "0.0190"  # 0.005 + 0.02 x 42 / 60 = 0.019
    assert before["ingress_route_id"] == after["ingress_route_id"] == world["route"].pk
    assert before["rating_error"] == after["rating_error"] == ""


def test_every_field_of_a_rated_connected_call(world) -> None:
    [row] = RatingContext().rate([call(world, TWO_PM + timedelta(hours=1), 61.4, dst="442071234567")])
    world["buy"].refresh_from_db()
    assert row == {
        "ingress_route_id": world["route"].pk, "duration_ms": 61_400, "duration": 62,
        "customer_card_id": world["sell"].pk, "customer_revision_id": world["second"].pk,
        "customer_dest_code": "4420", "customer_dest_name": "London", "customer_rate": D("0.03"),
        "customer_connect_fee": D("0"), "customer_billed": 120, "customer_charge": D("0.0600"),
        "customer_tax": D("0.012000"), "customer_currency": "USD",
        "provider_card_id": world["buy"].pk, "provider_revision_id": world["buy"].active_revision_id,
        "provider_dest_code": "44", "provider_dest_name": "UK", "provider_rate": D("0.004"),
        "provider_connect_fee": D("0"), "provider_billed": 62, "provider_charge": D("0.004134"),
        "provider_currency": "USD", "profit": D("0.055866"), "rating_error": ""}  # 0.0041333... rounded up


def test_a_roll_back_rates_later_calls_on_the_revision_before(world) -> None:
    with change_context(source="test"):
        rate_card_rollback(card=world["sell"], now=FOUR_PM)
    assert list(RateActivation.objects.filter(card=world["sell"]).values_list("revision__number", "live_from")) == [
        (1, EIGHT), (2, TWO_PM), (1, FOUR_PM)]
    rows = RatingContext().rate([call(world, FOUR_PM - timedelta(seconds=1), 10),
                                 call(world, FOUR_PM + timedelta(seconds=1), 10)])
    assert [row["customer_revision_id"] for row in rows] == [world["second"].pk, world["first"].pk]


def test_an_activation_by_the_service_counts_from_its_time(world) -> None:
    with change_context(source="test"):
        rate_revision_activate(revision=world["first"], now=FOUR_PM)
    [row] = RatingContext().rate([call(world, FOUR_PM + timedelta(minutes=5), 10)])
    assert row["customer_revision_id"] == world["first"].pk


def test_a_call_before_the_first_activation_takes_the_first_revision(world) -> None:
    [row] = RatingContext().rate([call(world, DAY - timedelta(days=30), 10)])
    assert row["customer_revision_id"] == world["first"].pk and row["rating_error"] == ""


def test_no_rate_names_the_number_card_and_revision_and_charges_nothing(world) -> None:
    [row] = RatingContext().rate([call(world, TWO_PM + timedelta(hours=1), 30, dst="33123456")])
    assert row["rating_error"] == ("no rate for 33123456 on card Retail revision 2; no rate for 33123456 on card "
                                   "Carrier A revision 1")
    assert (row["customer_card_id"], row["customer_revision_id"]) == (world["sell"].pk, world["second"].pk)
    assert (row["customer_charge"], row["customer_tax"], row["customer_billed"]) == (D(0), D(0), 0)
    assert (row["customer_rate"], row["customer_dest_code"], row["profit"]) == (None, "", None)
    assert row["customer_currency"] == "USD" and row["duration"] == 30


def test_a_failed_call_costs_nothing_no_fee_and_is_no_error(world) -> None:
    rows = RatingContext().rate([call(world, TWO_PM + timedelta(hours=1), None),
                                 call(world, TWO_PM + timedelta(hours=1), None, dst="33123")])
    assert [(row["customer_charge"], row["customer_billed"], row["duration_ms"], row["rating_error"])
            for row in rows] == [(D(0), 0, 0, ""), (D(0), 0, 0, "")]
    assert rows[0]["customer_dest_code"] == "44" and rows[0]["profit"] == D(0)


def test_a_customer_without_a_route_is_an_error(world) -> None:
    other = make_customer(name="Nobody")
    [row] = RatingContext().rate([call(world, TWO_PM, 30, customer_id=other.pk, tech_prefix="99#")])
    assert row["rating_error"] == f"customer {other.pk} has no enabled ingress route for tech prefix '99#'"
    assert (row["customer_card_id"], row["customer_charge"], row["provider_card_id"]) == (None, D(0), None)
    [row] = RatingContext().rate([call(world, TWO_PM, 30, customer_id=987654)])
    assert row["rating_error"] == "customer 987654 does not exist"


def test_the_route_is_the_given_one_else_by_tech_prefix(world) -> None:
    premium = make_card(name="Premium", egress_cards=[world["buy"]])
    load_rates(premium, "44,UK,0.5000,0,1,1,0,active\n", now=DAY)
    with change_context(source="test"):
        prefixed = ingress_route_save(route=IngressRoute(customer=world["customer"], rate_card=premium,
                                                         tech_prefix="77#"))
    rows = RatingContext().rate([
        call(world, FOUR_PM, 60, tech_prefix="77#"), call(world, FOUR_PM, 60, tech_prefix="55#"),
        call(world, FOUR_PM, 60, ingress_route_id=prefixed.pk)])
    assert [(row["ingress_route_id"], str(row["customer_charge"])) for row in rows] == [
        (prefixed.pk, "0.5000"), (world["route"].pk, "0.0250"), (prefixed.pk, "0.5000")]


def test_the_cards_billing_terms_apply(world) -> None:
    sell = world["sell"]
    sell.billing_precision, sell.rounding_method, sell.duration_rounding = 2, "half_down", "full_down"
    with change_context(source="test"):
        rate_card_save(card=sell)
    [row] = RatingContext().rate([call(world, FOUR_PM, 599.9)])  # 599 s billed, 0.005 + 0.02 x 600 / 60 = 0.205
    assert (row["duration"], row["customer_billed"], str(row["customer_charge"])) == (599, 600, "0.20")


def test_profit_is_empty_when_the_currencies_differ(world) -> None:
    euro = make_card(kind="provider", name="Euro carrier", currency="EUR", provider=world["buy"].provider)
    load_rates(euro, "44,UK,0.001,0,1,1,0,active\n", now=DAY)
    world["sell"].egress_cards.set([euro])  # a link made before the currency check existed
    [row] = RatingContext().rate([call(world, FOUR_PM, 60)])
    assert (row["provider_card_id"], row["provider_currency"], row["provider_charge"]) == (
        euro.pk, "EUR", D("0.0010"))
    assert row["customer_currency"] == "USD" and row["profit"] is None


def test_a_provider_without_a_card_on_the_customer_card(world) -> None:
    stranger = make_card(kind="provider", name="Stranger")
    [row] = RatingContext().rate([call(world, FOUR_PM, 60, provider_id=stranger.provider_id)])
    assert row["rating_error"] == (f"provider {stranger.provider_id} has no card among the egress cards of Retail")
    assert (row["provider_card_id"], row["provider_currency"], row["profit"]) == (None, "", None)
    assert str(row["customer_charge"]) == "0.0250"


def test_tax_is_on_the_customer_charge_to_six_places_half_up(world) -> None:
    customer = world["customer"]
    customer.tax_rate = D("17.5")
    with change_context(source="test"):
        customer.save()
    [row] = RatingContext().rate([call(world, FOUR_PM, 31)])  # 0.005 + 0.02 x 36 / 60 = 0.017
    assert (str(row["customer_charge"]), str(row["customer_tax"])) == ("0.0170", "0.002975")


def test_duration_ms_overrides_answer_to_end(world) -> None:
    [row] = RatingContext().rate([call(world, FOUR_PM, 10, duration_ms=61_000)])
    assert (row["duration_ms"], row["duration"], row["customer_billed"]) == (61_000, 61, 66)


def test_rows_are_loaded_once_per_revision_across_contexts(world) -> None:
    items = [call(world, FOUR_PM, 60), call(world, FOUR_PM, 60, dst="4420")]
    RatingContext().rate(items)
    with CaptureQueriesContext(connection) as queries:
        rows = RatingContext().rate(items * 50)
    assert len(rows) == 100
    assert not [query for query in queries.captured_queries if "routing_rate\"" in query["sql"]
                and "FROM \"routing_rate\"" in query["sql"]]
    # Customers, their routes, egress links, activations, cards: nothing per item.
    assert len(queries.captured_queries) == 5


def test_the_cache_of_revisions_is_bounded_by_rows(world) -> None:
    versions = _Versions(max_rows=2)
    context = RatingContext(versions)
    context.rate([call(world, TWO_PM - timedelta(minutes=1), 10)])  # Retail revision 1 (1 row), Carrier A (1 row)
    assert (len(versions), versions.rows) == (2, 2)
    [row] = RatingContext(versions).rate([call(world, FOUR_PM, 10, provider=False)])  # revision 2: 2 rows
    assert (len(versions), versions.rows) == (1, 2)  # the older ones made room
    assert row["customer_revision_id"] == world["second"].pk
