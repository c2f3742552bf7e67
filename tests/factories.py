"""Builders for test data; every write runs in a change context, as real writers do."""

from decimal import Decimal
from itertools import count
from typing import Any

from trunkline.core.context import change_context
from trunkline.customers.models import Contact, Customer
from trunkline.customers.services import contact_save

_sequence = count(1)

CONTACT_PASSWORD = "Plum-Kettle-Orbit-42"


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


def make_contact(customer: Customer | None = None, *, password: str = CONTACT_PASSWORD, **fields: Any) -> Contact:
    """A contact saved through contact_save() with a typed password (CONTACT_PASSWORD unless given)."""
    number = next(_sequence)
    data: dict[str, Any] = {"name": f"Contact {number:04d}", "email": f"contact{number:04d}@example.test"}
    data.update(fields)
    customer = customer or make_customer()
    with change_context(source="test"):
        return contact_save(contact=Contact(customer=customer, **data), password=password)
