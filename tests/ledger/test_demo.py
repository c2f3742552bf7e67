"""Demo balances go through the ledger: an opening entry per demo customer, the balance their sum, idempotent."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum

from trunkline.core.context import change_context
from trunkline.customers.demo import demo_customers, demo_customers_create
from trunkline.customers.models import Customer
from trunkline.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("demo_balances", stdout=out)
    return out.getvalue()


def test_each_demo_customer_gets_an_opening_entry_once() -> None:
    with change_context(source="test"), transaction.atomic():
        demo_customers_create()
    count = len(demo_customers())
    assert run() == f"Demo balances: {count} opening ledger entries posted.\n"
    assert LedgerEntry.objects.filter(kind="opening", reason="Demo opening balance").count() == count
    for customer in Customer.objects.all():
        total = LedgerEntry.objects.filter(customer=customer).aggregate(total=Sum("amount"))["total"]
        assert customer.balance == total
        if customer.debit_limit:
            assert -customer.debit_limit < customer.balance <= 0
        else:
            assert Decimal("25") <= customer.balance < Decimal("500")
    balances = dict(Customer.objects.values_list("name", "balance"))
    assert run() == "Demo balances: 0 opening ledger entries posted.\n"
    assert dict(Customer.objects.values_list("name", "balance")) == balances
