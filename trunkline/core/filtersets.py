import json
from datetime import UTC
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
from django_filters.fields import IsoDateTimeField
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS

from trunkline.core.integers import DB_INT_MAX, DB_INT_MIN
from trunkline.core.models import User


class IntegerFilter(django_filters.NumberFilter):
    """A whole number within the databases' 64-bit range: SQLite's driver raises OverflowError (a 500) on a larger
    one, and django-filter's NumberFilter takes decimals up to 1e50."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", DB_INT_MIN)
        kwargs.setdefault("max_value", DB_INT_MAX)
        super().__init__(*args, **kwargs)

    def get_max_validator(self) -> None:
        return None  # max_value above is the bound


class NumberInFilter(django_filters.BaseInFilter, IntegerFilter):
    """Several ids (`?id=1,2`), each validated: "abc" or 2^64 is a 400, not a database error."""


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, turned to UTC: PostgreSQL refuses a UTC offset beyond ±15:59 (Python takes up
    to ±23:59), and the same instant in UTC is what the filter means."""

    def to_python(self, value: Any) -> Any:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError as error:  # 0001-01-01T00:00+01:00 is a time in year 0
            raise forms.ValidationError("Enter a date and time between the years 1 and 9999 in UTC.",
                                        code="overflow") from error


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


# What a filter set makes of a model field it lists in Meta.fields: integers and date-times get the bounded
# filters above instead of django-filter's own.
BOUNDED_FILTER_DEFAULTS = {
    **FILTER_FOR_DBFIELD_DEFAULTS,
    **{field: {"filter_class": IntegerFilter} for field in FILTER_FOR_DBFIELD_DEFAULTS
       if issubclass(field, models.IntegerField)},
    models.DateTimeField: {"filter_class": DateTimeFilter},
}


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

    FILTER_DEFAULTS = BOUNDED_FILTER_DEFAULTS
    search_fields: tuple[str, ...] = ()

    q = django_filters.CharFilter(method="search", label="Search")
    id = NumberInFilter(field_name="id", label="IDs")
    created__gte = DateTimeFilter(field_name="created", lookup_expr="gte", label="Created after")
    created__lte = DateTimeFilter(field_name="created", lookup_expr="lte", label="Created before")
    updated__gte = DateTimeFilter(field_name="updated", lookup_expr="gte", label="Updated after")
    updated__lte = DateTimeFilter(field_name="updated", lookup_expr="lte", label="Updated before")

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
