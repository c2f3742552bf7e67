from typing import Any

from django.utils.html import format_html, format_html_join

from trunkline.core.tables import EMPTY, Column, Table
from trunkline.routing.models import Provider, RateCard


def _status(value: str, obj: Provider) -> str:
    return format_html('<span class="badge badge-{}">{}</span>', "ok" if value == "active" else "off",
                       obj.get_status_display())


def _limit(value: int, obj: Any) -> Any:
    return value if value else format_html('<span class="muted">{}</span>', "Unlimited")


def _gateways(value: list[dict[str, Any]], obj: Provider) -> Any:
    if not value:
        return EMPTY
    return format_html_join(" ", '<span class="tag mono">{}:{}/{}</span>',
                            ((gw["host"], gw["port"], gw["transport"]) for gw in value))


def _active_revision(value: Any, obj: RateCard) -> Any:
    revision = obj.active_revision
    if revision is None:
        return format_html('<span class="muted">{}</span>', "none")
    return format_html("{} <span class=\"muted\">({} rows)</span>", revision.number, f"{revision.row_count:,}")


class ProviderTable(Table):
    columns = (
        Column("name", "Name", order_by="name", link=True),
        Column("status", "Status", order_by="status", groupable=True, formatter=_status),
        Column("gateways", "Gateways", formatter=_gateways),
        Column("channels", "Channels", order_by="channels", numeric=True, groupable=True, formatter=_limit),
        Column("cps", "Flow speed (CPS)", order_by="cps", numeric=True, groupable=True, formatter=_limit),
        Column("tech_prefix", "Tech prefix", order_by="tech_prefix", groupable=True),
        Column("notes", "Notes"),
        Column("created", "Created", order_by="created"),
        Column("updated", "Updated", order_by="updated"),
        Column("id", "ID", order_by="id"),
    )
    exempt_columns = ("name",)
    default_columns = ("status", "gateways", "channels", "cps", "tech_prefix")


class RateCardTable(Table):
    columns = (
        Column("name", "Name", order_by="name", link=True),
        Column("kind", "Kind", accessor="get_kind_display", order_by="kind", groupable=True),
        Column("currency", "Currency", order_by="currency", groupable=True),
        Column("provider", "Provider", order_by="provider__name", groupable=True),
        Column("strategy", "Strategy", accessor="get_strategy_display", order_by="strategy", groupable=True),
        Column("active_revision", "Active revision", formatter=_active_revision),
        Column("notes", "Notes"),
        Column("created", "Created", order_by="created"),
        Column("updated", "Updated", order_by="updated"),
        Column("id", "ID", order_by="id"),
    )
    exempt_columns = ("name",)
    default_columns = ("kind", "currency", "provider", "strategy", "active_revision")
