"""How the panel writes a moment and a percentage, in one place so every page writes them alike."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from trunkline.core.forms import display_decimal


def utc_text(value: datetime | date | None) -> str:
    """ISO 8601 in UTC, to the second, with the zone named: "2026-12-06 17:31:28 UTC" (a date: "2026-12-06").
    A naive datetime is taken as UTC (USE_TZ stores every moment in UTC)."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def percent_text(value: Decimal | None) -> str:
    """A percentage as the edit form shows its number, plus the sign: 20 is "20.00 %", 7.625 is "7.625 %"."""
    return "" if value is None else f"{display_decimal(Decimal(value))} %"
