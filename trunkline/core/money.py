"""Money and rate precision: the one place that owns these constants (DESIGN.md, "Money and time")."""

import re
from decimal import ROUND_HALF_UP, Decimal

MONEY_MAX_DIGITS = 18
MONEY_PLACES = 6
RATE_PLACES = 6
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)

SCIENTIFIC_NOTATION = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+\s*$")
SCIENTIFIC_NOTATION_MESSAGE = "Scientific notation such as {value} is not accepted; write the number in full."


def quantize_money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)


def is_scientific_notation(value: object) -> bool:
    return isinstance(value, str) and bool(SCIENTIFIC_NOTATION.match(value))
