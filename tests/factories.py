"""Builders for test data; every write runs in a change context, as real writers do."""

from decimal import Decimal
from itertools import count
from typing import Any

from trunkline.core.context import change_context
from trunkline.customers.models import Customer

_sequence = count(1)


def make_customer(**fields: Any) -> Customer:
    number = next(_sequence)
    data: dict[str, Any] = {
        "name": f"Customer {number:04d}",
        "currency": "USD",
        "status": "active",
        "debit_limit": Decimal("0"),
    }
    data.update(fields)
    with change_context(source="test"):
        customer = Customer(**data)
        customer.full_clean()
        customer.save()
    return customer
