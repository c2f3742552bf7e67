"""Rate deck CSV parsing and validation in pure Python (no Django, no database).

A deck of 500,000 rows must import in seconds (DESIGN.md, "Performance targets"; peers.md §4: peers break at
10-15k rows), so a row is checked by plain string tests and turned into a tuple, never into a model instance
or a serializer. The model's field validators say the same things for rows edited through the API.

Rows are numbered as the file counts them: the first line of the file is row 1, whatever `start_row` skips.
Every error is keyed "row N" and then by field, as the other bulk imports report them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from trunkline.contracts.money import MONEY_MAX_DIGITS, RATE_PLACES
from trunkline.core.bulk_import import add_row_error
from trunkline.core.csv_safety import unquote_cell
from trunkline.core.money import SCIENTIFIC_NOTATION_MESSAGE, is_scientific_notation

# The export writes these columns in this order, so an exported file imports back with the defaults.
COLUMNS = ("prefix", "name", "rate", "connection_fee", "mcd", "pulse", "grace", "status")
REQUIRED_COLUMNS = ("prefix", "rate")
SKIP_MARKERS = frozenset({"", "-", "skip"})
PREFIX_MAX_LENGTH = 20
NAME_MAX_LENGTH = 100
STATUSES = ("active", "blocked")
# Errors beyond this many rows are counted, not listed: a wrong mapping on a 500k-row file would otherwise
# answer with a 100 MB error document.
MAX_LISTED_ERRORS = 1000
# How often a long import reports how far it has got (rows).
PROGRESS_EVERY = 10_000

_INTEGER_DIGITS = MONEY_MAX_DIGITS - RATE_PLACES
_AMOUNT = re.compile(rf"^(\d{{1,{_INTEGER_DIGITS}}}(\.\d{{0,{RATE_PLACES}}})?|\.\d{{1,{RATE_PLACES}}})$")
_NUMBER = re.compile(r"^[+-]?(\d+(?:\.\d*)?|\.\d+)$")
ZERO = Decimal(0)


class RateValues(NamedTuple):
    prefix: str
    name: str
    rate: Decimal
    connection_fee: Decimal
    mcd: int
    pulse: int
    grace: int
    status: str


class MappingError(ValueError):
    """The column mapping itself is wrong: nothing of the file was read."""


@dataclass
class ParseResult:
    rows: list[RateValues] = field(default_factory=list)
    errors: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    error_rows: int = 0  # every row with an error, listed or not

    def add_error(self, row_number: int, field_name: str, message: str) -> None:
        add_row_error(self, row_number, field_name, message, listed=MAX_LISTED_ERRORS)


def parse_columns(columns: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The field each CSV column holds, by position; "" or "-" or "skip" leaves a column unread.

    `None` means the export's layout (COLUMNS)."""
    if columns is None:
        return COLUMNS
    names = columns.split(",") if isinstance(columns, str) else list(columns)
    mapping = tuple(str(name).strip().lower() for name in names)
    problems = []
    unknown = [name for name in mapping if name not in SKIP_MARKERS and name not in COLUMNS]
    if unknown:
        problems.append(f"Unknown column {', '.join(repr(n) for n in unknown)}; columns are "
                        f"{', '.join(COLUMNS)} (or '-' to skip a column).")
    used = [name for name in mapping if name not in SKIP_MARKERS]
    twice = sorted({name for name in used if used.count(name) > 1})
    if twice:
        problems.append(f"Column {', '.join(repr(n) for n in twice)} is mapped more than once.")
    missing = [name for name in REQUIRED_COLUMNS if name not in used]
    if missing:
        problems.append(f"The mapping needs a {' and a '.join(repr(n) for n in missing)} column.")
    if problems:
        raise MappingError(" ".join(problems))
    return mapping


def _amount(result: ParseResult, number: int, name: str, cell: str) -> Decimal | None:
    if _AMOUNT.match(cell):
        return Decimal(cell)
    if is_scientific_notation(cell):
        message = SCIENTIFIC_NOTATION_MESSAGE.format(value=cell)
    elif _NUMBER.match(cell):
        if cell.startswith("-"):
            message = f"'{cell}' is negative; give 0 or more."
        elif "." in cell and len(cell.split(".", 1)[1]) > RATE_PLACES:
            message = f"'{cell}' has more than {RATE_PLACES} decimal places; rates are never rounded on import."
        else:
            message = f"'{cell}' has more than {_INTEGER_DIGITS} digits before the decimal point."
    else:
        message = f"'{cell}' is not a number."
    result.add_error(number, name, message)
    return None


def _seconds(result: ParseResult, number: int, name: str, cell: str, minimum: int) -> int | None:
    if cell.isascii() and cell.isdigit() and int(cell) >= minimum:
        return int(cell)
    if is_scientific_notation(cell):
        message = SCIENTIFIC_NOTATION_MESSAGE.format(value=cell)
    else:
        message = f"'{cell}' is not a whole number of seconds of at least {minimum}."
    result.add_error(number, name, message)
    return None


def parse_rates(text: str, *, start_row: int = 2, columns: tuple[str, ...] = COLUMNS,
                progress: Callable[[int], None] | None = None) -> ParseResult:
    """Every row from `start_row` on, validated; `result.rows` is complete only when `result.errors` is empty."""
    result = ParseResult()
    slots = {name: position for position, name in enumerate(columns) if name not in SKIP_MARKERS}
    needed = max(slots.values()) + 1
    get = slots.get
    p_prefix, p_rate = slots["prefix"], slots["rate"]
    p_name, p_fee, p_status = get("name"), get("connection_fee"), get("status")
    p_mcd, p_pulse, p_grace = get("mcd"), get("pulse"), get("grace")
    first_row: dict[str, int] = {}
    rows = result.rows
    # newline="": CR-only line ends (old spreadsheets) end rows too.
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    number = 0
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as error:
            result.add_error(number + 1, "row", f"Unreadable CSV: {error}.")
            break
        if cells is None:
            break
        number += 1
        if number < start_row:
            continue
        if progress is not None and (number - start_row + 1) % PROGRESS_EVERY == 0:
            progress(number - start_row + 1)
        if not any(cell.strip() for cell in cells):
            result.add_error(number, "row", "The row is empty; remove it.")
            continue
        if len(cells) < needed:
            result.add_error(number, "row", f"The row has {len(cells)} cells; the column mapping reads {needed}.")
            continue
        before = result.error_rows
        prefix = cells[p_prefix].strip()
        if not (prefix.isascii() and prefix.isdigit() and len(prefix) <= PREFIX_MAX_LENGTH):
            result.add_error(number, "prefix", f"'{prefix}' is not a prefix: digits only, 1 to {PREFIX_MAX_LENGTH}.")
        elif prefix in first_row:
            result.add_error(number, "prefix", f"Prefix {prefix} is on rows {first_row[prefix]} and {number}; "
                                               f"a card has one row per prefix.")
        else:
            first_row[prefix] = number
        rate = _amount(result, number, "rate", cells[p_rate].strip())
        fee = ZERO
        if p_fee is not None and (cell := cells[p_fee].strip()):
            fee = _amount(result, number, "connection_fee", cell)
        name = unquote_cell(cells[p_name].strip()) if p_name is not None else ""  # as the export wrote it
        if len(name) > NAME_MAX_LENGTH:
            result.add_error(number, "name", f"The name is longer than {NAME_MAX_LENGTH} characters.")
        mcd = pulse = 1
        grace = 0
        if p_mcd is not None and (cell := cells[p_mcd].strip()):
            mcd = _seconds(result, number, "mcd", cell, 0)
        if p_pulse is not None and (cell := cells[p_pulse].strip()):
            pulse = _seconds(result, number, "pulse", cell, 1)
        if p_grace is not None and (cell := cells[p_grace].strip()):
            grace = _seconds(result, number, "grace", cell, 0)
        status = "active"
        if p_status is not None and (cell := cells[p_status].strip()):
            status = cell.lower()
            if status not in STATUSES:
                result.add_error(number, "status", f"'{cell}' is not a status; use active or blocked.")
        if result.error_rows == before:
            rows.append(RateValues(prefix, name, rate, fee, mcd, pulse, grace, status))  # type: ignore[arg-type]
    if not rows and not result.error_rows:
        result.add_error(max(number, 1), "file", f"The file has no rows from row {start_row} on.")
    return result


def format_amount(value: Decimal) -> str:
    """A rate as the export writes it: fixed point, never an exponent (0E-6 would not import back)."""
    return f"{value:f}"
