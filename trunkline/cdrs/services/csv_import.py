"""CSV import of CDRs with a column mapping (as the rate deck import maps its columns), through cdrs_ingest.

The file streams from its upload spool (core.uploads): rows are read, checked and handed to cdrs_ingest a chunk at
a time, so memory holds one chunk, not the file. All the chunks go in one transaction: cdrs_ingest's own batch
transactions nest in it, so the first error (a cell this module refuses, or a record cdrs_ingest refuses) rolls
back everything written and nothing of the file is imported. After an error the rest of the file is still read
and its cells checked, so every row that this module can judge is reported. Rows are numbered as the file counts
them (the first line is row 1), errors keyed "row N" and then by the column's field name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from trunkline.cdrs.models import CdrSource
from trunkline.cdrs.services.ingest import cdrs_ingest
from trunkline.core.bulk_import import Source, add_row_error, csv_records
from trunkline.core.csv_safety import unquote_cell
from trunkline.core.integers import ascii_int

# The fields of an ingest record (POST /api/v1/cdrs/ingest/), in the order of the default mapping.
COLUMNS = ("call_id", "leg", "customer", "ip", "sip_user", "cli", "dst", "start", "answer", "end", "sip_code",
           "sip_reason", "release_reason", "provider", "route", "tech_prefix", "pdd_ms", "ring_ms", "node")
REQUIRED_COLUMNS = ("call_id", "customer", "dst", "start", "end", "sip_code")
IDENTITY_COLUMNS = ("ip", "sip_user")  # at least one: how the customer was identified
INTEGER_COLUMNS = frozenset({"customer", "provider", "route", "sip_code", "pdd_ms", "ring_ms"})
TIME_COLUMNS = frozenset({"start", "answer", "end"})
SKIP_MARKERS = frozenset({"", "-", "skip"})
CHUNK_ROWS = 5_000
MAX_LISTED_ERRORS = 1_000
PROGRESS_EVERY = 5_000


class MappingError(ValueError):
    """The column mapping itself is wrong: nothing of the file was read."""


@dataclass
class CdrImportResult:
    rows: int = 0
    new: int = 0
    duplicates: int = 0
    errors: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    error_rows: int = 0
    written: bool = False

    def add_error(self, row_number: int, field_name: str, message: str) -> None:
        add_row_error(self, row_number, field_name, message, listed=MAX_LISTED_ERRORS)

    @property
    def summary(self) -> str:
        if self.error_rows:
            more = f" (the first {len(self.errors):,} are listed)" if len(self.errors) < self.error_rows else ""
            return (f"{self.error_rows:,} row{_s(self.error_rows)} with errors{more}; nothing was imported.")
        return (f"Imported {self.rows:,} row{_s(self.rows)}: {self.new:,} new CDR{_s(self.new)}, "
                f"{self.duplicates:,} already there.")


class _Rollback(Exception):
    pass


def parse_columns(columns: str | Sequence[str] | None) -> tuple[str, ...]:
    """The field each CSV column holds, by position; "" or "-" or "skip" leaves a column unread. None: COLUMNS."""
    if columns is None:
        return COLUMNS
    names = columns.split(",") if isinstance(columns, str) else list(columns)
    mapping = tuple(str(name).strip().lower() for name in names)
    problems = []
    unknown = [name for name in mapping if name not in SKIP_MARKERS and name not in COLUMNS]
    if unknown:
        problems.append(f"Unknown column {', '.join(repr(n) for n in unknown)}; columns are {', '.join(COLUMNS)} "
                        f"(or '-' to skip a column).")
    used = [name for name in mapping if name not in SKIP_MARKERS]
    twice = sorted({name for name in used if used.count(name) > 1})
    if twice:
        problems.append(f"Column {', '.join(repr(n) for n in twice)} is mapped more than once.")
    missing = [name for name in REQUIRED_COLUMNS if name not in used]
    if missing:
        problems.append(f"The mapping needs a {' and a '.join(repr(n) for n in missing)} column.")
    if not any(name in used for name in IDENTITY_COLUMNS):
        problems.append("The mapping needs an ip or a sip_user column (how the customer was identified).")
    if problems:
        raise MappingError(" ".join(problems))
    return mapping


def cdrs_import_csv(*, source: Source, columns: str | Sequence[str] | None = None, start_row: int = 2,
                    actor: Any = None, progress: Callable[[int], None] | None = None) -> CdrImportResult:
    """Import the CDRs of a CSV file: all rows or none. Raises MappingError for a bad mapping, ValueError for a
    start row below 1, core.bulk_import.ImportFileError for a file that is not UTF-8 (nothing written)."""
    if start_row < 1:
        raise ValueError("The start row is 1 or more (rows count from 1).")
    mapping = parse_columns(columns)
    result = CdrImportResult()
    rows = _rows(source, mapping, start_row, result, progress)
    try:
        with transaction.atomic():
            for chunk in rows:
                # After an error too: what it writes is rolled back below, and its errors are reported.
                outcome = cdrs_ingest(records=[record for _, record in chunk], source=CdrSource.CSV, actor=actor)
                for error in outcome.errors:
                    line = error.get("line")
                    number = chunk[line - 1][0] if isinstance(line, int) and 0 < line <= len(chunk) else chunk[0][0]
                    result.add_error(number, str(error.get("field") or "row"), str(error.get("message", "")))
                result.new += outcome.new
                result.duplicates += outcome.duplicates
            if not result.rows and not result.error_rows:
                result.add_error(max(start_row - 1, 1), "file", f"The file has no rows from row {start_row} on.")
            if result.error_rows:
                raise _Rollback
            result.written = True
    except _Rollback:
        result.new = result.duplicates = 0
    finally:
        rows.close()
    return result


def _rows(source: Source, mapping: tuple[str, ...], start_row: int, result: CdrImportResult,
          progress: Callable[[int], None] | None) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Chunks of (row number, record) of the rows without errors; rows with errors are noted on `result`."""
    slots = [(position, name) for position, name in enumerate(mapping) if name not in SKIP_MARKERS]
    needed = max(position for position, _ in slots) + 1
    chunk: list[tuple[int, dict[str, Any]]] = []
    records = csv_records(source, result)  # type: ignore[arg-type]
    try:
        for number, cells in records:
            if number < start_row:
                continue
            result.rows += 1
            if progress is not None and result.rows % PROGRESS_EVERY == 0:
                progress(result.rows)
            if not any(cell.strip() for cell in cells):
                result.add_error(number, "row", "The row is empty; remove it.")
                continue
            if len(cells) < needed:
                result.add_error(number, "row", f"The row has {len(cells)} cells; the column mapping reads {needed}.")
                continue
            record = _record(number, {name: cells[position].strip() for position, name in slots}, result)
            if record is not None:
                chunk.append((number, record))
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        records.close()


def _record(number: int, cells: Mapping[str, str], result: CdrImportResult) -> dict[str, Any] | None:
    """The ingest record of one row's cells, or None when a cell is refused (noted on `result`): ids and counts as
    numbers, an empty time or number left out (an empty answer: the call was not answered), text as it is (a CLI
    column left unmapped is empty). cdrs_ingest checks the rest and names the field."""
    before = result.error_rows
    record: dict[str, Any] = {"cli": ""}
    for name, cell in cells.items():
        if name in INTEGER_COLUMNS or name in TIME_COLUMNS:
            if not cell:
                continue
            if name in TIME_COLUMNS:
                record[name] = cell
                continue
            value = ascii_int(cell)
            if value is None:
                result.add_error(number, name, f"'{cell}' is not a whole number.")
                continue
            record[name] = value
        else:
            record[name] = unquote_cell(cell)  # as an export neutralised it ('=1+2 -> =1+2)
    return record if result.error_rows == before else None


def _s(count: int) -> str:
    return "" if count == 1 else "s"
