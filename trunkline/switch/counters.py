"""The live counters decide() reads and never writes: channels up and calls started this second, per scope.

The SIP server keys them by (scope, id) and takes the reservation a decision names; decide() only compares.
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
    """Live counters of the SIP server: calls up now and calls started in the current second, per scope/id."""

    def channels(self, scope: str, key: int) -> int: ...

    def cps(self, scope: str, key: int) -> int: ...

    def reserved(self, customer_id: int) -> Decimal: ...


class MemoryCounters:
    """Counters held in dicts: for tests, the simulator and the benchmark."""

    __slots__ = ("_channels", "_cps", "_reserved")

    def __init__(self) -> None:
        self._channels: dict[tuple[str, int], int] = {}
        self._cps: dict[tuple[str, int], int] = {}
        self._reserved: dict[int, Decimal] = {}

    def set(self, scope: str, key: int, channels: int = 0, cps: int = 0) -> None:
        self._channels[scope, key] = channels
        self._cps[scope, key] = cps

    def reserve(self, customer_id: int, amount: Decimal) -> None:
        self._reserved[customer_id] = amount

    def channels(self, scope: str, key: int) -> int:
        return self._channels.get((scope, key), 0)

    def cps(self, scope: str, key: int) -> int:
        return self._cps.get((scope, key), 0)

    def reserved(self, customer_id: int) -> Decimal:
        return self._reserved.get(customer_id, _ZERO)
