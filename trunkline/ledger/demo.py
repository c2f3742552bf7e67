"""Demo balances through the ledger: each demo customer without entries gets a believable opening balance (prepaid
ones a top-up, postpaid ones part of their credit used), deterministic like the demo customers themselves."""

from __future__ import annotations

import random
from decimal import Decimal

from django.db import transaction

from trunkline.customers.demo import demo_customers
from trunkline.customers.models import Customer
from trunkline.ledger.models import EntryKind, LedgerEntry
from trunkline.ledger.services import Posting, ledger_post

DEMO_REASON = "Demo opening balance"


def demo_opening_balances() -> int:
    """Post the opening entries; returns how many. Customers with entries already are left as they are."""
    rng = random.Random(20261207)
    customers = Customer.objects.in_bulk([data["name"] for data in demo_customers()], field_name="name")
    with_entries = set(LedgerEntry.objects.filter(customer__in=customers.values()).values_list("customer_id",
                                                                                               flat=True).distinct())
    postings = []
    for data in demo_customers():
        # Drawn for every demo customer, so each one's amount is the same whichever of them already have entries.
        prepaid_top_up = Decimal(rng.randrange(2_500, 50_000)) / 100
        credit_used = Decimal(rng.randrange(0, 60)) / 100
        customer = customers.get(data["name"])
        if customer is None or customer.pk in with_entries:
            continue
        amount = -(customer.debit_limit * credit_used).quantize(Decimal("0.01")) if customer.debit_limit \
            else prepaid_top_up
        if amount:
            postings.append(Posting(customer_id=customer.pk, kind=EntryKind.OPENING, amount=amount,
                                    reason=DEMO_REASON))
    with transaction.atomic():
        ledger_post(postings=postings)
    return len(postings)
