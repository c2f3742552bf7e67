"""Money helpers for the Django apps (DESIGN.md, "Money and time").

The precision constants are owned by the stdlib-only `trunkline.contracts.money`, which the switch shares
without Django; they are re-exported here under their usual names.
"""

import re

from trunkline.contracts.money import MONEY_MAX_DIGITS as MONEY_MAX_DIGITS
from trunkline.contracts.money import MONEY_PLACES as MONEY_PLACES
from trunkline.contracts.money import MONEY_QUANTUM as MONEY_QUANTUM
from trunkline.contracts.money import RATE_PLACES as RATE_PLACES
from trunkline.contracts.money import quantize_money as quantize_money

SCIENTIFIC_NOTATION = re.compile(r"^\s*[+-]?(\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+\s*$")
SCIENTIFIC_NOTATION_MESSAGE = "Scientific notation such as {value} is not accepted; write the number in full."


def is_scientific_notation(value: object) -> bool:
    return isinstance(value, str) and bool(SCIENTIFIC_NOTATION.match(value))
