"""The Stats charts' data: periods (grain, range presets, bounds) and the series each chart draws, shaped from
trunkline.cdrs.stats (the rollup selectors; this module runs no query on the rollups of its own).

A chart is a dict the page hands to the browser as JSON (json_script) and stats.js draws with plotly: x values are
UTC bucket labels ("2026-12-06 10:00", "2026-12-06", "2026-12"), money goes as exact decimal strings (plotly reads
numeric strings as numbers; no float ever holds a charge), a missing value is null (a gap, not a zero).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from trunkline.cdrs import stats
from trunkline.cdrs.models import Rollup
from trunkline.contracts.money import quantize_money
from trunkline.routing.models import Provider

GRAINS = ("hour", "day", "month")
# The widest range each grain may ask for: bounded points per chart and bounded rollup reads.
MAX_DAYS = {"hour": 31, "day": 400, "month": 400}
PRESETS = {"24h": "Last 24 h", "7d": "Last 7 days", "30d": "Last 30 days", "month": "This month",
           "custom": "Custom"}
PRESET_GRAIN = {"24h": "hour", "7d": "hour", "30d": "day", "month": "day", "custom": "day"}
NO_PROVIDER = "No provider"  # provider_id 0: calls refused before any egress
MONEY_FIELDS = frozenset({"customer_charge", "provider_charge", "profit"})
X_FORMAT = {"hour": "%Y-%m-%d %H:%M", "day": "%Y-%m-%d", "month": "%Y-%m"}


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    grain: str
    preset: str

    @property
    def last_day(self) -> date:
        """The last day the range covers (the custom form's "to" date)."""
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def label(self) -> str:
        fmt = "%Y-%m-%d %H:%M" if self.grain == "hour" or self.preset == "24h" else "%Y-%m-%d"
        end = self.end if fmt.endswith("%M") else self.end - timedelta(days=1)
        return f"{self.start:{fmt}} – {end:{fmt}} UTC"


def range_error(grain: str, start: datetime, end: datetime) -> tuple[str, str] | None:
    """(field, message) when the range is empty or wider than the grain allows, else None."""
    if end <= start:
        return "end", "The end must be after the start."
    if end - start > timedelta(days=MAX_DAYS[grain]):
        return "end", (f"At most {MAX_DAYS[grain]} days at {grain} grain; this range is "
                       f"{_days(end - start)} days. Choose a coarser grain or a shorter range.")
    return None


def _days(span: timedelta) -> str:
    return f"{span / timedelta(days=1):g}"


def preset_period(preset: str, grain: str | None, now: datetime) -> Period:
    """The range of a preset, in whole UTC hours (last 24 h) or days, ending with the current hour or day."""
    now = now.astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    today = hour.replace(hour=0)
    if preset == "24h":
        start, end = hour - timedelta(hours=23), hour + timedelta(hours=1)
    elif preset in ("7d", "30d"):
        start, end = today - timedelta(days=6 if preset == "7d" else 29), today + timedelta(days=1)
    else:  # this month
        start = today.replace(day=1)
        end = start + timedelta(days=calendar.monthrange(start.year, start.month)[1])
    return Period(start=start, end=end, grain=grain or PRESET_GRAIN[preset], preset=preset)


def period_from_query(query: Mapping[str, str], now: datetime) -> tuple[Period, dict[str, str]]:
    """The page's period from its form (preset, grain, from, to); a bad field falls back to the last 24 h and is
    named in the errors, so the page still draws."""
    errors: dict[str, str] = {}
    preset = query.get("preset") or "24h"
    if preset not in PRESETS:
        errors["preset"] = f"Choose one of: {', '.join(PRESETS.values())}."
        preset = "24h"
    grain: str | None = query.get("grain") or None
    if grain is not None and grain not in GRAINS:
        errors["grain"] = "Choose hour, day or month."
        grain = None
    if preset != "custom":
        return preset_period(preset, grain, now), errors
    days = {}
    for field in ("from", "to"):
        try:
            days[field] = date.fromisoformat(query.get(field, ""))
        except ValueError:
            errors[field] = "Give a date as YYYY-MM-DD."
    if len(days) == 2:
        start = datetime.combine(days["from"], datetime.min.time(), UTC)
        end = datetime.combine(days["to"] + timedelta(days=1), datetime.min.time(), UTC)
        period = Period(start=start, end=end, grain=grain or PRESET_GRAIN["custom"], preset="custom")
        problem = range_error(period.grain, start, end)
        if problem is None:
            return period, errors
        errors["to"] = problem[1]
    return preset_period("24h", grain, now), errors


# --- series ---------------------------------------------------------------------------------------------------------

def _x(bucket: datetime, grain: str) -> str:
    return bucket.astimezone(UTC).strftime(X_FORMAT[grain])


def _value(value: Any) -> Any:
    """A number as the chart gets it: Decimal as its exact string, None as a gap."""
    return str(value) if isinstance(value, Decimal) else value


def _pdd_seconds(value: int | None) -> str | None:
    """The average PDD (whole ms) in seconds, exactly."""
    return None if value is None else str(Decimal(value) / 1000)


def _money(value: Decimal) -> str:
    """A summed charge to the ledger's 6 places (SQLite's SUM of decimals comes back with stray digits)."""
    return str(quantize_money(value))


def _trace(name: str, rows: list[dict[str, Any]], field: str, grain: str, **style: Any) -> dict[str, Any]:
    convert = _pdd_seconds if field == "pdd" else _money if field in MONEY_FIELDS else _value
    return {"name": name, "x": [_x(row["bucket"], grain) for row in rows],
            "y": [convert(row[field]) for row in rows], **style}


def _chart(key: str, title: str, unit: str, traces: list[dict[str, Any]], *, kind: str = "line",
           stacked: bool = False, nothing: str = "calls") -> dict[str, Any]:
    """`nothing` completes "No ... in this period", shown instead of empty axes."""
    return {"key": key, "title": title, "unit": unit, "kind": kind, "stacked": stacked, "traces": traces,
            "empty_text": f"No {nothing} in this period"}


def provider_names(ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    names = dict(Provider.objects.filter(pk__in=wanted - {0}).values_list("pk", "name"))
    return {pk: NO_PROVIDER if pk == 0 else names.get(pk, f"Provider {pk} (deleted)") for pk in wanted}


def _per_provider(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The by-provider rows grouped per provider, in provider-name order."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["provider_id"], []).append(row)
    names = provider_names(groups)
    return sorted(((names[pk], group) for pk, group in groups.items()), key=lambda item: item[0].lower())


def charts(*, period: Period, customer_id: int | None = None, provider_id: int | None = None,
           currency: str = "money") -> list[dict[str, Any]]:
    """Every chart of the Stats tab (customer_id) or of a provider's page (provider_id), in page order. A customer's
    ASR and ACD charts add one series per provider; charge and profit are the customer side's, in `currency` (the
    customer's; a provider's cards may each have their own, so its page says "money")."""
    scope = {"customer_id": customer_id, "provider_id": provider_id, "start": period.start, "end": period.end,
             "grain": period.grain}
    total = stats.traffic(**scope)
    by_provider = _per_provider(stats.traffic(**scope, by_provider=True)) if customer_id is not None else []
    grain = period.grain
    carriers = [[_trace(name, rows, field, grain, dash=True) for name, rows in by_provider] for field in ("asr", "acd")]
    code_rows = stats.codes(**scope)
    codes = sorted({row["sip_code"] for row in code_rows})
    code_totals = [sum(row["calls"] for row in code_rows if row["sip_code"] == code) for code in codes]
    result = [
        _chart("channels", "Channels (peak)", "channels", [_trace("Channels", total, "channels_peak", grain)],
               kind="bar", nothing="channel peaks"),
        _chart("cps", "CPS (peak)", "calls/s", [_trace("CPS", total, "cps_peak", grain)], kind="bar",
               nothing="CPS peaks"),
        _chart("attempts", "Attempts vs connected", "calls",
               [_trace("Attempts", total, "attempts", grain), _trace("Connected", total, "connected", grain)],
               kind="bar"),
        _chart("asr", "ASR" + (" (total and per carrier)" if customer_id is not None else ""), "%",
               [_trace("Total", total, "asr", grain, bold=True), *carriers[0]]),
        _chart("acd", "ACD" + (" (total and per carrier)" if customer_id is not None else ""), "seconds",
               [_trace("Total", total, "acd", grain, bold=True), *carriers[1]]),
        _chart("pdd", "PDD (average)", "seconds", [_trace("PDD", total, "pdd", grain)],
               nothing="PDD measured"),
        _chart("breaches", "Channel and CPS breaches", "calls refused",
               [_trace("Channel breaches", total, "channel_breaches", grain),
                _trace("CPS breaches", total, "cps_breaches", grain)], kind="bar", nothing="breaches"),
        _chart("codes", "SIP codes", "calls",
               [{"name": str(code), "x": [_x(row["bucket"], grain) for row in code_rows if row["sip_code"] == code],
                 "y": [row["calls"] for row in code_rows if row["sip_code"] == code]} for code in codes],
               kind="bar", stacked=True),
        _chart("codes_total", "SIP codes, total %", "% of calls",
               [{"name": "Codes", "labels": [str(code) for code in codes], "values": code_totals}] if codes else [],
               kind="pie"),
    ]
    money = ("Customer charge", "customer_charge") if customer_id is not None else ("Provider cost",
                                                                                    "provider_charge")
    result.append(_chart("money", f"{money[0]} and profit", currency,
                         [_trace(money[0], total, money[1], grain), _trace("Profit", total, "profit", grain)],
                         kind="bar", nothing="charges"))
    for chart in result:
        chart["empty"] = not any(_has_points(trace, chart["kind"]) for trace in chart["traces"])
    return result


def _has_points(trace: dict[str, Any], kind: str = "bar") -> bool:
    """A line's point counts when it has a value (an ASR of 0 % says something); a bar or slice when non-zero."""
    values = trace.get("values", trace.get("y", []))
    if kind == "line":
        return any(value is not None for value in values)
    return any(value is not None and Decimal(value) != 0 for value in values)


def has_calls(chart_list: list[dict[str, Any]]) -> bool:
    """Whether the period had any attempt (the Attempts chart's first series)."""
    attempts = next(chart for chart in chart_list if chart["key"] == "attempts")
    return _has_points(attempts["traces"][0])


def carrier_table(*, period: Period, customer_id: int | None = None) -> list[dict[str, Any]]:
    """ASR and ACD per carrier over the whole period, of every customer's calls (or one customer's), busiest first:
    one grouped read of the rollups, then one division per carrier (never an average of averages).

    trunkline.cdrs.stats has no all-customers view (its selectors want a customer or a provider), so this one
    query lives here; the ratios are stats.ratio's, as on the charts."""
    rows = Rollup.objects.filter(hour__gte=period.start, hour__lt=period.end)
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    totals = list(rows.values("provider_id").annotate(attempts=Sum("attempts"), connected=Sum("connected"),
                                                      duration=Sum("duration")).order_by())
    names = provider_names(row["provider_id"] for row in totals)
    table = [{**row, "name": names[row["provider_id"]], "asr": stats.ratio(row["connected"], row["attempts"], 100),
              "acd": stats.ratio(row["duration"], row["connected"])} for row in totals]
    return sorted(table, key=lambda row: (-row["attempts"], row["name"].lower()))
