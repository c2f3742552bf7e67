"""Reservations: the money a live call holds against its customer's balance (DESIGN.md, "Live calls and money in
flight").

A routed call reserves the gross cost (net charge plus the customer's tax) of its first slice of talk time, or
what is available when that is less, as long as the first increment is covered. While it is up, the next slice
is reserved before the paid time runs out; when nothing more can be reserved, the call is ended at the end of its
paid time. Reservations are cumulative: after k slices a call holds the gross cost of a call of k slices, so the
charge of the call as it ends (at most its paid time) is within what it holds.

Pure arithmetic over rating.py: no I/O, Decimal money, integer seconds.
"""

from __future__ import annotations

from decimal import Decimal

from trunkline.contracts.money import quantize_money
from trunkline.contracts.snapshot import RateRow
from trunkline.switch.rating import billed_seconds, max_duration, rate_call

DEFAULT_SLICE = 60  # seconds of talk time a reservation buys (SWITCH_RESERVATION_SLICE, --slice)
DEFAULT_LEAD = 10  # seconds before the paid time runs out that the next slice is reserved (SWITCH_RESERVATION_LEAD)
COSTS_MEMO = 65_536

_HUNDRED = Decimal(100)
_ZERO = Decimal(0)
# (id(row), seconds, tax rate) -> (row, gross): the row is kept so its id cannot be reused while the entry lives.
_COSTS: dict[tuple[int, int, Decimal], tuple[RateRow, Decimal]] = {}


def gross_charge(row: RateRow, seconds: int, tax_rate: Decimal) -> Decimal:
    """What a connected call of `seconds` on `row` takes from the balance: the net charge plus tax at `tax_rate`
    percent, quantised to 6 places half-up (the ledger's rule)."""
    net = rate_call(row, seconds)
    return net + quantize_money(net * tax_rate / _HUNDRED) if tax_rate else net


def slice_cost(row: RateRow, seconds: int, tax_rate: Decimal) -> Decimal:
    """gross_charge(), memoised per rate row: the fast path asks it for every call."""
    key = (id(row), seconds, tax_rate)
    found = _COSTS.get(key)
    if found is None or found[0] is not row:
        if len(_COSTS) >= COSTS_MEMO:
            _COSTS.clear()
        found = _COSTS[key] = (row, gross_charge(row, seconds, tax_rate))
    return found[1]


def first_reserve(row: RateRow, tax_rate: Decimal, slice_seconds: int, max_seconds: int | None,
                  available: Decimal) -> Decimal:
    """The amount a routed call reserves: its first slice (no longer than its max duration), or `available`
    when that is less. The caller has checked that `available` covers the first increment."""
    seconds = slice_seconds if max_seconds is None or max_seconds > slice_seconds else max_seconds
    cost = slice_cost(row, seconds, tax_rate)
    return cost if cost <= available else available


def paid_seconds(row: RateRow, amount: Decimal, tax_rate: Decimal) -> int | None:
    """The longest call whose gross charge on `row` is within `amount`; None when the rate is free (no slice ever
    runs out). A billed call ends on the MCD/pulse grid, so the answer is on it (or the grace period)."""
    if not row.rate:
        return None
    net = amount * _HUNDRED / (_HUNDRED + tax_rate) if tax_rate else amount
    seconds = max_duration(row, net)
    assert seconds is not None  # the rate is not free
    # Tax is rounded per call: the net budget's answer can be one step too long; step back along the grid.
    while seconds > row.grace and gross_charge(row, seconds, tax_rate) > amount:
        billed = billed_seconds(seconds, row.grace, row.mcd, row.pulse)
        seconds = row.grace if billed <= row.mcd else billed - row.pulse
    if seconds <= row.grace and gross_charge(row, seconds, tax_rate) > amount:
        return 0
    return seconds
