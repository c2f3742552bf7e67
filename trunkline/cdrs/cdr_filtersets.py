"""Filters of the CDR list (GET /api/v1/cdrs/) and of the card's CDR tab, which adds date presets.

Every filter is bounded the way the database can take it: ids and SIP codes are checked integers, text goes through
Django's form fields (a NUL is a 400, not PostgreSQL's error), times are turned to UTC.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from trunkline.cdrs.models import Cdr, CdrSource
from trunkline.core.filtersets import BaseFilterSet, DateTimeFilter, NumberInFilter
from trunkline.customers.filtersets import CustomerInFilter

SIP_CODE_MIN = 100
SIP_CODE_MAX = 699


class RepeatableCSVWidget(django_filters.widgets.BaseCSVWidget, forms.TextInput):
    """Several values either comma-separated (`?sip_code=486,503`, as the API documents) or repeated
    (`?sip_code=486&sip_code=503`, as a form's multiple select sends them); blanks dropped, first order kept."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str] | None:
        if name not in data:
            return None
        raw = data.getlist(name) if isinstance(data, MultiValueDict) else [data.get(name)]
        values = [part.strip() for value in raw if isinstance(value, str) for part in value.split(",")]
        return list(dict.fromkeys(value for value in values if value))


class SipCodeFilter(NumberInFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(min_value=SIP_CODE_MIN, max_value=SIP_CODE_MAX, widget=RepeatableCSVWidget)
        super().__init__(*args, **kwargs)


class TextInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", RepeatableCSVWidget)
        super().__init__(*args, **kwargs)


class CdrFilterSet(BaseFilterSet):
    """`?customer=N&start_after=2026-12-01T00:00:00Z&connected=true&number=4420&sip_code=486,503`."""

    search_fields = ("call_id", "cli", "dst", "customer_dest_name")
    # CDRs carry start and created_at, not the change-logged created/updated.
    created__gte = None
    created__lte = None
    updated__gte = None
    updated__lte = None

    customer = CustomerInFilter()
    provider = NumberInFilter(field_name="provider", label="Provider IDs")
    call_id = django_filters.CharFilter(label="Call ID")
    leg = django_filters.CharFilter(label="Leg")
    start_after = DateTimeFilter(field_name="start", lookup_expr="gte", label="Call time at or after (ISO 8601)")
    start_before = DateTimeFilter(field_name="start", lookup_expr="lt", label="Call time before (ISO 8601)")
    connected = django_filters.BooleanFilter(method="filter_connected", label="Connected (answered) only")
    number = django_filters.CharFilter(method="filter_number", label="Number (source or destination, starts with)")
    release_reason = TextInFilter(field_name="release_reason", label="Release reasons")
    sip_code = SipCodeFilter(field_name="sip_code", label="SIP codes")
    source = django_filters.ChoiceFilter(choices=CdrSource.choices, label="Source")

    class Meta:
        model = Cdr
        fields = ()

    def filter_connected(self, queryset: QuerySet[Cdr], name: str, value: bool) -> QuerySet[Cdr]:
        return queryset.filter(answer__isnull=not value)

    def filter_number(self, queryset: QuerySet[Cdr], name: str, value: str) -> QuerySet[Cdr]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(cli__startswith=value) | Q(dst__startswith=value))


PERIODS = (
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("last_7_days", "Last 7 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("custom", "Custom range"),
    ("any", "Any time"),
)
DEFAULT_PERIOD = "last_7_days"


def period_range(period: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The UTC interval [start, end) of a date preset, whole UTC days (domain.md §5.3: CDRs are dated in UTC).
    "Last 7 days" is today and the six days before it. None for "custom" and "any" (no preset bound)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = timedelta(days=1)
    month_start = today.replace(day=1)
    match period:
        case "today":
            return today, today + day
        case "yesterday":
            return today - day, today
        case "last_7_days":
            return today - 6 * day, today + day
        case "this_month":
            days = calendar.monthrange(month_start.year, month_start.month)[1]
            return month_start, month_start + days * day
        case "last_month":
            previous = (month_start - day).replace(day=1)
            return previous, month_start
    return None


class CdrTabFilterSet(CdrFilterSet):
    """The CDR tab's filters: the API's, plus a date preset (`?period=yesterday`); "custom" leaves the range to
    start_after and start_before."""

    period = django_filters.ChoiceFilter(choices=PERIODS, method="filter_period", empty_label=None,
                                         label="Date (UTC)")

    def filter_period(self, queryset: QuerySet[Cdr], name: str, value: str) -> QuerySet[Cdr]:
        bounds = period_range(value, timezone.now())
        if bounds is None:
            return queryset
        return queryset.filter(start__gte=bounds[0], start__lt=bounds[1])
