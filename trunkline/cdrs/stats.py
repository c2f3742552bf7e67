"""Traffic figures for Stats, the Main tab's Summary and the board, read from the rollups only (never the CDRs).

Buckets are UTC hours, days or months. Ratios are computed from the bucket's sums, never averaged from averages:
ASR = connected / attempts x 100, ACD = connected seconds / connected calls, PDD = sum of PDDs / calls with one.
Profit = customer charge - provider charge: the rollups add charges as they are, so a customer billed in one
currency over a provider paid in another gets a profit that mixes them (the CDR itself leaves profit empty then).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from django.db import connection
from django.db.models import F, Max, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from trunkline.cdrs.models import CodeRollup, PeakRollup, PeakScope, Rollup
from trunkline.cdrs.services.rollups import utc_hour

Grain = Literal["hour", "day", "month"]
Period = Literal["24h", "daily", "monthly"]
GRAINS = ("hour", "day", "month")
PERIODS: dict[str, Grain] = {"24h": "hour", "daily": "day", "monthly": "month"}
SUMMARY_DAYS = 31
SUMMARY_MONTHS = 12
HOUR = timedelta(hours=1)
CENT = Decimal("0.01")
ZERO = Decimal(0)
SUM_FIELDS = ("attempts", "connected", "duration", "customer_billed", "customer_charge", "provider_charge",
              "pdd_ms", "pdd_calls", "channel_breaches", "cps_breaches")


def ratio(part: int | Decimal, whole: int | Decimal, scale: int = 1) -> Decimal | None:
    """part / whole x scale to 2 places (half up); None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(CENT, ROUND_HALF_UP)


def _bucket(grain: str) -> Any:
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}, not {grain!r}.")
    # Rollup hours are already hour starts: no function, so PostgreSQL groups by the indexed column itself.
    return F("hour") if grain == "hour" else Trunc("hour", grain, tzinfo=UTC)


def _as_utc(value: Any) -> datetime:
    """A bucket as SQLite or PostgreSQL hands it back (Trunc on SQLite may give a naive UTC datetime)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _scoped(queryset: QuerySet, customer_id: int | None, provider_id: int | None, start: datetime,
            end: datetime) -> QuerySet:
    if customer_id is None and provider_id is None:
        raise ValueError("Give a customer or a provider.")
    queryset = queryset.filter(hour__gte=utc_hour(start), hour__lt=end)
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if provider_id is not None:
        queryset = queryset.filter(provider_id=provider_id)
    return queryset


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    """The derived figures of one bucket's sums."""
    charge, cost = row["customer_charge"] or ZERO, row["provider_charge"] or ZERO
    profit = charge - cost
    return {
        "asr": ratio(row["connected"], row["attempts"], 100),
        "acd": ratio(row["duration"], row["connected"]),
        "pdd": None if not row["pdd_calls"] else int(ratio(row["pdd_ms"], row["pdd_calls"]).quantize(
            Decimal(1), ROUND_HALF_UP)),
        "customer_charge": charge,
        "provider_charge": cost,
        "profit": profit,
        "profit_pct": ratio(profit, charge, 100),
    }


def traffic(*, customer_id: int | None = None, provider_id: int | None = None, start: datetime, end: datetime,
            grain: Grain, by_provider: bool = False) -> list[dict[str, Any]]:
    """Per bucket (and per provider when by_provider), oldest first, only buckets with traffic: the sums, ASR,
    ACD, average PDD (ms), breaches, and the bucket's highest hourly channel and CPS peaks (of the customer when
    one is given, else of the provider; None per provider, as a customer's peak is not split by provider)."""
    return _traffic(customer_id, provider_id, start, end, grain, by_provider=by_provider, peaks=not by_provider)


def _traffic(customer_id: int | None, provider_id: int | None, start: datetime, end: datetime, grain: str, *,
             by_provider: bool, peaks: bool) -> list[dict[str, Any]]:
    bucket = _bucket(grain)
    group = ("bucket", "provider_id") if by_provider else ("bucket",)
    queryset = (_scoped(Rollup.objects.all(), customer_id, provider_id, start, end).annotate(bucket=bucket)
                .values(*group).annotate(**{name: Sum(name) for name in SUM_FIELDS}).order_by(*group))
    highest: dict[datetime, tuple[int, int]] = {}
    if peaks:
        scope, scope_id = ((PeakScope.CUSTOMER, customer_id) if customer_id is not None
                           else (PeakScope.PROVIDER, provider_id))
        peak_rows = (PeakRollup.objects.filter(scope=scope, scope_id=scope_id, hour__gte=utc_hour(start),
                                               hour__lt=end)
                     .annotate(bucket=bucket).values("bucket")
                     .annotate(channels_peak=Max("channels"), cps_peak=Max("cps")).order_by())
        highest = {_as_utc(row["bucket"]): (row["channels_peak"], row["cps_peak"]) for row in peak_rows}
    result = []
    for row in queryset:
        moment = _as_utc(row["bucket"])
        channels, cps = highest.get(moment, (0, 0)) if peaks else (None, None)
        result.append({
            "bucket": moment,
            **({"provider_id": row["provider_id"]} if by_provider else {}),
            **{name: row[name] for name in SUM_FIELDS if name not in ("customer_charge", "provider_charge")},
            **_figures(row),
            "channels_peak": channels,
            "cps_peak": cps,
        })
    return result


def codes(*, customer_id: int | None = None, provider_id: int | None = None, start: datetime, end: datetime,
          grain: Grain) -> list[dict[str, Any]]:
    """Final SIP codes per bucket: [{"bucket", "sip_code", "calls"}], oldest first, then by code."""
    rows = (_scoped(CodeRollup.objects.all(), customer_id, provider_id, start, end).annotate(bucket=_bucket(grain))
            .values("bucket", "sip_code").annotate(calls=Sum("calls")).filter(calls__gt=0)
            .order_by("bucket", "sip_code"))
    return [{"bucket": _as_utc(row["bucket"]), "sip_code": row["sip_code"], "calls": row["calls"]} for row in rows]


def summary_buckets(period: Period, now: datetime) -> list[datetime]:
    """The Summary's rows, newest first: the last 24 UTC hours, 31 days or 12 months, the current one included."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}.")
    hour = utc_hour(now)
    if period == "24h":
        return [hour - HOUR * back for back in range(24)]
    day = hour.replace(hour=0)
    if period == "daily":
        return [day - timedelta(days=back) for back in range(SUMMARY_DAYS)]
    months = []
    year, month = day.year, day.month
    for _ in range(SUMMARY_MONTHS):
        months.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def summary(*, customer_id: int, period: Period, now: datetime | None = None) -> list[dict[str, Any]]:
    """The Main tab's Summary: one row per bucket of the period (zeros where there was no traffic), newest
    first: date, attempts, connected, ASR, ACD, minutes, billed minutes, customer charge, profit, profit %."""
    buckets = summary_buckets(period, now or timezone.now())
    grain = PERIODS[period]
    end = buckets[0] + (HOUR if grain == "hour" else timedelta(days=1))
    if grain == "month":
        end = (buckets[0] + timedelta(days=32)).replace(day=1)
    # The Summary shows no peaks: one query.
    totals = {row["bucket"]: row for row in _traffic(customer_id, None, buckets[-1], end, grain, by_provider=False,
                                                     peaks=False)}
    rows = []
    for bucket in buckets:
        row = totals.get(bucket)
        attempts = row["attempts"] if row else 0
        connected = row["connected"] if row else 0
        duration = row["duration"] if row else 0
        billed = row["customer_billed"] if row else 0
        charge = row["customer_charge"] if row else ZERO
        profit = row["profit"] if row else ZERO
        rows.append({
            "date": bucket,
            "attempts": attempts,
            "connected": connected,
            "asr": ratio(connected, attempts, 100),
            "acd": ratio(duration, connected),
            "minutes": ratio(duration, 60),
            "billed_minutes": ratio(billed, 60),
            "customer_charge": charge,
            "profit": profit,
            "profit_pct": ratio(profit, charge, 100),
        })
    return rows


def board_live(customer_ids: Collection[int], *, now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """For the board's page of customers, in one query: ASR and ACD over the last 24 UTC hours (the current hour
    and the 23 before, as the Summary's 24 h view) and the last call's time (ever). Every asked id is present."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    since = utc_hour(now or timezone.now()) - HOUR * 23
    quote = connection.ops.quote_name
    table = quote(Rollup._meta.db_table)
    marks = ", ".join(["(%s)"] * len(ids))
    # The last call: the newest rollup hour of the customer (index customer_id, hour read backwards), one row.
    sql = (f"WITH ids(id) AS (VALUES {marks}) "
           f"SELECT ids.id, day.attempts, day.connected, day.duration, "
           f"(SELECT r.last_call_at FROM {table} r WHERE r.customer_id = ids.id AND r.last_call_at IS NOT NULL "
           f"ORDER BY r.hour DESC, r.last_call_at DESC LIMIT 1) "
           f"FROM ids LEFT JOIN (SELECT customer_id, SUM(attempts) AS attempts, SUM(connected) AS connected, "
           f"SUM(duration) AS duration FROM {table} WHERE customer_id IN ({', '.join(['%s'] * len(ids))}) "
           f"AND hour >= %s GROUP BY customer_id) day ON day.customer_id = ids.id")
    params = [*ids, *ids, connection.ops.adapt_datetimefield_value(since)]
    result = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for pk, attempts, connected, duration, last in cursor.fetchall():
            if isinstance(last, str):  # SQLite hands back text from a raw query
                last = datetime.fromisoformat(last)
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            result[pk] = {"asr": ratio(connected or 0, attempts or 0, 100),
                          "acd": ratio(duration or 0, connected or 0),
                          "attempts": int(attempts or 0), "last_call_at": last}
    return result
