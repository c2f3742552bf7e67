"""Rating arithmetic: DESIGN.md "Money and time" and every worked example of domain.md §2.2 and §2.3."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from trunkline.contracts.money import MONEY_PLACES, DurationRounding, RoundingMethod
from trunkline.contracts.snapshot import ZERO, RateRow
from trunkline.switch.rating import (
    billed_seconds,
    charge,
    first_increment_charge,
    max_duration,
    rate_call,
    round_duration,
)

D = Decimal


@pytest.mark.parametrize(("duration", "billed"), [(1, 30), (20, 30), (30, 30), (31, 36), (35, 36), (36, 36), (37, 42)])
def test_billed_seconds_30_6_domain_example(duration: int, billed: int) -> None:
    assert billed_seconds(duration, grace=0, mcd=30, pulse=6) == billed


@pytest.mark.parametrize(("duration", "billed"), [(10, 60), (61, 66), (67, 72)])
def test_billed_seconds_60_6_domain_example(duration: int, billed: int) -> None:
    assert billed_seconds(duration, grace=0, mcd=60, pulse=6) == billed


@pytest.mark.parametrize(("duration", "grace", "mcd", "pulse", "billed"), [
    (0, 0, 30, 6, 0),  # an unanswered or zero-length call bills nothing
    (2, 2, 30, 6, 0),  # d <= g
    (3, 2, 30, 6, 30),  # past the grace the whole MCD is billed, from second 0
    (7, 0, 0, 6, 6 * 2),  # no MCD: whole pulses only
    (6, 0, 0, 6, 6),
    (37, 0, 1, 1, 37),  # 1/1 per-second
    (61, 0, 60, 60, 120),
    (120, 0, 60, 60, 120),
    (121, 0, 60, 60, 180),
    (10, 12, 6, 6, 0),  # a grace longer than the MCD
    (13, 12, 6, 6, 18),
])
def test_billed_seconds_formula(duration: int, grace: int, mcd: int, pulse: int, billed: int) -> None:
    assert billed_seconds(duration, grace, mcd, pulse) == billed


@pytest.mark.parametrize(("mcd", "pulse", "billed", "cost"), [
    (6, 6, 12, "0.003000"), (12, 6, 12, "0.003000"), (30, 6, 30, "0.007500"), (60, 6, 60, "0.015000")])
def test_worked_cost_table_7_second_call_at_0_015(mcd: int, pulse: int, billed: int, cost: str) -> None:
    row = RateRow("44", D("0.015"), mcd=mcd, pulse=pulse)
    assert billed_seconds(7, row.grace, row.mcd, row.pulse) == billed
    # str() pins the value and the ledger's 6 places at once.
    assert str(rate_call(row, 7)) == cost


def test_connection_fee_is_added_once() -> None:
    row = RateRow("44", D("0.015"), connection_fee=D("0.01"), mcd=6, pulse=6)
    assert str(rate_call(row, 7)) == "0.013000"
    assert str(rate_call(row, 600)) == "0.160000"


def test_a_call_inside_the_grace_period_pays_the_connection_fee_only() -> None:
    row = RateRow("44", D("0.5"), connection_fee=D("0.02"), mcd=30, pulse=6, grace=2)
    assert rate_call(row, 2) == D("0.02")
    assert rate_call(row, 3) == D("0.27")  # 0.02 + 0.5 x 30 / 60


def test_charges_round_half_up_at_the_ledger_precision() -> None:
    assert MONEY_PLACES == 6
    assert str(charge(D("0.000001"), ZERO, 30)) == "0.000001"  # exactly 0.0000005: half-up
    assert str(charge(D("0.000001"), ZERO, 29)) == "0.000000"


def test_per_call_rounding_example_100_calls_of_9_1_seconds() -> None:
    """domain.md §2.3: per call 0.00075833 -> 0.0008 at 4 dp rounding up; 100 calls -> 0.08."""
    up = RoundingMethod.UP.decimal_rounding
    exact = D("0.005") * D("9.1") / 60
    assert str(exact.quantize(D("0.00000001"))) == "0.00075833"
    per_call = charge(D("0.005"), ZERO, D("9.1"), places=4, rounding=up)
    assert per_call == D("0.0008")
    assert sum([per_call] * 100) == D("0.08")
    # Multiplying total minutes by the rate instead gives 0.0758333... (the notes print "~0.0076", a slip of
    # one decimal place): rounding each call is what makes the difference.
    naive = charge(D("0.005"), ZERO, D("910"), places=MONEY_PLACES, rounding=up)
    assert naive == D("0.075834")
    assert sum([per_call] * 100) > naive


@pytest.mark.parametrize(("places", "cost"), [(2, "0.01"), (3, "0.002"), (4, "0.0018"), (5, "0.00175")])
def test_precision_example_9_second_call(places: int, cost: str) -> None:
    """domain.md §2.3: a 9 s call costing 0.00175 shows as 0.01 / 0.002 / 0.0018 / 0.00175 (rounding up).

    The notes do not give the rate; 0.00175/min on 60/60 makes a 9 s call cost exactly 0.00175.
    """
    row = RateRow("44", D("0.00175"), mcd=60, pulse=60)
    billed = billed_seconds(9, row.grace, row.mcd, row.pulse)
    assert str(charge(row.rate, row.connection_fee, billed, places, RoundingMethod.UP.decimal_rounding)) == cost


@pytest.mark.parametrize(("method", "cost"), [
    (RoundingMethod.UP, "0.1235"), (RoundingMethod.DOWN, "0.1234"),
    (RoundingMethod.HALF_UP, "0.1235"), (RoundingMethod.HALF_DOWN, "0.1234")])
def test_rounding_methods_example_0_12345(method: RoundingMethod, cost: str) -> None:
    assert str(charge(D("0.12345"), ZERO, 60, places=4, rounding=method.decimal_rounding)) == cost


def test_rounding_up_and_down_differ_below_the_half() -> None:
    assert str(charge(D("0.12341"), ZERO, 60, 4, RoundingMethod.UP.decimal_rounding)) == "0.1235"
    assert str(charge(D("0.12349"), ZERO, 60, 4, RoundingMethod.DOWN.decimal_rounding)) == "0.1234"
    assert str(charge(D("0.12346"), ZERO, 60, 4, RoundingMethod.HALF_DOWN.decimal_rounding)) == "0.1235"


@pytest.mark.parametrize(("seconds", "full_down", "full_up", "half_up", "half_down"), [
    ("60.1", 60, 61, 60, 60), ("60.5", 60, 61, 61, 60), ("60.6", 60, 61, 61, 61), ("60", 60, 60, 60, 60)])
def test_duration_rounding_domain_examples(seconds: str, full_down: int, full_up: int, half_up: int,
                                           half_down: int) -> None:
    got = [round_duration(D(seconds), method) for method in (
        DurationRounding.FULL_DOWN, DurationRounding.FULL_UP, DurationRounding.HALF_UP, DurationRounding.HALF_DOWN)]
    assert got == [full_down, full_up, half_up, half_down]


@pytest.mark.parametrize(("row", "available", "seconds"), [
    (RateRow("1", D("0.015"), mcd=30, pulse=6), D("0.01"), 36),  # buys 40 s: the MCD and one whole pulse
    (RateRow("1", D("0.015"), mcd=30, pulse=6), D("0.0075"), 30),  # exactly the MCD
    (RateRow("1", D("0.015"), mcd=30, pulse=6), D("0.0074"), 0),  # not even the MCD
    (RateRow("1", D("0.01"), mcd=60, pulse=60), D("0.025"), 120),  # 150 s bought, whole minutes only
    (RateRow("1", D("0.06"), mcd=1, pulse=1), D("1"), 1000),
    (RateRow("1", D("0.06"), connection_fee=D("0.5"), mcd=1, pulse=1), D("1"), 500),  # the fee comes first
    (RateRow("1", D("0.06"), connection_fee=D("0.5")), D("0.4"), 0),  # the fee is not covered
    (RateRow("1", D("0.015"), mcd=30, pulse=6, grace=5), D("0.001"), 5),  # only free grace-period calls fit
    (RateRow("1", D("0.015"), mcd=30, pulse=6, grace=5), D("0.01"), 36),
    (RateRow("1", D("0.015"), mcd=30, pulse=6, grace=5), D("-0.01"), 0),  # overdrawn
])
def test_max_duration(row: RateRow, available: Decimal, seconds: int) -> None:
    assert max_duration(row, available) == seconds


def test_max_duration_of_a_free_rate_is_unbounded_once_the_fee_is_covered() -> None:
    assert max_duration(RateRow("1", ZERO), ZERO) is None
    assert max_duration(RateRow("1", ZERO, connection_fee=D("0.1")), D("0.1")) is None
    assert max_duration(RateRow("1", ZERO, connection_fee=D("0.1")), D("0.09")) == 0


def test_max_duration_is_the_longest_call_the_money_pays_for() -> None:
    generator = random.Random(7)
    for _ in range(2000):
        mcd, pulse = generator.choice([(1, 1), (6, 6), (30, 6), (60, 6), (60, 60), (0, 6), (12, 6)])
        row = RateRow("1", D(generator.randint(1, 500_000)).scaleb(-6), connection_fee=D(generator.randint(0, 3)) / 100,
                      mcd=mcd, pulse=pulse, grace=generator.choice([0, 0, 2, 5]))
        available = D(generator.randint(0, 5_000_000)).scaleb(-6)
        longest = max_duration(row, available)
        assert longest is not None
        if available >= row.connection_fee:
            assert rate_call(row, longest) <= available
        billed_after = billed_seconds(longest + 1, row.grace, row.mcd, row.pulse)
        assert row.connection_fee + row.rate * billed_after / 60 > available, (row, available, longest)


@pytest.mark.parametrize(("row", "cost"), [
    (RateRow("1", D("0.015"), mcd=30, pulse=6), "0.007500"),  # the MCD
    (RateRow("1", D("0.06"), mcd=0, pulse=6), "0.006000"),  # no MCD: one pulse
    (RateRow("1", D("0.06"), grace=2), "0.003000"),  # 1/1 after a 2 s grace: the first billed call is 3 s
    (RateRow("1", D("0.06"), connection_fee=D("0.01"), mcd=60, pulse=60), "0.070000"),
])
def test_first_increment_charge(row: RateRow, cost: str) -> None:
    assert str(first_increment_charge(row)) == cost


def test_money_covering_the_first_increment_buys_a_billed_call() -> None:
    row = RateRow("1", D("0.015"), connection_fee=D("0.01"), mcd=30, pulse=6, grace=3)
    needed = first_increment_charge(row)
    longest = max_duration(row, needed)
    assert longest is not None and longest > row.grace
    assert max_duration(row, needed - D("0.000001")) == row.grace


@pytest.mark.parametrize("bad", [
    {"rate": 0.015}, {"rate": D("-0.01")}, {"rate": D("NaN")}, {"connection_fee": 0.0}, {"pulse": 0},
    {"mcd": -1}, {"grace": -1}])
def test_rate_rows_refuse_floats_and_impossible_increments(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"prefix": "44", "rate": D("0.01"), **bad}
    with pytest.raises(ValueError):
        RateRow(**fields)  # type: ignore[arg-type]
