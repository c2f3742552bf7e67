"""What changes with every call, which decide() reads and never writes: balances, reservations, live counts.

None of it is in the routing snapshot (schema v3): a snapshot is rebuilt when an operator changes routing, while
these move with every call and charge. They are fed from the database by the web/worker side today
(`trunkline.routing.counters` for Simulate), by the switch's own live counters when calls arrive. The SIP server
keys live counts by (scope, id) and takes the reservation a decision names; decide() only compares.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

# Counter scopes, as the SIP server keys its live counters.
CUSTOMER = "customer"
IP_AUTH = "ip_auth"
SIP_USER = "sip_user"
ROUTE = "route"

_ZERO = Decimal(0)


class Counters(Protocol):
    """Calls up now and calls started in the current second, per scope/id; a customer's money."""

    def channels(self, scope: str, key: int) -> int: ...

    def cps(self, scope: str, key: int) -> int: ...

    def balance(self, customer_id: int) -> Decimal:
        """The customer's balance; may be negative (postpaid, within the debit limit)."""
        ...

    def reserved(self, customer_id: int) -> Decimal:
        """What calls up now have reserved and not yet charged."""
        ...


class MemoryCounters:
    """Counters held in dicts: for tests, the simulator and the benchmark. Unset means 0."""

    __slots__ = ("_balances", "_channels", "_cps", "_reserved")

    def __init__(self) -> None:
        self._channels: dict[tuple[str, int], int] = {}
        self._cps: dict[tuple[str, int], int] = {}
        self._balances: dict[int, Decimal] = {}
        self._reserved: dict[int, Decimal] = {}

    def set(self, scope: str, key: int, channels: int = 0, cps: int = 0) -> None:
        self._channels[scope, key] = channels
        self._cps[scope, key] = cps

    def set_balance(self, customer_id: int, amount: Decimal) -> None:
        self._balances[customer_id] = amount

    def reserve(self, customer_id: int, amount: Decimal) -> None:
        self._reserved[customer_id] = amount

    def channels(self, scope: str, key: int) -> int:
        return self._channels.get((scope, key), 0)

    def cps(self, scope: str, key: int) -> int:
        return self._cps.get((scope, key), 0)

    def balance(self, customer_id: int) -> Decimal:
        return self._balances.get(customer_id, _ZERO)

    def reserved(self, customer_id: int) -> Decimal:
        return self._reserved.get(customer_id, _ZERO)
