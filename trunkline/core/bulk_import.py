"""CSV bulk import shared by the control panel, the API and the worker.

Every row goes through the model's API serializer, so a CSV row is validated exactly like an API request.
Rows stream from the file: nothing holds every row, serializer or instance (a 55k-row file once took 3 GB); what
grows with the file is only the set of values that must be unique within it. An import writes each row as it
passes, inside one transaction; the first bad row rolls back what was written and the rest of the file is only
checked, so every error is still reported and one bad row means nothing is written. New objects of a serializer
with `import_bulk_create` (customers) are inserted CHUNK_ROWS at a time, their audit entries too (core.changelog):
two INSERTs a row were most of a 200,000-row import's 15 minutes. Row numbers count the header as row 1, as a
spreadsheet shows them.

A file of BACKGROUND_IMPORT_ROWS lines or more is imported by the worker (import_start); the job's progress
counts rows read, and its payload keeps the result for the status page and the API.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.db.models.functions import Lower
from django.utils.module_loading import import_string
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from trunkline.core.changelog import log_created
from trunkline.core.context import change_context
from trunkline.core.integers import ascii_int
from trunkline.core.jobs import enqueue, job_handler, set_progress
from trunkline.core.models import Job, User
from trunkline.core.money import SCIENTIFIC_NOTATION_MESSAGE, is_scientific_notation

NUMERIC_FIELDS = (serializers.DecimalField, serializers.IntegerField, serializers.FloatField)
NOT_UTF8 = "The file is not UTF-8 text; save it as CSV (UTF-8)."
# Rows beyond this many with errors are counted, not listed: a garbage file must not answer with megabytes.
MAX_LISTED_ERRORS = 100
PREVIEW_ROWS = 20
# Existing rows (those with an id) are read, and new ones inserted (import_bulk_create), this many at a time.
CHUNK_ROWS = 500
PROGRESS_EVERY = 1_000
BACKGROUND_IMPORT_ROWS = 20_000
IMPORT_JOB = "core.bulk_import"

# A line with its end: LF, CRLF or a lone CR (old spreadsheets), as universal newlines read them.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")

Source = str | IO[bytes]


class ImportFileError(ValueError):
    """The file as a whole cannot be read (it is not UTF-8): reported against `file`, not a row."""


class _Rollback(Exception):
    """A row failed while writing: the transaction is rolled back and the rest of the file only checked."""


@dataclass
class PreviewRow:
    number: int
    action: str
    values: list[str]


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    error_rows: int = 0  # every row with an error, listed or not
    written: bool = False
    dry_run: bool = False
    header: list[str] = field(default_factory=list)
    preview: list[PreviewRow] = field(default_factory=list)

    @property
    def summary(self) -> str:
        count = self.error_rows
        if count:
            more = f" (the first {len(self.errors):,} are listed)" if len(self.errors) < count else ""
            return f"{count:,} row{'s' if count != 1 else ''} with errors{more}; nothing was imported."
        verb = "Imported" if self.written else "Ready to import"
        rows = f"{self.rows:,} row{'s' if self.rows != 1 else ''}"
        return f"{verb} {rows}: {self.created:,} new, {self.updated:,} updated."

    def add_error(self, row_number: int, field_name: str, message: str) -> None:
        add_row_error(self, row_number, field_name, message, listed=MAX_LISTED_ERRORS)

    def as_dict(self) -> dict[str, Any]:
        """What a background import keeps on its job."""
        data = asdict(self)
        del data["preview"], data["header"]
        return {**data, "summary": self.summary}


def row_key(number: int) -> str:
    """How every import (customers, rates, routes, rules, ...) names a row in its errors: "row 12", counting the
    file's rows from 1 with the header as row 1, as a spreadsheet shows them. Pages write it "Row 12"."""
    return f"row {number}"


def add_row_error(result: Any, row_number: int, field_name: str, message: str, *, listed: int) -> None:
    """Note an error of a row on `result` (its `errors` by row key, then field, and its `error_rows` count), as every
    import does: every row with an error is counted, the first `listed` of them are listed."""
    key = row_key(row_number)
    if key not in result.errors:
        result.error_rows += 1
        if len(result.errors) >= listed:
            return
    result.errors.setdefault(key, {}).setdefault(field_name, []).append(message)


def decode_upload(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(NOT_UTF8) from error


def csv_lines(source: Source) -> Iterator[str]:
    """The lines of `source` with their ends, streamed: text as it is, an open binary file decoded as UTF-8 (a BOM
    dropped). CR-only line ends count as line ends. Raises ImportFileError at the first byte that is not UTF-8."""
    if isinstance(source, str):
        yield from (match.group() for match in _LINE.finditer(source.removeprefix("\ufeff")))
        return
    binary = getattr(source, "file", source)  # a Django UploadedFile wraps the real file
    binary.seek(0)
    stream = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        for line in stream:  # noqa: UP028 - `yield from` would close the stream, and the file, with this generator
            yield line
    except UnicodeDecodeError as error:
        raise ImportFileError(NOT_UTF8) from error
    finally:
        stream.detach()  # leave the caller's file open


def csv_records(source: Source, result: ImportResult | None = None) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of each record; a record the csv module cannot read ends the file with an error on its
    row (in `result`), never an exception."""
    lines = csv_lines(source)
    reader = csv.reader(lines)
    number = 0
    try:
        while True:
            try:
                cells = next(reader, None)
            except csv.Error as error:
                if result is not None:
                    result.add_error(number + 1, "row", csv_problem(error))
                return
            if cells is None:
                return
            number += 1
            yield number, cells
    finally:
        lines.close()  # now, while the caller's file is still open


def csv_problem(error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        return (f"A cell is longer than {csv.field_size_limit():,} characters; the rest of the file was not read "
                f"(is a quote left open?).")
    return f"Unreadable CSV: {error}; the rest of the file was not read."


def import_csv(*, serializer_class: type[serializers.ModelSerializer], source: Source, context: dict[str, Any],
               required_columns: tuple[str, ...] = (), dry_run: bool = False,
               progress: Callable[[int], None] | None = None) -> ImportResult:
    """Check every row of `source` and, unless `dry_run`, write them all or none. `progress` hears how many rows
    have been read. Raises ImportFileError when the file is not UTF-8."""
    result = ImportResult(dry_run=dry_run)
    # Read before the rows stream: a file is read by one reader at a time.
    ids = [] if dry_run else _ids(source)
    records = csv_records(source, result)
    try:
        _import(result, serializer_class, ids, records, context, required_columns, dry_run, progress)
    finally:
        records.close()
    return result


def _import(result: ImportResult, serializer_class: type[serializers.ModelSerializer], ids: list[int],
            records: Iterator[tuple[int, list[str]]], context: dict[str, Any], required_columns: tuple[str, ...],
            dry_run: bool, progress: Callable[[int], None] | None) -> None:
    first = next(records, None)
    result.header = [name.strip() for name in first[1]] if first else []
    _check_header(result, serializer_class, result.header, required_columns)
    if result.errors:
        return
    rows = _Rows(result, serializer_class, context, records, progress)
    if dry_run:
        rows.check_all(write=False)
    else:
        model = serializer_class.Meta.model
        try:
            with transaction.atomic():
                # Locked first, in primary-key order, so two imports (or an import and a bulk edit) of the same
                # rows wait for each other instead of deadlocking.
                for start in range(0, len(ids), CHUNK_ROWS):
                    list(model._default_manager.select_for_update().filter(pk__in=ids[start:start + CHUNK_ROWS])
                         .order_by("pk").values_list("pk", flat=True))
                rows.check_all(write=True)
                result.written = True
        except _Rollback:
            pass
        except IntegrityError as error:
            # A constraint the validators cannot see, or a concurrent writer: a row error, never a 500.
            result.add_error(rows.number, "row", f"The database refused the row: {error}")
        if not result.written:
            rows.check_all(write=False)  # the rest of the file, so every bad row is reported


def _ids(source: Source) -> list[int]:
    """The ids the file updates, sorted: a first pass reads only that column."""
    ids = set()
    records = csv_records(source)
    try:
        header = [name.strip() for name in next(records, (1, []))[1]]
        if "id" in header:
            position = header.index("id")
            for _, cells in records:
                pk = _pk(cells[position]) if len(cells) > position else None
                if pk is not None:
                    ids.add(pk)
    finally:
        records.close()
    return sorted(ids)


def _pk(cell: str) -> int | None:
    """The id in a cell, if it can be one (a number past the database's integers is no id, not an error)."""
    return ascii_int(cell.strip())


class _Rows:
    """The rows after the header, checked (and written) one at a time through one reused serializer."""

    def __init__(self, result: ImportResult, serializer_class: type[serializers.ModelSerializer],
                 context: dict[str, Any], records: Iterator[tuple[int, list[str]]],
                 progress: Callable[[int], None] | None) -> None:
        self.result = result
        self.model = serializer_class.Meta.model
        self.header = result.header
        self.progress = progress
        self.number = 1
        # Building a serializer's fields costs more than validating a row, so one serializer checks every row.
        self.serializer = serializer_class(context=context)
        self.writable = {name: f for name, f in self.serializer.fields.items() if not f.read_only}
        # The id too: two rows updating one object would each start from the stored state, the second undoing the
        # first.
        self.unique_fields = ["id", *(f.name for f in self.model._meta.concrete_fields
                                      if f.unique and not f.primary_key and f.name in self.header)]
        self.first_seen: dict[str, int] = {}
        # A UniqueValidator asks the database once per row; here it is asked once per chunk instead, with the
        # validator's own message (see _taken).
        self.unique_checks: list[tuple[str, UniqueValidator]] = []
        for name, serializer_field in self.writable.items():
            mine = [validator for validator in serializer_field.validators if isinstance(validator, UniqueValidator)
                    and validator.lookup in ("exact", "iexact") and name in self.header]
            if mine:
                self.unique_checks += [(name, validator) for validator in mine]
                serializer_field.validators = [v for v in serializer_field.validators if v not in mine]
        self.taken: dict[str, dict[str, Any]] = {}
        self.prepared = self._prepared(records)
        # New objects validated but not yet inserted (import_bulk_create): inserted CHUNK_ROWS at a time, their audit
        # entries too, instead of two INSERTs a row. The entries need the new primary keys back from the INSERT.
        self.bulk_create = (getattr(serializer_class, "import_bulk_create", False)
                            and connection.features.can_return_rows_from_bulk_insert)
        self.pending: list[tuple[int, Model]] = []

    def check_all(self, *, write: bool) -> None:
        for number, values, instance in self.prepared:
            self.number = number
            if self.progress is not None and (number - 1) % PROGRESS_EVERY == 0:
                self.progress(number - 1)
            self._check(number, values, instance, write=write and not self.result.error_rows)
            if write and self.result.error_rows:
                raise _Rollback
        if self.result.rows == 0 and not self.result.error_rows:
            self.result.add_error(1, "file", "The file has a header but no rows.")
        if write and self.result.error_rows:
            raise _Rollback
        if write:
            self._insert_pending()

    def _insert_pending(self) -> None:
        """Insert the new objects waiting (import_bulk_create) and write their audit entries."""
        if not self.pending:
            return
        first, last = self.pending[0][0], self.pending[-1][0]
        objects = [instance for _, instance in self.pending]
        self.pending = []
        try:
            self.model._default_manager.bulk_create(objects)
        except IntegrityError as error:
            # A constraint the validators cannot see, or a concurrent writer; which row of the batch is unknown.
            self.result.add_error(first, "row", f"The database refused one of rows {first} to {last}: {error}")
            raise _Rollback from error
        log_created(objects)

    def _prepared(self, records: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, dict[str, str], Any]]:
        """Rows with their cells by column name and the stored object of an update row, read CHUNK_ROWS at a
        time; rows of the wrong shape are reported here."""
        chunk: list[tuple[int, dict[str, str]]] = []
        while True:
            record = next(records, None)
            if record is not None:
                number, cells = record
                self.result.rows += 1
                if not any(cell.strip() for cell in cells):
                    self.result.add_error(number, "row", "The row is empty; remove it.")
                elif len(cells) != len(self.header):
                    self.result.add_error(number, "row", f"The row has {len(cells)} cells but the header has "
                                                         f"{len(self.header)}.")
                else:
                    chunk.append((number, {name: cell.strip() for name, cell in zip(self.header, cells,
                                                                                   strict=True)}))
            if chunk and (record is None or len(chunk) >= CHUNK_ROWS):
                ids = {_pk(values.get("id", "")) for _, values in chunk} - {None}
                stored = self.model._default_manager.in_bulk(ids) if ids else {}
                self.taken = self._taken(chunk)
                for number, values in chunk:
                    yield number, values, stored.get(_pk(values.get("id", "")))
                chunk = []
            if record is None:
                return

    def _taken(self, chunk: list[tuple[int, dict[str, str]]]) -> dict[str, dict[str, Any]]:
        """For each unique field checked here: the chunk's values (lowercased for an iexact lookup) that stored
        objects hold, with those objects' primary keys."""
        taken = {}
        for name, validator in self.unique_checks:
            source = self.writable[name].source
            fold = validator.lookup == "iexact"
            wanted = {values[name].lower() if fold else values[name] for _, values in chunk if values.get(name)}
            queryset = validator.queryset.annotate(_key=Lower(source)) if fold else validator.queryset
            key = "_key" if fold else source
            taken[name] = dict(queryset.filter(**{f"{key}__in": wanted}).values_list(key, "pk")) if wanted else {}
        return taken

    def _check(self, number: int, values: dict[str, str], instance: Any, *, write: bool) -> None:
        result = self.result
        before = result.error_rows
        duplicates = set()
        for name in self.unique_fields:
            value = values.get(name, "")
            if not value:
                continue
            key = f"{name}\x1f{value.lower()}"
            if key in self.first_seen:
                result.add_error(number, name, f"'{value}' is also on row {self.first_seen[key]}.")
                duplicates.add(name)
            else:
                self.first_seen[key] = number
        data: dict[str, Any] = {}
        for name, value in values.items():
            if name == "id" or value == "":
                continue  # a blank cell leaves the field at its default (create) or unchanged (update)
            if isinstance(self.writable.get(name), NUMERIC_FIELDS) and is_scientific_notation(value):
                result.add_error(number, name, SCIENTIFIC_NOTATION_MESSAGE.format(value=value))
                continue
            data[name] = value
        if values.get("id") and instance is None:
            if "id" not in duplicates:
                result.add_error(number, "id", f"No {self.model._meta.verbose_name} with id {values['id']}.")
            return
        if result.error_rows != before:
            return
        for name, validator in self.unique_checks:
            value = values.get(name, "")
            holder = self.taken[name].get(value.lower() if validator.lookup == "iexact" else value)
            if value and name not in duplicates and holder is not None and holder != getattr(instance, "pk", None):
                result.add_error(number, name, str(validator.message))
        serializer = self._serializer(instance, data)
        if not serializer.is_valid():
            for name, detail in serializer.errors.items():
                if name not in duplicates:  # the same problem, already named by its row
                    for message in _messages(detail):
                        result.add_error(number, name, message)
        if result.error_rows != before:
            return
        if instance is None:
            result.created += 1
        else:
            result.updated += 1
        if len(result.preview) < PREVIEW_ROWS:
            result.preview.append(PreviewRow(number, "update" if instance else "create", list(values.values())))
        if write and instance is None and self.bulk_create:
            # As ModelSerializer.create() builds it; saved with its batch.
            self.pending.append((number, self.model(**serializer.validated_data)))
            if len(self.pending) >= CHUNK_ROWS:
                self._insert_pending()
        elif write:
            self._insert_pending()  # first, so the log and the database see the rows in the file's order
            try:
                serializer.save()
            except serializers.ValidationError as error:  # a service refusing the write (a contact's email taken)
                details = error.detail if isinstance(error.detail, dict) else {"row": error.detail}
                for name, detail in details.items():
                    for message in _messages(detail):
                        result.add_error(number, name, message)

    def _serializer(self, instance: Any, data: dict[str, Any]) -> serializers.ModelSerializer:
        serializer = self.serializer
        serializer.instance = instance
        serializer.initial_data = data
        serializer.partial = instance is not None
        for cached in ("_validated_data", "_errors", "_data"):
            serializer.__dict__.pop(cached, None)
        return serializer


def _messages(detail: Any) -> Iterator[str]:
    """Plain messages of a serializer error, however nested (a list field's items), never ErrorDetail reprs."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            for message in _messages(value):
                yield f"Item {key + 1}: {message}" if isinstance(key, int) else message
    elif isinstance(detail, list | tuple):
        for value in detail:
            yield from _messages(value)
    else:
        yield str(detail)


def _check_header(result: ImportResult, serializer_class, header: list[str], required: tuple[str, ...]) -> None:
    if not header or not any(header):
        result.add_error(1, "file", "The file is empty; the first row must name the columns.")
        return
    known = {name for name, f in serializer_class().fields.items() if not f.read_only} | {"id"}
    for name in header:
        if name not in known:
            result.add_error(1, name or "(blank)", f"Unknown column '{name}'. Columns are the API field names: "
                                                   f"{', '.join(sorted(known))}.")
    seen = set()
    for name in header:
        if name in seen:
            result.add_error(1, name, f"Column '{name}' appears twice.")
        seen.add(name)
    if "id" not in header:
        for name in required:
            if name not in header:
                result.add_error(1, name, f"The required column '{name}' is missing.")


#
# Large files: the worker imports them
#


def import_start(*, serializer_class: type[serializers.ModelSerializer], source: Source, rows: int,
                 required_columns: tuple[str, ...] = (), dry_run: bool = False, user: Any = None) -> Job:
    """Queue import_csv() of `source` for the worker. The file is kept under var/imports/ (not in the database:
    the worker streams it) until the job has run; the job's progress counts rows read out of `rows`."""
    directory = Path(settings.VAR_DIR) / "imports"
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.csv"
    with path.open("xb") as target:
        path.chmod(0o600)  # customer data
        if isinstance(source, str):
            target.write(source.encode())
        else:
            binary = getattr(source, "file", source)
            binary.seek(0)
            shutil.copyfileobj(binary, target)
    model = serializer_class.Meta.model
    return enqueue(IMPORT_JOB, {
        "serializer": f"{serializer_class.__module__}.{serializer_class.__qualname__}",
        "model": model._meta.label_lower, "file": str(path), "required_columns": list(required_columns),
        "dry_run": dry_run, "user": getattr(user, "pk", None), "rows": rows,
    }, total=rows if dry_run else 2 * rows)


@job_handler(IMPORT_JOB)
def bulk_import_job(job: Job) -> None:
    payload = job.payload
    if "result" in payload:
        return  # a retry after the import had finished
    path = Path(payload["file"])
    user = User.objects.filter(pk=payload["user"]).first() if payload["user"] else None
    options = {
        "serializer_class": import_string(payload["serializer"]),
        "required_columns": tuple(payload["required_columns"]),
        # The serializers ask the view which action runs (contacts refuse generated passwords in an import).
        "context": {"view": SimpleNamespace(action="bulk_import"), "request": None},
    }
    # Logged under the operator who uploaded the file: the worker only carries the import out.
    with path.open("rb") as file, change_context(source="job", user=user):
        try:
            # Every row is checked first, outside a transaction, so the page sees the rows read; only a file
            # without errors is then written, in one transaction (whose progress shows once it commits).
            result = import_csv(**options, source=file, dry_run=True, progress=lambda done: set_progress(job, done))
            if not payload["dry_run"] and not result.error_rows:
                read = result.rows
                result = import_csv(**options, source=file, progress=lambda done: set_progress(job, read + done))
        except ImportFileError as error:
            result = ImportResult(dry_run=payload["dry_run"])
            result.add_error(1, "file", str(error))
    job.payload = {**payload, "result": result.as_dict()}
    job.progress_done = job.progress_total = result.rows * (1 if result.dry_run or result.error_rows else 2)
    job.save(update_fields=["payload", "progress_done", "progress_total"])
    path.unlink(missing_ok=True)
