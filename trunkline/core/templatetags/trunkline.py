import json
from typing import Any

from django import template
from django.http import HttpRequest

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
    from django.utils.html import format_html_join
    from django.utils.safestring import mark_safe

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
def field_errors_in(form: Any, names: list[str]) -> bool:
    return any(form[name].errors for name in names if name in form.fields)
