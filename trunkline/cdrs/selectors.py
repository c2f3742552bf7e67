"""Reads of call records (DESIGN.md: the CDR store sits behind one selector module)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, QuerySet

from trunkline.cdrs.models import CallRecord
from trunkline.customers.models import Customer


def live_dialogs(customer: Customer | int | None = None) -> QuerySet[CallRecord]:
    """Live calls (routed, ringing or answered, and not past the switch's expiry), oldest first."""
    records = CallRecord.objects.live().select_related("customer", "provider").order_by("attempted_at", "id")
    if customer is not None:
        records = records.filter(customer=customer)
    return records


def channels_in_use(customer_ids: Iterable[int]) -> dict[int, int]:
    """{customer id: live dialogs} for each id asked (0 when none)."""
    ids = list(customer_ids)
    counts = {customer_id: 0 for customer_id in ids}
    if not ids:
        return counts
    for start in range(0, len(ids), 1000):  # SQLite's limit of variables per query
        rows = (CallRecord.objects.live().filter(customer_id__in=ids[start:start + 1000]).order_by()
                .values("customer_id").annotate(count=Count("id")).values_list("customer_id", "count"))
        counts.update(rows)
    return counts


def latest_calls(customer: Customer | int, limit: int = 50) -> list[CallRecord]:
    """The customer's most recent call records, newest first."""
    return list(CallRecord.objects.filter(customer=customer).select_related("provider")
                .order_by("-attempted_at", "-id")[:limit])
