"""Integers as the databases can hold them, and strict parsing of digits typed into URLs.

SQLite's only integer and PostgreSQL's bigint are 64-bit: a larger value sent to SQLite raises OverflowError in
the driver (a 500), so every integer that reaches a query from a request is bounded to this range first.
"""

DB_INT_MIN = -(2**63)
DB_INT_MAX = 2**63 - 1
_DB_INT_DIGITS = len(str(DB_INT_MAX))


def ascii_int(value: object) -> int | None:
    """`value` as a non-negative integer a query can take, or None.

    Only ASCII digits: str.isdigit() also accepts "²", "³" and other scripts' digits, which int() then refuses
    ("²") or reads as a number nobody typed ("٣").
    """
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > _DB_INT_DIGITS:  # int() of more than 4,300 digits raises: such a string never reaches it
        return None
    number = int(digits)
    return number if number <= DB_INT_MAX else None
