"""Money and rate precision: the one place that owns these constants (DESIGN.md, "Money and time").

Stdlib only, so the switch can rate calls without Django; `trunkline.core.money` re-exports these names.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from enum import StrEnum

MONEY_MAX_DIGITS = 18
MONEY_PLACES = 6
RATE_PLACES = 6
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
# Charges and balances carry MONEY_PLACES; a charge that falls between two of them rounds half-up.
MONEY_ROUNDING = ROUND_HALF_UP


class RoundingMethod(StrEnum):
    """A card's "Rounding Method", applied at its "Billing Precision" (domain.md §2.3)."""

    UP = "up"
    DOWN = "down"
    HALF_UP = "half_up"
    HALF_DOWN = "half_down"

    @property
    def decimal_rounding(self) -> str:
        return _COST_ROUNDING[self]


class DurationRounding(StrEnum):
    """A card's "Duration Rounding" of fractional seconds (domain.md §2.3)."""

    FULL_DOWN = "full_down"
    FULL_UP = "full_up"
    HALF_UP = "half_up"
    HALF_DOWN = "half_down"

    @property
    def decimal_rounding(self) -> str:
        return _DURATION_ROUNDING[self]


# Charges are never negative, so "up" (away from zero) and "down" (towards zero) are ceiling and floor.
_COST_ROUNDING = {
    RoundingMethod.UP: ROUND_UP,
    RoundingMethod.DOWN: ROUND_DOWN,
    RoundingMethod.HALF_UP: ROUND_HALF_UP,
    RoundingMethod.HALF_DOWN: ROUND_HALF_DOWN,
}
_DURATION_ROUNDING = {
    DurationRounding.FULL_DOWN: ROUND_FLOOR,
    DurationRounding.FULL_UP: ROUND_CEILING,
    DurationRounding.HALF_UP: ROUND_HALF_UP,
    DurationRounding.HALF_DOWN: ROUND_HALF_DOWN,
}


def quantize_money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=MONEY_ROUNDING)
