import json
from functools import reduce
from operator import or_
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from trunkline.core.models import User


class NumberInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    """Several numbers (`?id=1,2`), each validated: "abc" is a 400, not a database error."""


def json_text(value: str) -> str:
    """Text as it sits inside a JSON column: Django writes JSON with ensure_ascii, so on SQLite "café" is stored
    as "caf\\u00e9", and a quote as \\" everywhere (PostgreSQL's jsonb keeps non-ASCII letters as typed)."""
    return json.dumps(value)[1:-1]


LONG_CHOICE_LIST = 50


class QuickSelectMultiple(forms.SelectMultiple):
    """Renders its options in one pass: Django's per-option templates cost ~25 ms a page for the ~430 country and
    currency options of the Filters popout, on every board page."""

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        selected = {str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v not in (None, "")}
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name, "multiple": True})
        options = format_html_join("", "<option value=\"{}\"{}>{}</option>", (
            (choice, " selected" if str(choice) in selected else "", label) for choice, label in self.choices))
        return format_html("<select{}>{}</select>", flatatt(final_attrs), options)


class PopoutMixin:
    """Lays a filter set out for the Filters popout: `popout_order` first, ranges (__gte/__lte) as one row."""

    popout_exclude: tuple[str, ...] = ("q", "id")
    popout_order: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            if isinstance(field.widget, forms.SelectMultiple):
                if len(field.choices) > LONG_CHOICE_LIST:
                    field.widget = QuickSelectMultiple(choices=field.choices)
                field.widget.attrs.setdefault("size", 6)

    def _label(self, base: str) -> str:
        try:
            return str(self.queryset.model._meta.get_field(base).verbose_name).capitalize()
        except FieldDoesNotExist:
            return base.replace("_", " ").capitalize()

    @property
    def popout_rows(self) -> list[dict[str, Any]]:
        names = [name for name in self.form.fields if name not in self.popout_exclude]
        ordered = [n for n in self.popout_order if n in names] + [n for n in names if n not in self.popout_order]
        rows: list[dict[str, Any]] = []
        done: set[str] = set()
        for name in ordered:
            if name in done:
                continue
            base = name.removesuffix("__gte").removesuffix("__lte")
            if f"{base}__gte" in names and f"{base}__lte" in names:
                # The range covers the exact match too, so the popout leaves that one to the API.
                pair = (self.form[f"{base}__gte"], self.form[f"{base}__lte"])
                rows.append({"label": self._label(base), "range": pair, "fields": pair})
                done |= {base, f"{base}__gte", f"{base}__lte"}
            else:
                field = self.form[name]
                rows.append({"label": field.label or self._label(name), "field": field, "fields": (field,)})
                done.add(name)
        return rows


class BaseFilterSet(PopoutMixin, django_filters.FilterSet):
    """`q` searches `search_fields`; `id` takes several values; created and updated take ranges."""

    search_fields: tuple[str, ...] = ()

    q = django_filters.CharFilter(method="search", label="Search")
    id = NumberInFilter(field_name="id", label="IDs")
    created__gte = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte", label="Created after")
    created__lte = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lte", label="Created before")
    updated__gte = django_filters.IsoDateTimeFilter(field_name="updated", lookup_expr="gte", label="Updated after")
    updated__lte = django_filters.IsoDateTimeFilter(field_name="updated", lookup_expr="lte", label="Updated before")

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        value = value.strip()
        if not value:
            return queryset
        conditions = [Q(**{f"{field}__icontains": value}) for field in self.search_fields]
        json_fields = [f for f in self.search_fields if isinstance(queryset.model._meta.get_field(f), models.JSONField)]
        if json_fields and json_text(value) != value:
            conditions += [Q(**{f"{field}__icontains": json_text(value)}) for field in json_fields]
        return queryset.filter(reduce(or_, conditions))


class TagFilter(django_filters.CharFilter):
    """Objects carrying a tag (whole tag, case-insensitive) in a JSON list column, on SQLite and PostgreSQL."""

    def filter(self, qs: models.QuerySet, value: str) -> models.QuerySet:
        value = (value or "").strip()
        if not value:
            return qs
        # Matching the quoted form ("vip" with its quotes) finds whole tags, never part of one.
        found = qs.filter(**{f"{self.field_name}__icontains": f'"{json_text(value)}"'})
        if value.isascii():
            return found
        return found | qs.filter(**{f"{self.field_name}__icontains": f'"{value}"'})


class UserFilterSet(BaseFilterSet):
    search_fields = ("username", "first_name", "last_name", "email")

    username = django_filters.CharFilter(lookup_expr="icontains", label="Username contains")
    email = django_filters.CharFilter(lookup_expr="icontains", label="Email contains")

    class Meta:
        model = User
        fields = {"role": ["exact"], "is_active": ["exact"]}
