from django.apps import apps
from django.utils.html import format_html
from django.utils.text import capfirst

from trunkline.core.formats import utc_text
from trunkline.core.tables import Column, Table


def _time(value, obj) -> str:
    return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), utc_text(value))


def _object(value, obj) -> str:
    url = obj.object_url
    if url:
        return format_html('<a href="{}">{}</a>', url, value)
    return value


def _action(value, obj) -> str:
    return format_html('<span class="badge badge-{}">{}</span>', value, obj.get_action_display())


def _type_name(code: str) -> str:
    """A group of the Type column, named as the entries name their type ("Rate card" for ratecard)."""
    names = {model._meta.model_name: capfirst(model._meta.verbose_name) for model in apps.get_models()}
    return names.get(code, code)


class ObjectChangeTable(Table):
    columns = (
        Column("time", "Time", order_by="time", formatter=_time),
        Column("user_name", "User", order_by="user_name", groupable=True),
        Column("source", "Source", order_by="source", groupable=True),
        Column("ip", "IP", order_by="ip"),
        Column("action", "Action", order_by="action", groupable=True, formatter=_action),
        Column("object_type", "Type", accessor="object_type_name", order_by="object_type__model", groupable=True,
               group_label=_type_name),
        Column("object_repr", "Object", order_by="object_repr", formatter=_object),
        Column("changed_fields", "Changed", accessor="changed_summary", formatter=lambda value, obj: value or "—"),
        Column("request_id", "Request", order_by="request_id"),
    )
    exempt_columns = ("time",)
    default_columns = ("user_name", "source", "action", "object_type", "object_repr", "changed_fields")
