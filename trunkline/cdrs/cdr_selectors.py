"""Reads of rated CDRs for pages that show calls (Latest Calls)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from trunkline.cdrs.models import Cdr
from trunkline.core.forms import display_decimal


@dataclass(frozen=True)
class CallRating:
    """What Latest Calls shows of a call's CDR."""

    cdr_id: int
    destination: str  # the customer destination name, else its code; "" when the call could not be rated
    billed: int  # seconds
    charge: str  # net, as the panel writes amounts: 0.0758, 0.00
    currency: str


def ratings_by_call_id(call_ids: Iterable[str]) -> dict[str, CallRating]:
    """The rating of each call id that has a CDR, in one query. A call with several legs shows its first leg (by
    leg name, "a" before "b"): Latest Calls has one row per call."""
    ids = list(dict.fromkeys(call_ids))
    if not ids:
        return {}
    found: dict[str, CallRating] = {}
    rows = (Cdr.objects.filter(call_id__in=ids).order_by("call_id", "leg")
            .values_list("call_id", "pk", "customer_dest_name", "customer_dest_code", "customer_billed",
                         "customer_charge", "customer_currency"))
    for call_id, pk, name, code, billed, charge, currency in rows:
        if call_id not in found:
            found[call_id] = CallRating(cdr_id=pk, destination=name or code, billed=billed,
                                        charge=display_decimal(charge), currency=currency)
    return found
