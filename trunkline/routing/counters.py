"""The switch's `Counters` fed from the database, for decisions made on the web/worker side (Simulate).

Balances left the routing snapshot (schema v3): they move with every charge, so the switch reads them through
its `Counters` interface, fed from the database by the web/worker side today and by the switch's own live
counters when calls arrive. Until the live-calls issue records calls, nothing is reserved and no call is up.
"""

from __future__ import annotations

from decimal import Decimal

from trunkline.customers.models import Customer

_ZERO = Decimal(0)


class DatabaseCounters:
    """A customer's balance read from its row, once per customer per instance; reservations and live counts 0."""

    __slots__ = ("_balances",)

    def __init__(self) -> None:
        self._balances: dict[int, Decimal] = {}

    def balance(self, customer_id: int) -> Decimal:
        found = self._balances.get(customer_id)
        if found is None:
            row = Customer.objects.filter(pk=customer_id).values_list("balance", flat=True).first()
            found = self._balances[customer_id] = _ZERO if row is None else row
        return found

    def reserved(self, customer_id: int) -> Decimal:
        return _ZERO

    def tax_rate(self, customer_id: int) -> Decimal:
        row = Customer.objects.filter(pk=customer_id).values_list("tax_rate", flat=True).first()
        return _ZERO if row is None else row

    def channels(self, scope: str, key: int) -> int:
        return 0

    def cps(self, scope: str, key: int) -> int:
        return 0
