"""CSV bulk import shared by the control panel and the API.

Every row goes through the model's API serializer, so a CSV row is validated exactly like an API
request. All rows are validated first; one bad row means nothing is written. Row numbers count the
header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, models, transaction
from rest_framework import serializers

from trunkline.core.money import SCIENTIFIC_NOTATION_MESSAGE, is_scientific_notation

NUMERIC_FIELDS = (serializers.DecimalField, serializers.IntegerField, serializers.FloatField)


@dataclass
class ImportRow:
    number: int
    values: dict[str, str]
    instance: models.Model | None = None
    serializer: serializers.ModelSerializer | None = None

    @property
    def action(self) -> str:
        return "update" if self.instance is not None else "create"


@dataclass
class ImportResult:
    rows: list[ImportRow] = field(default_factory=list)
    errors: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    written: bool = False

    @property
    def created(self) -> int:
        return sum(1 for row in self.rows if row.action == "create")

    @property
    def updated(self) -> int:
        return sum(1 for row in self.rows if row.action == "update")

    @property
    def summary(self) -> str:
        if self.errors:
            count = len(self.errors)
            return f"{count} row{'s' if count != 1 else ''} with errors; nothing was imported."
        verb = "Imported" if self.written else "Ready to import"
        return f"{verb} {len(self.rows)} rows: {self.created} new, {self.updated} updated."

    def add_error(self, row_number: int, field_name: str, message: str) -> None:
        self.errors.setdefault(f"row {row_number}", {}).setdefault(field_name, []).append(message)


def decode_upload(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise serializers.ValidationError({"file": ["The file is not UTF-8 text; save it as CSV (UTF-8)."]}) \
            from error


def import_csv(*, serializer_class: type[serializers.ModelSerializer], text: str, context: dict[str, Any],
               required_columns: tuple[str, ...] = (), dry_run: bool = False) -> ImportResult:
    result = ImportResult()
    model = serializer_class.Meta.model
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in next(reader, [])]
    _check_header(result, serializer_class, header, required_columns)
    if result.errors:
        return result

    writable = {name: f for name, f in serializer_class().fields.items() if not f.read_only}
    # The id too: two rows updating one object would each start from the stored state, the second undoing the first.
    unique_fields = ["id", *(f.name for f in model._meta.concrete_fields if f.unique and not f.primary_key)]
    first_seen: dict[tuple[str, str], int] = {}

    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            result.add_error(number, "row", "The row is empty; remove it.")
            continue
        if len(cells) != len(header):
            result.add_error(number, "row", f"The row has {len(cells)} cells but the header has {len(header)}.")
            continue
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        row = ImportRow(number=number, values=values)
        result.rows.append(row)
        _validate_row(result, row, model, serializer_class, writable, context)
        for name in unique_fields:
            key = (name, values.get(name, "").lower())
            if key[1]:
                if key in first_seen:
                    result.add_error(number, name, f"'{values[name]}' is also on row {first_seen[key]}.")
                else:
                    first_seen[key] = number

    if not result.rows and not result.errors:
        result.add_error(1, "file", "The file has a header but no rows.")
    if result.errors or dry_run:
        return result
    try:
        with transaction.atomic():
            for row in result.rows:
                row.serializer.save()
    except IntegrityError as error:
        result.errors["file"] = {"file": [f"The database refused the import, nothing was written: {error}"]}
        return result
    result.written = True
    return result


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


def _validate_row(result: ImportResult, row: ImportRow, model, serializer_class, writable, context) -> None:
    data: dict[str, Any] = {}
    for name, value in row.values.items():
        if name == "id" or value == "":
            continue  # a blank cell leaves the field at its default (create) or unchanged (update)
        if isinstance(writable.get(name), NUMERIC_FIELDS) and is_scientific_notation(value):
            result.add_error(row.number, name, SCIENTIFIC_NOTATION_MESSAGE.format(value=value))
            continue
        data[name] = value
    if row.values.get("id"):
        raw_id = row.values["id"]
        row.instance = model._default_manager.filter(pk=raw_id).first() if raw_id.isdigit() else None
        if row.instance is None:
            result.add_error(row.number, "id", f"No {model._meta.verbose_name} with id {raw_id}.")
            return
    if f"row {row.number}" in result.errors:
        return
    serializer = serializer_class(row.instance, data=data, partial=row.instance is not None, context=context)
    if serializer.is_valid():
        row.serializer = serializer
        return
    for name, messages in serializer.errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            result.add_error(row.number, name, str(message))
