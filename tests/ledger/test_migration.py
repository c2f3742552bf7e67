"""Migration 0002: balances set before the ledger existed become opening entries, so balance == sum(entries)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum

from trunkline.customers.models import Customer
from trunkline.ledger.models import LedgerEntry

BEFORE = [("ledger", "0001_initial")]
AFTER = [("ledger", "0002_opening_balances")]


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_every_non_zero_balance_gets_its_opening_entry_and_back() -> None:
    executor = migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        customers = old.get_model("customers", "Customer")
        for name, balance in (("Prepaid", "125.500001"), ("Postpaid", "-40"), ("Empty", "0")):
            customers.objects.create(name=name, currency="USD", balance=Decimal(balance))
        migrate(AFTER)
        assert sorted(LedgerEntry.objects.values_list("customer__name", "kind", "amount", "balance_after",
                                                      "reference")) == [
            ("Postpaid", "opening", Decimal("-40"), Decimal("-40"), "ledger migration 0002"),
            ("Prepaid", "opening", Decimal("125.500001"), Decimal("125.500001"), "ledger migration 0002"),
        ]
        for customer in Customer.objects.all():
            total = LedgerEntry.objects.filter(customer=customer).aggregate(total=Sum("amount"))["total"]
            assert customer.balance == (total or Decimal("0"))
        migrate(BEFORE)
        assert LedgerEntry.objects.count() == 0
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
