"""The CDR tab's grid: every CDR field as a column an operator may choose (saved per operator like the board's), the
sortable ones being the API's ordering allow-list, and the same columns for the CSV download."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Model
from django.urls import reverse
from django.utils.html import format_html

from trunkline.cdrs.models import Cdr
from trunkline.cdrs.tables import duration_text
from trunkline.core.forms import display_decimal
from trunkline.core.tables import EMPTY, Column, Table

# The sorts the tab offers; the same list as GET /api/v1/cdrs/?ordering=.
ORDERING_FIELDS = ("start", "duration", "customer_charge", "sip_code", "id")


def iso_utc(value: datetime) -> str:
    """A moment as the CSV writes it: ISO 8601 in UTC with a Z (domain.md §5.3: downloads are in UTC)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CdrColumn(Column):
    def export(self, obj: Model) -> str:
        value = self.value(obj)
        if isinstance(value, datetime):
            return iso_utc(value)
        return super().export(obj)


def _call_time(value: datetime, obj: Cdr) -> str:
    # The tab sets detail_url with its query string, so the detail's way back keeps the filters.
    url = getattr(obj, "detail_url", None) or reverse("cdrs:cdr_detail", args=[obj.customer_id, obj.pk])
    # The column's label says UTC: the rows need not repeat it.
    return format_html('<a href="{}" class="nowrap">{}</a>', url, value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))


def _seconds(value: int | None, obj: Cdr) -> Any:
    return EMPTY if value is None else duration_text(value)


def _milliseconds(value: int | None, obj: Cdr) -> Any:
    return EMPTY if value is None else f"{value:,} ms"


def _money(currency_field: str):
    def render(value: Decimal | None, obj: Cdr) -> Any:
        if value is None:
            return EMPTY
        return format_html('{} <span class="muted">{}</span>', display_decimal(value), getattr(obj, currency_field))
    return render


def _rate(value: Decimal | None, obj: Cdr) -> Any:
    return EMPTY if value is None else display_decimal(value)


def _sip_code(value: int, obj: Cdr) -> str:
    return format_html('<span class="badge badge-{}">{}</span>', "ok" if value < 300 else "bad", value)


def _mono(value: str, obj: Cdr) -> Any:
    return format_html('<span class="mono">{}</span>', value) if value else EMPTY


def _source(value: str, obj: Cdr) -> str:
    return obj.get_source_display()


class CdrTable(Table):
    columns = (
        CdrColumn("start", "Call time (UTC)", order_by="start", formatter=_call_time),
        CdrColumn("call_id", "Call ID", formatter=_mono),
        CdrColumn("leg", "Leg"),
        CdrColumn("node", "Switch"),
        CdrColumn("cli", "Source", formatter=_mono),
        CdrColumn("dst", "Destination", formatter=_mono),
        CdrColumn("tech_prefix", "Tech prefix", formatter=_mono),
        CdrColumn("customer_card_id", "Card ID"),
        CdrColumn("customer_dest_code", "Destination code", formatter=_mono),
        CdrColumn("customer_dest_name", "Destination name"),
        CdrColumn("duration", "Duration", order_by="duration", numeric=True, formatter=_seconds),
        CdrColumn("customer_billed", "Billed", numeric=True, formatter=_seconds),
        CdrColumn("customer_rate", "Rate", numeric=True, formatter=_rate),
        CdrColumn("customer_connect_fee", "Connect cost", numeric=True, formatter=_rate),
        CdrColumn("customer_charge", "Charge", order_by="customer_charge", numeric=True, money=True,
                  formatter=_money("customer_currency")),
        CdrColumn("customer_tax", "Tax", numeric=True, money=True, formatter=_money("customer_currency")),
        CdrColumn("customer_currency", "Currency"),
        CdrColumn("release_reason", "Release reason"),
        CdrColumn("sip_code", "SIP code", order_by="sip_code", formatter=_sip_code),
        CdrColumn("sip_reason", "SIP reason"),
        CdrColumn("pdd_ms", "PDD", numeric=True, formatter=_milliseconds),
        CdrColumn("ring_ms", "Ring duration", numeric=True, formatter=_milliseconds),
        CdrColumn("source_ip", "Source IP", formatter=_mono),
        CdrColumn("sip_user", "SIP user"),
        CdrColumn("answer", "Answered"),
        CdrColumn("end", "Ended"),
        CdrColumn("provider_name", "Provider", accessor="provider.name"),
        CdrColumn("provider_dest_code", "Provider destination code", formatter=_mono),
        CdrColumn("provider_dest_name", "Provider destination name"),
        CdrColumn("provider_billed", "Provider billed", numeric=True, formatter=_seconds),
        CdrColumn("provider_rate", "Provider rate", numeric=True, formatter=_rate),
        CdrColumn("provider_charge", "Provider charge", numeric=True, money=True,
                  formatter=_money("provider_currency")),
        CdrColumn("provider_currency", "Provider currency"),
        CdrColumn("profit", "Profit", numeric=True, money=True, formatter=_money("customer_currency")),
        CdrColumn("connected", "Connected"),
        CdrColumn("source", "Source", formatter=_source),
        CdrColumn("rating_error", "Rating error"),
        CdrColumn("id", "ID", order_by="id"),
    )
    exempt_columns = ("start",)
    default_columns = ("call_id", "cli", "dst", "customer_dest_name", "duration", "customer_billed",
                       "customer_charge", "release_reason", "sip_code", "provider_name")

    @property
    def needs_provider(self) -> bool:
        return any(column.name == "provider_name" for column in self.visible)
