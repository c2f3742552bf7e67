import django_filters

from trunkline.core.filtersets import BaseFilterSet, DateTimeFilter, NumberInFilter
from trunkline.customers.filtersets import CustomerInFilter
from trunkline.ledger.models import EntryKind, LedgerEntry


class LedgerEntryFilterSet(BaseFilterSet):
    """`?customer=N&kind=adjustment&created_after=2026-12-01T00:00:00Z`: a customer's money movements."""

    search_fields = ("reference", "reason")
    # Entries carry created_at, not the change-logged created/updated.
    created__gte = None
    created__lte = None
    updated__gte = None
    updated__lte = None

    customer = CustomerInFilter()
    kind = django_filters.MultipleChoiceFilter(choices=EntryKind.choices)
    cdr_id = NumberInFilter(field_name="cdr_id", label="CDR IDs")
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte", label="Created at or after (ISO 8601)")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt", label="Created before (ISO 8601)")

    class Meta:
        model = LedgerEntry
        fields = ()
