"""Call rating: billed seconds, charges and the longest call the money buys (DESIGN.md, "Money and time").

Everything is integer seconds and Decimal money; these run for every call decision and every CDR, so they
are plain arithmetic with no allocation beyond the Decimals they return.
"""

from __future__ import annotations

from decimal import Decimal

from trunkline.contracts.money import MONEY_PLACES, MONEY_ROUNDING, DurationRounding
from trunkline.contracts.snapshot import RateRow

_SIXTY = Decimal(60)
# Index = decimal places. A card's billing precision is at most the ledger's MONEY_PLACES.
_QUANTA = tuple(Decimal(1).scaleb(-places) for places in range(MONEY_PLACES + 1))


def billed_seconds(duration: int, grace: int, mcd: int, pulse: int) -> int:
    """0 if `duration` <= `grace`; else `mcd` if `duration` <= `mcd`; else `mcd` plus whole pulses."""
    if duration <= grace:
        return 0
    if duration <= mcd:
        return mcd
    return mcd - (mcd - duration) // pulse * pulse  # -((m - d) // p) is ceil((d - m) / p) without floats


def charge(rate: Decimal, connection_fee: Decimal, billed: int | Decimal, places: int = MONEY_PLACES,
           rounding: str = MONEY_ROUNDING) -> Decimal:
    """Connection fee + rate per minute x billed seconds / 60, rounded once to `places` (a card's Billing
    Precision; default the ledger's).

    The fee is due on every connected call, a call inside the grace period included (billed 0 s): DESIGN.md's
    formula has no exception. `rounding` is a `decimal` rounding mode (see RoundingMethod.decimal_rounding).
    A quotient by 60 either terminates or ends in repeating 3s or 6s, so the context's 28-digit rounding of it
    never moves the result across a rounding boundary at `places`.
    """
    return (connection_fee + rate * billed / _SIXTY).quantize(_QUANTA[places], rounding=rounding)


def rate_call(row: RateRow, duration: int) -> Decimal:
    """The charge, at the ledger's precision, of a connected call of `duration` seconds on `row`."""
    return charge(row.rate, row.connection_fee, billed_seconds(duration, row.grace, row.mcd, row.pulse))


def first_increment_charge(row: RateRow) -> Decimal:
    """What the shortest billed call costs on `row`: the money a call must be able to cover to start."""
    return charge(row.rate, row.connection_fee, billed_seconds(row.grace + 1, row.grace, row.mcd, row.pulse))


def max_duration(row: RateRow, available: Decimal) -> int | None:
    """The longest call, in seconds, whose charge on `row` stays within `available`.

    After the connection fee the money buys billed seconds; the answer is the MCD plus the whole pulses that
    fit (a call ending inside a pulse pays for all of it), and never less than the grace period, whose calls
    cost the fee alone. 0 when the fee is not covered; None when the rate is free (the caller then applies the
    route's max_duration).
    """
    remaining = available - row.connection_fee
    if remaining < 0:
        return 0
    if not row.rate:
        return None
    affordable = int(remaining * _SIXTY // row.rate)
    if affordable < row.mcd:
        return row.grace
    return max(row.mcd + (affordable - row.mcd) // row.pulse * row.pulse, row.grace)


def round_duration(seconds: Decimal, method: DurationRounding) -> int:
    """A fractional call duration as whole seconds, by the card's Duration Rounding (domain.md §2.3)."""
    return int(seconds.to_integral_value(rounding=method.decimal_rounding))
