import json
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import HttpRequest
from django.template.defaultfilters import floatformat
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from trunkline.core.formats import percent_text, utc_text
from trunkline.core.tables import PerCurrency

register = template.Library()


@register.simple_tag(takes_context=True)
def query_set(context: dict, **params: Any) -> str:
    """The current query string with some parameters set (a value of None removes one); resets the page."""
    request: HttpRequest = context["request"]
    query = request.GET.copy()
    query.pop("page", None)
    for name, value in params.items():
        query.pop(name, None)
        if value not in (None, ""):
            query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def query_without(context: dict, *names: str) -> str:
    request: HttpRequest = context["request"]
    query = request.GET.copy()
    for name in (*names, "page"):
        query.pop(name, None)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def hidden_query(context: dict, *exclude: str) -> Any:
    """Hidden inputs that carry the current query (except `exclude`) through a GET form."""
    request: HttpRequest = context["request"]
    items = [(key, value) for key in request.GET for value in request.GET.getlist(key)
             if key not in exclude and key != "page"]
    return format_html_join("", '<input type="hidden" name="{}" value="{}">', items) or mark_safe("")


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@register.filter
def json_value(value: Any) -> str:
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


@register.filter
def field_errors_in(form: Any, sections: Any) -> bool:
    """Whether any field of a tab's (heading, names) sections has an error: the tab is flagged red."""
    names = [name for _, section_names in sections for name in section_names]
    return any(form[name].errors for name in names if name in form.fields)


@register.simple_tag
def aggregate(column: Any, value: Any) -> str:
    """A group's sum or average: money with two decimals (per currency, one a line), counts as whole numbers where
    they are whole."""
    if value is None:
        return "—"
    if isinstance(value, PerCurrency):
        # One currency a line: several side by side made the groups wider than the page.
        return format_html_join("", '<span class="per-currency">{} {}</span>',
                                ((currency, intcomma(floatformat(amount, 2))) for currency, amount in value.amounts)
                                ) or "—"
    return intcomma(floatformat(value, "2" if column.money else "-2"))


@register.filter
def bound_field(form: Any, name: str) -> Any:
    """form|bound_field:"name" — a form's field by a name held in a variable (tab layouts)."""
    return form[name] if name in form.fields else None


@register.filter
def verbose_name(model: Any) -> str:
    """A model class's (or instance's) human name: "contact", "number block", "settings"."""
    return str(model._meta.verbose_name) if model is not None else ""


@register.filter
def utc(value: Any) -> str:
    """{{ moment|utc }}: "2026-12-06 17:31:28 UTC", the one way the panel writes a time."""
    return utc_text(value)


@register.filter
def percent(value: Any) -> str:
    """{{ customer.tax_rate|percent }}: "20.00 %", with the decimals the edit form shows."""
    return percent_text(value)
