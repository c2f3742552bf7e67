"""Builders for test data; every write runs in a change context, as real writers do."""

from decimal import Decimal
from itertools import count
from typing import Any

from django.db import transaction

from trunkline.core.context import change_context
from trunkline.customers.models import Contact, Customer
from trunkline.customers.services import contact_save
from trunkline.ledger.models import EntryKind
from trunkline.ledger.services import Posting, ledger_post

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
    # The balance moves only through the ledger: a wanted balance is the customer's opening entry.
    balance = data.pop("balance", Decimal("0"))
    with change_context(source="test"), transaction.atomic():
        customer = Customer(**data)
        customer.full_clean()
        customer.save()
        if balance:
            ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.OPENING, amount=balance)])
            customer.refresh_from_db(fields=["balance"])
    return customer


def make_contact(customer: Customer | None = None, *, password: str = CONTACT_PASSWORD, **fields: Any) -> Contact:
    """A contact saved through contact_save() with a typed password (CONTACT_PASSWORD unless given)."""
    number = next(_sequence)
    data: dict[str, Any] = {"name": f"Contact {number:04d}", "email": f"contact{number:04d}@example.test"}
    data.update(fields)
    customer = customer or make_customer()
    with change_context(source="test"):
        return contact_save(contact=Contact(customer=customer, **data), password=password)
