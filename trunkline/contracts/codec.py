"""The routing snapshot as a JSON file: written by the publisher, loaded by every switch node.

Decimals travel as strings (a float would change the money), enums as their values, datetimes as ISO 8601
with their UTC offset. A tuple of records is written as one table, `{"fields": [...], "rows": [[...], ...]}`,
so a 100,000-row rate card does not repeat its column names 100,000 times. Reading is strict: a missing,
unknown or mistyped field is an error naming where it is, never a silent default.

The (de)serialisers are derived once per type from the dataclasses' annotations, so a field added to a
record in `snapshot.py` is carried without touching this module (bump SCHEMA_VERSION when doing so).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import types
import typing
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

from trunkline.contracts.snapshot import SCHEMA_VERSION, RoutingSnapshot

# The file's name in the var directory ($TRUNKLINE_VAR_DIR): the publisher writes it, `trunkline switch` reads it.
SNAPSHOT_FILE = "routing-snapshot.json"

_Convert = Callable[[Any], Any]


class SnapshotFormatError(ValueError):
    """The data is not a routing snapshot this code can read."""


class SnapshotVersionError(SnapshotFormatError):
    """The snapshot was written for another SCHEMA_VERSION."""


def snapshot_to_dict(snapshot: RoutingSnapshot) -> dict[str, Any]:
    encode, _ = _codec(RoutingSnapshot)
    result: dict[str, Any] = encode(snapshot)
    return result


def snapshot_from_dict(data: object) -> RoutingSnapshot:
    if not isinstance(data, dict):
        raise SnapshotFormatError(f"a snapshot is a JSON object, not {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SnapshotVersionError(f"snapshot schema version {version!r}; this code reads version {SCHEMA_VERSION}")
    _, decode = _codec(RoutingSnapshot)
    try:
        snapshot: RoutingSnapshot = decode(data)
    except SnapshotFormatError:
        raise
    except (TypeError, ValueError) as exc:
        raise SnapshotFormatError(str(exc)) from exc
    return snapshot


def dumps(snapshot: RoutingSnapshot) -> str:
    return json.dumps(snapshot_to_dict(snapshot), separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> RoutingSnapshot:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SnapshotFormatError(f"not JSON: {exc}") from exc
    return snapshot_from_dict(data)


def write_snapshot(snapshot: RoutingSnapshot, path: str | os.PathLike[str]) -> None:
    """Write atomically: a switch reading `path` meanwhile sees the old snapshot or the new one, never half."""
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(snapshot))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def read_snapshot(path: str | os.PathLike[str]) -> RoutingSnapshot:
    return loads(Path(path).read_bytes())


# --- per-type converters ---------------------------------------------------------------------------------


def _checked(kind: type) -> _Convert:
    def decode(value: Any) -> Any:
        # `type(...) is` rather than isinstance: JSON true must not pass for an int, nor 1 for a bool.
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {value!r}")
        return value

    return decode


def _identity(value: Any) -> Any:
    return value


def _decode_decimal(value: Any) -> Decimal:
    if type(value) is not str:
        raise TypeError(f"a decimal is written as a string, got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return number


def _decode_datetime(value: Any) -> datetime:
    if type(value) is not str:
        raise TypeError(f"a datetime is written as an ISO 8601 string, got {value!r}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"datetime without a UTC offset: {value!r}")
    return moment


def _enum_value(member: Enum) -> Any:
    return member.value


@cache
def _codec(kind: Any) -> tuple[_Convert, _Convert]:
    if kind in (bool, int, str):
        return _identity, _checked(kind)
    if kind is Decimal:
        return str, _decode_decimal
    if kind is datetime:
        return datetime.isoformat, _decode_datetime
    if isinstance(kind, type) and issubclass(kind, Enum):
        return _enum_value, kind
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _record_codec(kind)
    arguments = typing.get_args(kind)
    if typing.get_origin(kind) in (types.UnionType, typing.Union) and len(arguments) == 2 and type(None) in arguments:
        return _optional_codec(*_codec(next(item for item in arguments if item is not type(None))))
    if typing.get_origin(kind) is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        item = arguments[0]
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return _table_codec(item)
        return _list_codec(*_codec(item))
    raise TypeError(f"no JSON form defined for {kind!r}")


def _optional_codec(encode: _Convert, decode: _Convert) -> tuple[_Convert, _Convert]:
    return (lambda value: None if value is None else encode(value)), (
        lambda value: None if value is None else decode(value))


def _list_codec(encode: _Convert, decode: _Convert) -> tuple[_Convert, _Convert]:
    def decode_list(value: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            raise TypeError(f"expected a list, got {value!r}")
        return tuple(decode(item) for item in value)

    return (lambda value: [encode(item) for item in value]), decode_list


def _field_codecs(record: type) -> list[tuple[str, _Convert, _Convert]]:
    hints = typing.get_type_hints(record)
    return [(field.name, *_codec(hints[field.name])) for field in dataclasses.fields(record)]


def _record_codec(record: type) -> tuple[_Convert, _Convert]:
    fields = _field_codecs(record)
    names = {name for name, _, _ in fields}

    def encode(value: Any) -> dict[str, Any]:
        return {name: encode_field(getattr(value, name)) for name, encode_field, _ in fields}

    def decode(data: Any) -> Any:
        if not isinstance(data, dict):
            raise TypeError(f"{record.__name__} is a JSON object, got {type(data).__name__}")
        if data.keys() != names:
            raise ValueError(f"{record.__name__} fields differ: missing {sorted(names - data.keys())}, "
                             f"unknown {sorted(data.keys() - names)}")
        values: dict[str, Any] = {}
        for name, _, decode_field in fields:
            try:
                values[name] = decode_field(data[name])
            except (TypeError, ValueError) as exc:
                raise SnapshotFormatError(f"{record.__name__}.{name}: {exc}") from exc
        return record(**values)

    return encode, decode


def _table_codec(record: type) -> tuple[_Convert, _Convert]:
    fields = _field_codecs(record)
    names = [name for name, _, _ in fields]
    columns_out = [(attrgetter(name), encode_field) for name, encode_field, _ in fields]

    def encode(items: Any) -> dict[str, Any]:
        return {"fields": names, "rows": [[encode_field(read(item)) for read, encode_field in columns_out]
                                          for item in items]}

    def decode(data: Any) -> tuple[Any, ...]:
        if not isinstance(data, dict) or data.keys() != {"fields", "rows"}:
            raise TypeError(f"a table of {record.__name__} is an object with 'fields' and 'rows'")
        columns = data["fields"]
        if not isinstance(columns, list) or sorted(columns) != sorted(names):
            raise ValueError(f"{record.__name__} table columns {columns!r} differ from {names!r}")
        # The file may list the columns in any order; read them back in the constructor's order.
        plan = [(columns.index(name), decode_field) for name, _, decode_field in fields]
        rows = data["rows"]
        if not isinstance(rows, list):
            raise TypeError(f"{record.__name__} rows must be a list")
        items = []
        for number, row in enumerate(rows):
            try:
                if not isinstance(row, list) or len(row) != len(names):
                    raise TypeError(f"expected a list of {len(names)} values, got {row!r}")
                items.append(record(*[decode_field(row[index]) for index, decode_field in plan]))
            except (TypeError, ValueError) as exc:
                where = f"{record.__name__} row {number}{_failing_column(row, names, plan)}"
                raise SnapshotFormatError(f"{where}: {exc}") from exc
        return tuple(items)

    return encode, decode


def _failing_column(row: Any, names: list[str], plan: list[tuple[int, _Convert]]) -> str:
    """`, <column>` for the first value of `row` that does not decode; rows are decoded whole for speed."""
    if isinstance(row, list) and len(row) == len(names):
        for name, (index, decode_field) in zip(names, plan, strict=True):
            try:
                decode_field(row[index])
            except (TypeError, ValueError):
                return f", {name}"
    return ""
