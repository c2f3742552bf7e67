"""Rating CDRs on card versions: every vector of domain.md §2.2-2.3 through CardVersion (the terms, the exact integer
rater), the timeline of revisions, and agreement with charge() and PrefixIndex on random data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trunkline.contracts.money import DurationRounding, RoundingMethod
from trunkline.contracts.snapshot import ZERO, RateRow, RateStatus
from trunkline.switch.prefix import PrefixIndex
from trunkline.switch.rating import (
    CardTerms,
    CardTimeline,
    CardVersion,
    RatedLeg,
    RatingPlan,
    billed_seconds,
    charge,
    rate_leg,
    rate_legs,
)

D = Decimal


def version(*rows: RateRow, precision: int = 4, rounding: RoundingMethod = RoundingMethod.UP,
            duration: DurationRounding = DurationRounding.FULL_UP, card_id: int = 1) -> CardVersion:
    return CardVersion(card_id, 10 + card_id, CardTerms("USD", precision, rounding, duration), PrefixIndex(rows))


def seconds(value: int) -> int:
    return value * 1000


def test_default_terms_are_four_places_rounded_up_and_full_up_seconds() -> None:
    assert CardTerms("USD") == CardTerms("USD", 4, RoundingMethod.UP, DurationRounding.FULL_UP)


@pytest.mark.parametrize("places", [-1, 7, 10])
def test_billing_precision_is_0_to_6(places: int) -> None:
    with pytest.raises(ValueError, match=f"billing precision must be 0 to 6 decimals, not {places}"):
        CardTerms("USD", places)


def test_terms_refuse_an_unknown_rounding_method() -> None:
    with pytest.raises(ValueError):
        CardTerms("USD", 4, "sideways")  # type: ignore[arg-type]


@pytest.mark.parametrize(("mcd", "pulse", "duration", "billed"), [
    (30, 6, 1, 30), (30, 6, 20, 30), (30, 6, 30, 30), (30, 6, 31, 36), (30, 6, 35, 36), (30, 6, 36, 36),
    (30, 6, 37, 42), (60, 6, 10, 60), (60, 6, 61, 66), (60, 6, 67, 72)])
def test_mcd_pulse_tables_of_domain_2_2(mcd: int, pulse: int, duration: int, billed: int) -> None:
    leg = version(RateRow("44", D("0.015"), mcd=mcd, pulse=pulse)).rate("4420", seconds(duration))
    assert leg is not None and (leg.seconds, leg.billed) == (duration, billed)


@pytest.mark.parametrize(("mcd", "pulse", "billed", "cost"), [
    (6, 6, 12, "0.0030"), (12, 6, 12, "0.0030"), (30, 6, 30, "0.0075"), (60, 6, 60, "0.0150")])
def test_seven_second_call_at_0_015_per_minute(mcd: int, pulse: int, billed: int, cost: str) -> None:
    leg = version(RateRow("44", D("0.015"), mcd=mcd, pulse=pulse)).rate("447700900123", seconds(7))
    assert leg is not None and leg.billed == billed
    assert str(leg.charge) == cost  # str() pins the value and the card's 4 places


@pytest.mark.parametrize(("duration_ms", "full_down", "full_up", "half_up", "half_down"), [
    (60_100, 60, 61, 60, 60), (60_500, 60, 61, 61, 60), (60_600, 60, 61, 61, 61), (60_000, 60, 60, 60, 60),
    (0, 0, 0, 0, 0), (1, 0, 1, 0, 0), (499, 0, 1, 0, 0), (500, 0, 1, 1, 0), (501, 0, 1, 1, 1)])
def test_duration_rounding_of_domain_2_3(duration_ms: int, full_down: int, full_up: int, half_up: int,
                                         half_down: int) -> None:
    methods = (DurationRounding.FULL_DOWN, DurationRounding.FULL_UP, DurationRounding.HALF_UP,
               DurationRounding.HALF_DOWN)
    legs = [version(RateRow("1", D("0.06")), duration=method).rate("1", duration_ms) for method in methods]
    assert [leg.seconds for leg in legs if leg is not None] == [full_down, full_up, half_up, half_down]
    assert [CardTerms("USD", duration_rounding=method).seconds(duration_ms) for method in methods] == [
        full_down, full_up, half_up, half_down]


@pytest.mark.parametrize(("method", "cost"), [
    (RoundingMethod.UP, "0.1235"), (RoundingMethod.DOWN, "0.1234"),
    (RoundingMethod.HALF_UP, "0.1235"), (RoundingMethod.HALF_DOWN, "0.1234")])
def test_cost_rounding_of_0_12345_by_the_four_methods(method: RoundingMethod, cost: str) -> None:
    # 0.12345/min for 60 s is exactly 0.12345; the card rounds it at 4 places.
    leg = version(RateRow("1", D("0.12345"), mcd=60, pulse=60), rounding=method).rate("1", seconds(60))
    assert leg is not None and str(leg.charge) == cost


@pytest.mark.parametrize(("method", "exact", "cost"), [
    (RoundingMethod.UP, "0.12341", "0.1235"), (RoundingMethod.DOWN, "0.12349", "0.1234"),
    (RoundingMethod.HALF_UP, "0.12344", "0.1234"), (RoundingMethod.HALF_DOWN, "0.12346", "0.1235"),
    (RoundingMethod.HALF_DOWN, "0.12345", "0.1234"), (RoundingMethod.HALF_UP, "0.12345", "0.1235")])
def test_rounding_methods_either_side_of_the_half(method: RoundingMethod, exact: str, cost: str) -> None:
    leg = version(RateRow("1", D(exact), mcd=60, pulse=60), rounding=method).rate("1", seconds(60))
    assert leg is not None and str(leg.charge) == cost


# domain.md §2.3 does not give the rate behind its 9 s precision example (2 dp 0.01, 3 dp 0.002, 4 dp 0.0018,
# 5 dp 0.00175). Only rounding up can give 0.01 at 2 places from a cost that is 0.00175 at 5 (half-up would give
# 0.00), and rounding up gives all four exactly when the exact cost lies in (0.00174, 0.00175]. The plain reading:
# the call costs exactly 0.00175, e.g. 0.00175/min billed 60/60, or 0.0035/min billed 30/6 (30 s); on per-second
# billing (1/1, 9 s) a rate of 0.011666/min (0.00174990 exact) gives the same four figures.
PRECISION_TABLE = [(2, "0.01"), (3, "0.002"), (4, "0.0018"), (5, "0.00175")]


@pytest.mark.parametrize(("rate", "mcd", "pulse"), [("0.00175", 60, 60), ("0.0035", 30, 6), ("0.011666", 1, 1)])
@pytest.mark.parametrize(("places", "cost"), PRECISION_TABLE)
def test_nine_second_call_at_each_billing_precision(rate: str, mcd: int, pulse: int, places: int, cost: str) -> None:
    leg = version(RateRow("1", D(rate), mcd=mcd, pulse=pulse), precision=places).rate("1", seconds(9))
    assert leg is not None and str(leg.charge) == cost


def test_half_up_cannot_give_the_precision_table() -> None:
    leg = version(RateRow("1", D("0.00175"), mcd=60, pulse=60), precision=2,
                  rounding=RoundingMethod.HALF_UP).rate("1", seconds(9))
    assert leg is not None and str(leg.charge) == "0.00"


def test_each_call_is_rounded_on_its_own_100_calls_of_9_1_seconds() -> None:
    """domain.md §2.3: 100 calls of 9.1 s at 0.005/min, per-second billing, 4 dp rounding up: each costs
    0.00075833... -> 0.0008, so 0.0800 in all. The simple total the notes warn against multiplies the total
    minutes by the rate: 910 s = 15.1666... min x 0.005 = 0.0758333..., 0.0758 at 4 places (half-up or down; the
    issue says the printed 0.0757 is a typo, and the notes' "~0.0076" slips a decimal place)."""
    card = version(RateRow("1", D("0.005")), duration=DurationRounding.HALF_UP)  # 9.1 s is billed 9 s then
    legs = rate_legs(card, [("1", 9_100)] * 100)
    assert {leg.charge for leg in legs if leg is not None} == {D("0.0008")}
    assert str(sum(leg.charge for leg in legs if leg is not None)) == "0.0800"
    # Per call on the exact 9.1 s, as the notes compute it: 0.00075833 -> 0.0008 too.
    assert charge(D("0.005"), ZERO, D("9.1"), 4, RoundingMethod.UP.decimal_rounding) == D("0.0008")
    assert str((D("0.005") * D("9.1") / 60).quantize(D("0.00000001"))) == "0.00075833"
    minutes = D(100) * D("9.1") / 60
    simple = (minutes * D("0.005")).quantize(D("0.0001"), rounding=RoundingMethod.HALF_UP.decimal_rounding)
    assert str(simple) == "0.0758"
    assert (minutes * D("0.005")).quantize(D("0.0001"), rounding=RoundingMethod.DOWN.decimal_rounding) == simple
    assert simple != D("0.0757")


def test_grace_bills_nothing_but_the_connection_fee() -> None:
    card = version(RateRow("44", D("0.5"), connection_fee=D("0.02"), mcd=30, pulse=6, grace=2))
    assert card.rate("44", 2_000) == RatedLeg(card.lookup("44"), 2, 0, D("0.0200"))
    leg = card.rate("44", 2_001)  # 3 s past a 2 s grace: the whole MCD
    assert leg is not None and (leg.seconds, leg.billed, str(leg.charge)) == (3, 30, "0.2700")


def test_the_connection_fee_is_on_every_connected_call_and_none_on_failed_ones() -> None:
    card = version(RateRow("44", D("0.015"), connection_fee=D("0.01"), mcd=6, pulse=6))
    connected = card.rate("44", 7_000)
    assert connected is not None and str(connected.charge) == "0.0130"
    zero = card.rate("44", 0)  # answered and hung up at once: the fee alone
    assert zero is not None and (zero.billed, str(zero.charge)) == (0, "0.0100")
    failed = card.rate("44", None)
    assert failed is not None and (failed.seconds, failed.billed, failed.charge) == (0, 0, ZERO)


def test_no_matching_prefix_is_none_and_a_blocked_row_still_prices() -> None:
    card = version(RateRow("44", D("0.01")), RateRow("4470", D("0.02"), status=RateStatus.BLOCKED))
    assert card.rate("33123", 60_000) is None
    blocked = card.rate("447012", 60_000)
    assert blocked is not None and blocked.row.blocked and blocked.charge == D("0.02")
    assert rate_leg(card, "441", 60_000) == card.rate("441", 60_000)


def test_precision_zero_and_six() -> None:
    row = RateRow("1", D("0.123457"))
    zero = version(row, precision=0).rate("1", seconds(60))
    six = version(row, precision=6).rate("1", seconds(60))
    assert zero is not None and six is not None
    assert (str(zero.charge), str(six.charge)) == ("1", "0.123457")


def test_rates_with_more_places_than_the_database_keeps_take_the_decimal_path() -> None:
    leg = version(RateRow("1", D("0.0000001")), precision=6, rounding=RoundingMethod.UP).rate("1", seconds(60))
    assert leg is not None and str(leg.charge) == "0.000001"


def test_the_integer_rater_equals_charge_on_random_rows() -> None:
    generator = random.Random(11)
    for _ in range(3000):
        mcd, pulse = generator.choice([(1, 1), (6, 6), (30, 6), (60, 6), (60, 60), (0, 6), (12, 6)])
        row = RateRow("9", D(generator.randint(0, 900_000)).scaleb(-6),
                      connection_fee=D(generator.choice([0, 0, 1, 500, 12_345])).scaleb(-6),
                      mcd=mcd, pulse=pulse, grace=generator.choice([0, 0, 2, 5]))
        method = generator.choice(list(RoundingMethod))
        places = generator.randint(0, 6)
        duration_ms = generator.randint(0, 4_000_000)
        leg = version(row, precision=places, rounding=method).rate("9", duration_ms)
        assert leg is not None
        billed = billed_seconds(leg.seconds, row.grace, row.mcd, row.pulse)
        expected = charge(row.rate, row.connection_fee, billed, places, method.decimal_rounding)
        assert (leg.billed, leg.charge, str(leg.charge)) == (billed, expected, str(expected)), (row, method, places)


def test_lookups_agree_with_prefix_index() -> None:
    generator = random.Random(5)
    rows = {}
    for _ in range(3000):
        prefix = str(generator.randint(1, 9)) + "".join(generator.choices("0123456789", k=generator.randint(0, 8)))
        rows[prefix] = RateRow(prefix, D("0.01"))
    index = PrefixIndex(rows.values())
    card = CardVersion(1, 1, CardTerms("USD"), index)
    numbers = [str(generator.randrange(10**11, 10**12)) for _ in range(5000)]
    numbers += [*rows, *(prefix[:-1] for prefix in rows), "", "0", "12"]
    for number in numbers:
        assert card.lookup(number) is index.lookup(number), number


def test_a_plan_rates_the_customer_and_provider_sides_in_one_lookup() -> None:
    sell = version(RateRow("44", D("0.05"), mcd=6, pulse=6), RateRow("447", D("0.08"), name="UK Mobile"), card_id=1)
    buy_a = version(RateRow("4477", D("0.03")), card_id=2, precision=6)
    buy_b = version(RateRow("4", D("0.01"), mcd=60, pulse=60), card_id=3)
    plan = RatingPlan([sell, buy_a, buy_b])
    assert plan.positions == {1: 0, 2: 1, 3: 2}
    customer, provider = plan.rate("447712", 61_000, 1)
    assert customer == sell.rate("447712", 61_000) and provider == buy_a.rate("447712", 61_000)
    assert customer is not None and provider is not None
    assert (customer.row.name, str(customer.charge), str(provider.charge)) == ("UK Mobile", "0.0814", "0.030500")
    assert plan.rate("4412", 10_000, 1) == (sell.rate("4412", 10_000), None)
    assert plan.rate("4412", 10_000, 2)[1] == RatedLeg(buy_b.lookup("4"), 10, 60, D("0.0100"))
    assert plan.rate("33", 10_000, None) == (None, None)


NOON = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_the_timeline_gives_the_revision_live_at_a_time() -> None:
    timeline = CardTimeline(7, [(NOON + timedelta(hours=2), 12), (NOON, 11), (NOON + timedelta(hours=5), 11)])
    assert len(timeline) == 3
    assert timeline.at(NOON - timedelta(days=3)) == 11  # before the first activation: the first revision
    assert timeline.at(NOON) == 11
    assert timeline.at(NOON + timedelta(hours=2) - timedelta(microseconds=1)) == 11
    assert timeline.at(NOON + timedelta(hours=2)) == 12  # an activation at that very moment counts
    assert timeline.at(NOON + timedelta(hours=4, minutes=59)) == 12
    assert timeline.at(NOON + timedelta(hours=5)) == 11  # rolled back
    assert timeline.at(NOON + timedelta(days=400)) == 11
    assert CardTimeline(8, []).at(NOON) is None
