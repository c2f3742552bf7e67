from collections.abc import Iterable
from typing import Any

from django.db.models import Model
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from trunkline.core import livecalls
from trunkline.core.formats import percent_text
from trunkline.core.tables import EMPTY, Column, Table

UNLIMITED = mark_safe('<span class="muted">Unlimited</span>')
STATUS_CLASSES = {"active": "ok", "inactive": "off", "pending_approval": "wait", "penalty": "bad"}


def _status(value: str, obj) -> str:
    return format_html('<span class="badge badge-{}">{}</span>', STATUS_CLASSES.get(value, "off"),
                       obj.get_status_display())


def _money(value, obj) -> str:
    return format_html('{} <span class="muted">{}</span>', f"{value:,.2f}", obj.currency)


def _country(value: str, obj) -> str:
    return value or EMPTY


def _limit(value: int, obj) -> str:
    """0 means no limit, so say so."""
    return value if value else UNLIMITED


class LiveChannelsColumn(Column):
    """Calls up now against the channel limit ("3 / 10"). The board counts a page's customers in one query
    (CustomerTable.rows); a row without that count (the CSV export) asks for its own."""

    def value(self, obj: Model) -> int:
        live = getattr(obj, "live_channels", None)
        return livecalls.channels_in_use([obj.pk])[obj.pk] if live is None else live


def _live_channels(value: int, obj: Model) -> str:
    return format_html('{} <span class="muted">/ {}</span>', value, obj.channels or "Unlimited")


class TrafficColumn(Column):
    """A figure of the last 24 h from the rollups (ASR, ACD) or the last call's time. The board asks for a page's
    customers in one query (CustomerTable.rows); a row without them (the CSV export) asks for its own."""

    def value(self, obj: Model) -> Any:
        figures = getattr(obj, "traffic", None)
        if figures is None:
            figures = livecalls.traffic_figures([obj.pk])[obj.pk]
        return figures.get(self.accessor)


def _percent_or_empty(value, obj) -> str:
    return EMPTY if value is None else f"{value} %"


def _seconds_or_empty(value, obj) -> str:
    return EMPTY if value is None else f"{value} s"


TRAFFIC_COLUMNS = ("asr_24h", "acd_24h", "last_call")


class CustomerTable(Table):
    columns = (
        Column("name", "Name", order_by="name", link=True),
        Column("status", "Status", order_by="status", groupable=True, formatter=_status),
        Column("currency", "Currency", order_by="currency", groupable=True),
        Column("balance", "Balance", order_by="balance", numeric=True, money=True, formatter=_money),
        Column("debit_limit", "Debit limit", order_by="debit_limit", numeric=True, money=True, formatter=_money),
        Column("minimum_payment", "Minimum payment", order_by="minimum_payment", numeric=True, money=True,
               formatter=_money),
        Column("tax_rate", "Tax", order_by="tax_rate", numeric=True, groupable=True,
               formatter=lambda value, obj: percent_text(value), group_label=percent_text),
        LiveChannelsColumn("live_channels", "Live channels", formatter=_live_channels),
        TrafficColumn("asr_24h", "ASR 24 h", accessor="asr", formatter=_percent_or_empty),
        TrafficColumn("acd_24h", "ACD 24 h", accessor="acd", formatter=_seconds_or_empty),
        TrafficColumn("last_call", "Last call", accessor="last_call_at"),
        Column("channels", "Channels", order_by="channels", numeric=True, groupable=True, formatter=_limit),
        Column("cps", "Flow speed (CPS)", order_by="cps", numeric=True, groupable=True, formatter=_limit),
        Column("country", "Country", order_by="country", groupable=True, formatter=_country),
        Column("city", "City", order_by="city", groupable=True),
        Column("region", "Region", order_by="region", groupable=True),
        Column("postcode", "Postcode", order_by="postcode"),
        Column("address_line1", "Address", order_by="address_line1"),
        Column("paypal_email", "PayPal email", order_by="paypal_email"),
        Column("website", "Website", order_by="website"),
        Column("tags", "Tags"),
        Column("portal_access", "Portal", order_by="portal_access", groupable=True),
        Column("email_verification", "Email verification", order_by="email_verification", groupable=True),
        Column("mobile_verification", "Mobile verification", order_by="mobile_verification", groupable=True),
        Column("approved_clis_only", "Approved CLIs only", order_by="approved_clis_only", groupable=True),
        Column("created", "Created", order_by="created"),
        Column("updated", "Updated", order_by="updated"),
        Column("id", "ID", order_by="id"),
    )
    exempt_columns = ("name",)
    currency_field = "currency"
    default_columns = ("status", "currency", "balance", "debit_limit", "live_channels", "asr_24h", "acd_24h",
                       "last_call", "channels", "cps", "country", "tags")

    def rows(self, objects: Iterable[Model]) -> list[tuple[Model, list[tuple[Column, Any]]]]:
        objects = list(objects)
        if any(column.name == "live_channels" for column in self.visible):
            live = livecalls.channels_in_use([obj.pk for obj in objects])
            for obj in objects:
                obj.live_channels = live[obj.pk]
        if any(column.name in TRAFFIC_COLUMNS for column in self.visible):
            traffic = livecalls.traffic_figures([obj.pk for obj in objects])
            for obj in objects:
                obj.traffic = traffic[obj.pk]
        return super().rows(objects)
