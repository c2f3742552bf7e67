"""stats: traffic, codes, summary and board_live read from rollups written by rollups_apply, exact figures,
UTC buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from trunkline.cdrs import stats
from trunkline.cdrs.models import Cdr
from trunkline.cdrs.services.rollups import rollups_apply

from .test_rollups import cdr

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
D = Decimal


def apply(cdrs: list[Cdr]) -> None:
    with transaction.atomic():
        rollups_apply(cdrs)


@pytest.fixture
def traffic_data(db) -> None:
    apply([
        # 10:xx customer 1: 3 attempts via provider 7 (2 connected), 1 breach without provider.
        cdr(T0 + timedelta(minutes=1), seconds=61, charge="0.020000", cost="0.015000", pdd=1000),
        cdr(T0 + timedelta(minutes=1, milliseconds=400), seconds=None, code=486, reason="Busy Here", pdd=2001),
        cdr(T0 + timedelta(minutes=30), seconds=20, charge="0.010000", cost="0.004000", pdd=None, dest="UK Fixed"),
        cdr(T0 + timedelta(minutes=40), provider=None, seconds=None, code=503, reason="Channel Limit Reached",
            pdd=None),
        # 11:xx customer 1 via provider 8, customer 2 via provider 7.
        cdr(T0 + timedelta(hours=1, minutes=5), provider=8, seconds=100, charge="0.100000", cost="0.120000"),
        cdr(T0 + timedelta(hours=1, minutes=6), provider=8, seconds=None, code=503, reason="CPS Limit Reached",
            pdd=None),
        cdr(T0 + timedelta(hours=1, minutes=7), customer=2, seconds=30, charge="0.050000", cost="0.010000"),
        # The next UTC day (23:59:59 belongs to 1 December, 00:00 to the 2nd).
        cdr(datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC), seconds=10, charge="0.001000", cost="0.000500"),
        cdr(datetime(2026, 12, 2, 0, 0, tzinfo=UTC), seconds=50, charge="0.003000", cost="0.001000"),
    ])


def test_traffic_by_hour_for_a_customer(traffic_data) -> None:
    rows = stats.traffic(customer_id=1, start=T0, end=T0 + timedelta(hours=2), grain="hour")
    assert rows == [
        {"bucket": T0, "attempts": 4, "connected": 2, "duration": 81, "customer_billed": 81, "pdd_ms": 3001,
         "pdd_calls": 2, "channel_breaches": 1, "cps_breaches": 0, "asr": D("50.00"), "acd": D("40.50"),
         "pdd": 1501, "customer_charge": D("0.030000"), "provider_charge": D("0.019000"),
         "profit": D("0.011000"), "profit_pct": D("36.67"), "channels_peak": 2, "cps_peak": 2},
        {"bucket": T0 + timedelta(hours=1), "attempts": 2, "connected": 1, "duration": 100, "customer_billed": 100,
         "pdd_ms": 800, "pdd_calls": 1, "channel_breaches": 0, "cps_breaches": 1, "asr": D("50.00"),
         "acd": D("100.00"), "pdd": 800, "customer_charge": D("0.100000"), "provider_charge": D("0.120000"),
         "profit": D("-0.020000"), "profit_pct": D("-20.00"), "channels_peak": 2, "cps_peak": 1},
    ]


def test_traffic_by_day_and_month_in_utc_and_per_provider(traffic_data) -> None:
    days = stats.traffic(customer_id=1, start=datetime(2026, 11, 30, tzinfo=UTC),
                         end=datetime(2026, 12, 3, tzinfo=UTC), grain="day")
    assert [(row["bucket"], row["attempts"], row["connected"], row["duration"], row["customer_charge"])
            for row in days] == [(datetime(2026, 12, 1, tzinfo=UTC), 7, 4, 191, D("0.131000")),
                                 (datetime(2026, 12, 2, tzinfo=UTC), 1, 1, 50, D("0.003000"))]
    months = stats.traffic(customer_id=1, start=datetime(2026, 11, 1, tzinfo=UTC),
                           end=datetime(2027, 1, 1, tzinfo=UTC), grain="month")
    assert [(row["bucket"], row["attempts"], row["asr"], row["acd"], row["cps_peak"]) for row in months] == [
        (datetime(2026, 12, 1, tzinfo=UTC), 8, D("62.50"), D("48.20"), 2)]
    per_provider = stats.traffic(customer_id=1, start=T0, end=T0 + timedelta(hours=14), grain="day",
                                 by_provider=True)
    assert [(row["provider_id"], row["attempts"], row["connected"], row["asr"], row["channels_peak"])
            for row in per_provider] == [(0, 1, 0, D("0.00"), None), (7, 4, 3, D("75.00"), None),
                                         (8, 2, 1, D("50.00"), None)]


def test_traffic_for_a_provider_counts_every_customer(traffic_data) -> None:
    rows = stats.traffic(provider_id=7, start=T0, end=T0 + timedelta(hours=2), grain="hour")
    assert [(row["bucket"], row["attempts"], row["connected"], row["channels_peak"]) for row in rows] == [
        (T0, 3, 2, 2), (T0 + timedelta(hours=1), 1, 1, 1)]


def test_traffic_needs_a_scope_and_a_known_grain(traffic_data) -> None:
    with pytest.raises(ValueError, match=r"^Give a customer or a provider\.$"):
        stats.traffic(start=T0, end=T0, grain="hour")
    with pytest.raises(ValueError, match=r"^grain must be one of hour, day, month, not 'week'\.$"):
        stats.traffic(customer_id=1, start=T0, end=T0, grain="week")


def test_codes_per_bucket(traffic_data) -> None:
    assert stats.codes(customer_id=1, start=T0, end=T0 + timedelta(days=2), grain="day") == [
        {"bucket": datetime(2026, 12, 1, tzinfo=UTC), "sip_code": 200, "calls": 4},
        {"bucket": datetime(2026, 12, 1, tzinfo=UTC), "sip_code": 486, "calls": 1},
        {"bucket": datetime(2026, 12, 1, tzinfo=UTC), "sip_code": 503, "calls": 2},
        {"bucket": datetime(2026, 12, 2, tzinfo=UTC), "sip_code": 200, "calls": 1},
    ]
    assert stats.codes(provider_id=8, start=T0, end=T0 + timedelta(days=2), grain="hour") == [
        {"bucket": T0 + timedelta(hours=1), "sip_code": 200, "calls": 1},
        {"bucket": T0 + timedelta(hours=1), "sip_code": 503, "calls": 1}]


def test_summary_24h_rows_are_the_last_24_utc_hours_newest_first(traffic_data) -> None:
    rows = stats.summary(customer_id=1, period="24h", now=datetime(2026, 12, 2, 0, 30, tzinfo=UTC))
    assert len(rows) == 24
    assert rows[0]["date"] == datetime(2026, 12, 2, 0, tzinfo=UTC)
    assert rows[-1]["date"] == datetime(2026, 12, 1, 1, tzinfo=UTC)
    by_date = {row["date"]: row for row in rows}
    assert by_date[T0] == {"date": T0, "attempts": 4, "connected": 2, "asr": D("50.00"), "acd": D("40.50"),
                           "minutes": D("1.35"), "billed_minutes": D("1.35"), "customer_charge": D("0.030000"),
                           "profit": D("0.011000"), "profit_pct": D("36.67")}
    assert by_date[datetime(2026, 12, 1, 2, tzinfo=UTC)] == {
        "date": datetime(2026, 12, 1, 2, tzinfo=UTC), "attempts": 0, "connected": 0, "asr": None, "acd": None,
        "minutes": D(0), "billed_minutes": D(0), "customer_charge": D(0), "profit": D(0), "profit_pct": None}
    assert rows[0]["attempts"] == 1 and rows[1]["attempts"] == 1  # 00:00 on the 2nd; 23:59:59 on the 1st


def test_summary_daily_and_monthly(traffic_data) -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    daily = stats.summary(customer_id=1, period="daily", now=now)
    assert len(daily) == 31
    assert [(row["date"], row["attempts"], row["minutes"]) for row in daily[:3]] == [
        (datetime(2026, 12, 2, tzinfo=UTC), 1, D("0.83")), (datetime(2026, 12, 1, tzinfo=UTC), 7, D("3.18")),
        (datetime(2026, 11, 30, tzinfo=UTC), 0, D(0))]
    monthly = stats.summary(customer_id=1, period="monthly", now=now)
    assert [row["date"] for row in monthly[:3]] == [datetime(2026, 12, 1, tzinfo=UTC),
                                                   datetime(2026, 11, 1, tzinfo=UTC),
                                                   datetime(2026, 10, 1, tzinfo=UTC)]
    assert monthly[-1]["date"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert (monthly[0]["attempts"], monthly[0]["customer_charge"], monthly[0]["profit"]) == (
        8, D("0.134000"), D("-0.006500"))
    with pytest.raises(ValueError, match=r"^period must be one of 24h, daily, monthly, not 'weekly'\.$"):
        stats.summary(customer_id=1, period="weekly", now=now)


def test_board_live_for_a_page_of_customers_in_one_query(traffic_data, django_assert_num_queries) -> None:
    now = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)  # the window starts at 1 December 10:00
    with django_assert_num_queries(1):
        live = stats.board_live([1, 2, 3], now=now)
    assert live == {
        1: {"asr": D("62.50"), "acd": D("48.20"), "attempts": 8,
            "last_call_at": datetime(2026, 12, 2, 0, 0, tzinfo=UTC)},
        2: {"asr": D("100.00"), "acd": D("30.00"), "attempts": 1, "last_call_at": T0 + timedelta(hours=1, minutes=7)},
        3: {"asr": None, "acd": None, "attempts": 0, "last_call_at": None},
    }
    later = stats.board_live([1], now=datetime(2026, 12, 5, tzinfo=UTC))
    assert later == {1: {"asr": None, "acd": None, "attempts": 0,
                         "last_call_at": datetime(2026, 12, 2, 0, 0, tzinfo=UTC)}}
    assert stats.board_live([]) == {}
