import django_filters

from trunkline.cdrs.choices import CallState
from trunkline.cdrs.models import CallRecord
from trunkline.core.filtersets import BaseFilterSet, DateTimeFilter, NumberInFilter
from trunkline.customers.filtersets import CustomerInFilter


class CallRecordFilterSet(BaseFilterSet):
    """`?customer=N&attempted_after=2026-12-06T20:00:00Z&sip_code=503`: a customer's calls, by time and answer."""

    search_fields = ("call_id", "cli", "dst", "cli_in", "dst_in")
    # Records carry attempted_at and updated_at, not the change-logged created/updated.
    created__gte = None
    created__lte = None
    updated__gte = None
    updated__lte = None

    customer = CustomerInFilter()
    call_id = django_filters.CharFilter(label="Call ID")
    attempted_after = DateTimeFilter(field_name="attempted_at", lookup_expr="gte",
                                     label="Attempted at or after (ISO 8601)")
    attempted_before = DateTimeFilter(field_name="attempted_at", lookup_expr="lt",
                                      label="Attempted before (ISO 8601)")
    sip_code = NumberInFilter(field_name="sip_code", label="SIP codes")
    state = django_filters.MultipleChoiceFilter(choices=CallState.choices)
    provider = NumberInFilter(field_name="provider", label="Provider IDs")
    cli = django_filters.CharFilter(lookup_expr="icontains", label="CLI contains")
    dst = django_filters.CharFilter(lookup_expr="icontains", label="Destination contains")

    class Meta:
        model = CallRecord
        fields = ()


class DialogFilterSet(BaseFilterSet):
    """Live dialogs of `?customer=N` (several: `?customer=3,7`)."""

    search_fields = ("call_id", "cli", "dst")
    created__gte = None
    created__lte = None
    updated__gte = None
    updated__lte = None

    customer = CustomerInFilter()
    provider = NumberInFilter(field_name="provider", label="Provider IDs")
    state = django_filters.MultipleChoiceFilter(choices=[(state.value, state.label) for state in
                                                         (CallState.ROUTED, CallState.RINGING, CallState.ANSWERED)])

    class Meta:
        model = CallRecord
        fields = ()
