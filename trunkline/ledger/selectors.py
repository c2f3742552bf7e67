"""Reads of the ledger for the control panel."""

from __future__ import annotations

from trunkline.customers.models import Customer
from trunkline.ledger.models import LedgerEntry


def entries_page(customer: Customer, *, size: int, before: int | None = None,
                 after: int | None = None) -> tuple[list[LedgerEntry], bool, bool]:
    """A page of the customer's entries, newest first, by id: keyset paging, because a customer has one entry per
    call, millions of them, and a page far back must cost what the first does. `before`: the page older than that
    entry; `after`: the page newer than it. Returns (entries, has_newer, has_older)."""
    mine = LedgerEntry.objects.filter(customer=customer)
    entries = mine.select_related("created_by")
    rows: list[LedgerEntry] = []
    if after is not None:
        rows = list(entries.filter(id__gt=after).order_by("id")[:size])[::-1]
    if len(rows) < size:  # the newest page is always full
        rows = list((entries.filter(id__lt=before) if before is not None and after is None else entries)
                    .order_by("-id")[:size])
    if not rows:
        return [], False, False
    return rows, mine.filter(id__gt=rows[0].pk).exists(), mine.filter(id__lt=rows[-1].pk).exists()
