"""Tables for list views: declared columns, per-operator visible columns and order, sorting, row groups."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Model, QuerySet, Sum
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from trunkline.core.formats import utc_text

EMPTY = mark_safe('<span class="muted">—</span>')


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    accessor: str = ""
    order_by: str = ""  # the field to sort on; "" = not sortable
    numeric: bool = False  # right-aligned, summed and averaged in row groups
    money: bool = False  # an amount in the row's currency: summed only within one currency
    groupable: bool = False  # may be chosen as the row-group column
    link: bool = False  # links to the object
    formatter: Callable[[Any, Model], Any] | None = None
    group_label: Callable[[Any], str] | None = None  # a group's value as shown; default: the field's choice label

    def value(self, obj: Model) -> Any:
        value: Any = obj
        for part in (self.accessor or self.name).split("."):
            value = getattr(value, part, None)
            if callable(value):
                value = value()
        return value

    def render(self, obj: Model) -> Any:
        value = self.value(obj)
        if self.formatter is not None:
            value = self.formatter(value, obj)
        elif isinstance(value, bool):
            value = format_html('<span class="bool bool-{}">{}</span>', "yes" if value else "no",
                                "Yes" if value else "No")
        elif isinstance(value, datetime):
            value = utc_text(value)
        elif isinstance(value, list) and value:
            value = format_html_join_tags(value)
        elif value is None or value == "" or value == []:
            value = EMPTY
        if self.link:
            return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), value)
        return value

    def export(self, obj: Model) -> str:
        value = self.value(obj)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)


def format_html_join_tags(tags: Iterable[str]) -> Any:
    from django.utils.html import format_html_join

    return format_html_join("", '<span class="tag">{}</span>', ((tag,) for tag in tags))


class Table:
    """A table class declares every available column and the default visible ones.

    `configure(preference)` applies the operator's saved columns. Group-by aggregates are computed in
    the database: COUNT per group, SUM and AVG of every numeric column.
    """

    columns: tuple[Column, ...] = ()
    default_columns: tuple[str, ...] = ()
    exempt_columns: tuple[str, ...] = ()  # always shown, first (the name that opens the object)
    currency_field: str | None = None  # the field that gives money columns their currency

    def __init__(self, visible: Iterable[str] | None = None) -> None:
        self.by_name = {column.name: column for column in self.columns}
        self.set_visible(visible if visible is not None else self.default_columns)

    @classmethod
    def preference_key(cls) -> str:
        return f"tables.{cls.__name__}.columns"

    def set_visible(self, names: Iterable[str]) -> None:
        chosen = [n for n in names if n in self.by_name and n not in self.exempt_columns]
        self.visible = [self.by_name[n] for n in (*self.exempt_columns, *chosen)]

    @property
    def hidden(self) -> list[Column]:
        shown = {column.name for column in self.visible}
        return [column for column in self.columns if column.name not in shown]

    @property
    def configurable(self) -> list[tuple[Column, bool]]:
        """Every column but the exempt ones, visible first in their order, for the Columns popout."""
        shown = [(c, True) for c in self.visible if c.name not in self.exempt_columns]
        return shown + [(c, False) for c in self.hidden]

    @property
    def groupable(self) -> list[Column]:
        return [column for column in self.columns if column.groupable]

    @property
    def orderable(self) -> dict[str, str]:
        return {column.name: column.order_by for column in self.columns if column.order_by}

    def rows(self, objects: Iterable[Model]) -> list[tuple[Model, list[tuple[Column, Any]]]]:
        return [(obj, [(column, column.render(obj)) for column in self.visible]) for obj in objects]

    def numeric_columns(self, *, money: bool = True) -> list[Column]:
        return [c for c in self.visible if c.numeric and c.order_by and (money or not c.money)]

    def group(self, queryset: QuerySet, column: Column) -> GroupedRows:
        """One row per value of `column`: its count and the SUM / AVG of each visible numeric column, plus the
        same over all rows, from ONE grouped query. Money is never added up across currencies: when money
        columns are visible the query also groups by currency, and money sums and averages are kept per currency
        ("EUR 5.00 · USD 10.00"), in each group and in the totals (grouped by currency, too)."""
        field = column.order_by
        numeric = self.numeric_columns()
        currency = self.currency_field if any(c.money for c in numeric) else None
        keys = [field] if currency in (None, field) else [field, currency]
        aggregates: dict[str, Any] = {"count": Count("pk")}
        for c in numeric:
            aggregates[f"sum__{c.name}"] = Sum(c.order_by)
            aggregates[f"n__{c.name}"] = Count(c.order_by)  # AVG ignores NULLs: so does the count behind it
        rows = list(queryset.order_by().values(*keys).annotate(**aggregates).order_by(*keys))

        # Fold the per-currency rows into one per group value, and everything into the totals.
        merged: dict[Any, _Sums] = {}
        overall = _Sums(numeric, currency)
        for row in rows:
            group = merged.setdefault(row[field], _Sums(numeric, currency))
            for sums in (group, overall):
                sums.add(row)
        labelled = column.group_label or partial(_group_label, queryset.model, field)
        groups = [{"value": value, "label": labelled(value), "count": sums.count,
                   "aggregates": sums.cells()} for value, sums in merged.items()]
        return GroupedRows(column=column, numeric=numeric, groups=groups, count=overall.count,
                           totals=overall.cells())


@dataclass(frozen=True)
class PerCurrency:
    """A sum or average of a money column, one amount per currency (in currency order); str() is how an export
    writes it: "EUR 300.00 · USD 150.50"."""

    amounts: tuple[tuple[str, Decimal], ...]

    def __str__(self) -> str:
        return " · ".join(f"{currency} {amount:.2f}" for currency, amount in self.amounts)


class _Sums:
    """Running count, and SUM and non-null count per numeric column (per currency for money), of grouped rows."""

    def __init__(self, columns: list[Column], currency: str | None) -> None:
        self.columns = columns
        self.currency = currency  # the row key holding the currency; None: money is summed as any number
        self.count = 0
        # Per column, per currency ("" for a column that is not money, or a table without currencies).
        self.sums: dict[str, dict[str, Any]] = {c.name: {} for c in columns}
        self.counts: dict[str, dict[str, int]] = {c.name: {} for c in columns}

    def add(self, row: dict[str, Any]) -> None:
        self.count += row["count"]
        for c in self.columns:
            key = row[self.currency] if c.money and self.currency else ""
            value = row[f"sum__{c.name}"]
            if value is not None:
                sums = self.sums[c.name]
                sums[key] = value if sums.get(key) is None else sums[key] + value
            self.counts[c.name][key] = self.counts[c.name].get(key, 0) + row[f"n__{c.name}"]

    def cells(self) -> list[tuple[Column, Any, Any]]:
        """(column, sum, average) per column; the average is the sum over the non-null count, as AVG does."""
        cells = []
        for c in self.columns:
            sums, counts = self.sums[c.name], self.counts[c.name]
            if c.money and self.currency:
                keys = sorted(sums)
                cells.append((c, PerCurrency(tuple((k, _round(sums[k])) for k in keys)),
                              PerCurrency(tuple((k, _average(sums[k], counts[k])) for k in keys))))
            else:
                cells.append((c, sums.get(""), _average(sums.get(""), counts.get("", 0))))
        return cells


@dataclass
class GroupedRows:
    column: Column
    numeric: list[Column]
    groups: list[dict[str, Any]]
    count: int
    totals: list[tuple[Column, Any, Any]]


def _average(total: Any, count: int) -> Any:
    if total is None or not count:
        return None
    return _round(Decimal(total) / count)


def _round(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    return value


def _group_label(model: type[Model], field: str, value: Any) -> str:
    if value in (None, ""):
        return "(blank)"
    try:
        model_field = model._meta.get_field(field)
    except FieldDoesNotExist:  # a related model's field (provider__name): its value is what people read
        return str(value)
    choices = dict(model_field.flatchoices or ())
    return str(choices.get(value, value))
