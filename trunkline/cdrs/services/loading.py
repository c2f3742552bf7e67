"""The spool loader: the switch's call-event lines (contracts.calls) merged into call records, in batches.

Each spool file has a cursor (SpoolCursor: the byte offset applied so far). A batch of lines is merged and its
cursor advanced in ONE transaction, so a worker killed mid-batch reads the same batch again and nothing of it was
written. The merge is idempotent on its own as well (a line applied twice changes nothing: each record keeps the
digests of the lines it took) and independent of order where the facts allow it: the lines of one call come from
different files (the deciding process writes the attempt, the process that took Kamailio's event writes the
event), so an event may be loaded before its attempt; the record is then created with what is known and filled
in when the attempt comes.

Per batch: one query reads the records of the batch's call ids (locked), one bulk_create inserts the new ones and
one bulk_update writes the changed ones. Never a query per line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from trunkline.cdrs.choices import CallState
from trunkline.cdrs.models import CallRecord, SpoolCursor
from trunkline.cdrs.services.balances import PUBLISH_BALANCES
from trunkline.cdrs.services.ingest import cdrs_from_call_records
from trunkline.contracts.calls import SPOOL_DIR, SPOOL_STREAM, SPOOL_VERSION, EventKind, ReleaseReason
from trunkline.core.jobs import enqueue_debounced, periodic_task
from trunkline.customers.models import Customer
from trunkline.routing.models import IngressRoute, Provider
from trunkline.switch.spool import STREAM_FIELD, read_spool_lines

logger = logging.getLogger(__name__)

# One batch: ~2 MiB of lines (about 4,000 attempt lines) read, merged and committed with its cursor at once.
BATCH_BYTES = 2 * 2**20
# calls-<node>-<pid>-<sequence>.jsonl: the node may hold dashes, the pid and sequence are numbers.
FILE_NAME = re.compile(r"^calls-(?P<process>.+-\d+)-(?P<sequence>\d+)\.jsonl$")
# SQLite takes at most 32,766 variables a query; a batch's call ids are read in chunks well below that.
IN_CHUNK = 1000
RETRIES = 3

# A later fact never gives way to an earlier one: a call that ended stays ended whatever line comes after.
_RANK = {CallState.ROUTED.value: 0, CallState.REDIRECTED.value: 0, CallState.RINGING.value: 1,
         CallState.ANSWERED.value: 2, CallState.EXPIRED.value: 3, CallState.FAILED.value: 4,
         CallState.REJECTED.value: 4, CallState.ENDED.value: 5}

# Attempts that came over SIP: the switch answered them itself, as a redirect server (over HTTP: Kamailio's).
REDIRECT_TRANSPORTS = ("udp", "tcp")

# The fields a merge writes: never end_requested_at (End Calls' own, written concurrently).
MERGED_FIELDS = (
    "node", "decided", "attempted_at", "early_at", "answered_at", "ended_at", "state", "customer", "customer_name",
    "auth_kind", "auth_id", "source_ip", "source_port", "transport", "cli_in", "dst_in", "cli", "dst", "pai",
    "tech_prefix", "ingress_route", "provider", "provider_name", "sip_code", "sip_reason", "release_reason",
    "duration", "pdd_ms", "ring_ms", "attempts", "planned", "rate", "max_duration", "recording", "expires_at",
    "dialog_h_entry", "dialog_h_id", "applied", "updated_at",
)

_INT_RANGE = {"source_port": (0, 65535), "sip_code": (100, 699), "auth_id": (0, 2**63 - 1),
              "dialog": (0, 2**63 - 1), "max_duration": (0, 2**31 - 1), "duration": (0, 2**31 - 1),
              "branch": (0, 10000), "provider": (1, 2**63 - 1), "customer": (1, 2**63 - 1),
              "route": (1, 2**63 - 1)}


@dataclass
class LoadResult:
    lines: int = 0  # call-event lines read and applied (once; a line seen again counts but changes nothing)
    skipped: int = 0  # JSON objects that are not call events (unknown kind or version, no call id or time)
    created: int = 0
    updated: int = 0
    batches: int = 0
    deleted: list[str] = field(default_factory=list)  # spool files removed once fully loaded

    def add(self, other: LoadResult) -> None:
        self.lines += other.lines
        self.skipped += other.skipped
        self.created += other.created
        self.updated += other.updated
        self.batches += other.batches
        self.deleted.extend(other.deleted)


def spool_dir() -> Path:
    return Path(settings.VAR_DIR) / SPOOL_DIR


#
# Parsing
#


def _clean(value: Any) -> Any:
    """JSON values as the databases take them: PostgreSQL refuses NUL in text and jsonb, and NaN or infinity in
    jsonb (Python's json reads them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(str(key)): _clean(item) for key, item in value.items()}
    return value


def digest(line: Mapping[str, Any]) -> str:
    """The identity of a line (a record keeps those it has applied): its JSON again, in the key order it was read
    with, which is the writer's, so the same line read twice (a copied file, a replayed stream) digests alike."""
    text = json.dumps(line, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def parse_line(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The event of one spool line (read_spool_lines parsed its JSON), or None when it is not one (logged): a bad
    line never stops the loader."""
    call_id = data.get("call_id")
    at = _epoch(data.get("at"))
    if (data.get("v") != SPOOL_VERSION or data.get("kind") not in _APPLY or not isinstance(call_id, str)
            or not call_id.replace("\x00", "") or at is None):
        logger.warning("Spool line is not a call event of version %s, skipped: %.200r", SPOOL_VERSION, data)
        return None
    # Text is cleaned where it is stored (_text, _json): a whole-line copy cost more than the rest of the parse.
    line: dict[str, Any] = dict(data)
    line["call_id"] = call_id.replace("\x00", "")[:255]
    line["_at"] = at
    line["_digest"] = digest(data)
    return line


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _int(value: Any, name: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    low, high = _INT_RANGE[name]
    return value if low <= value <= high else None


_MAX_LENGTH = {field.name: field.max_length for field in CallRecord._meta.concrete_fields
               if isinstance(field, models.CharField)}


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        return ""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:_MAX_LENGTH[name]]


#
# Merging
#


def _advance(record: Any, state: CallState) -> None:
    if _RANK[state.value] > _RANK[record.state]:
        record.state = state.value


def _earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


def _attempt_entry(record: Any, provider: int | None, gateway: str) -> dict[str, Any] | None:
    """The first tried gateway of `provider` (and `gateway`, when the line names one) that has no answer yet; of
    any provider when the edge's event did not name one (serial forking has one gateway pending at a time)."""
    for entry in record.attempts:
        if (entry.get("code") is None and (provider is None or entry.get("provider") == provider)
                and (not gateway or not entry.get("gateway") or entry.get("gateway") == gateway)):
            return entry
    return None


def _apply_attempt(record: Any, line: Mapping[str, Any], at: datetime) -> None:
    record.decided = True
    record.node = _text(line.get("node"), "node")
    record.attempted_at = at
    record.customer_id = _int(line.get("customer"), "customer")
    auth_kind = line.get("auth_kind")
    record.auth_kind = auth_kind if auth_kind in ("ip", "sip_user") else ""
    record.auth_id = _int(line.get("auth_id"), "auth_id")
    record.source_ip = _text(line.get("source_ip"), "source_ip")
    record.source_port = _int(line.get("source_port"), "source_port")
    record.transport = _text(line.get("transport"), "transport")
    for name in ("cli_in", "dst_in", "cli", "dst", "pai", "tech_prefix"):
        setattr(record, name, _text(line.get(name), name))
    record.ingress_route_id = _int(line.get("route"), "route")
    rate = line.get("rate")
    record.rate = rate if isinstance(rate, dict) else None
    providers = line.get("providers")
    record.planned = providers if isinstance(providers, list) else []
    record.max_duration = _int(line.get("max_duration"), "max_duration")
    record.recording = line.get("recording") is True
    record.expires_at = _epoch(line.get("expires_at"))
    code = _int(line.get("code"), "sip_code")
    if code is not None and code != 200:
        # A rejected decision: the call never left; its answer is the decision's.
        _advance(record, CallState.REJECTED)
        record.sip_code = code
        record.sip_reason = _text(line.get("reason"), "sip_reason")
        record.ended_at = record.ended_at or at
    elif record.transport in REDIRECT_TRANSPORTS:
        # Routed by the SIP redirect server: its answer was the 302. The call is live only once the edge reports
        # it (an early or answered event moves it on); the switch still holds a limited channel until expiry.
        if record.state == CallState.ROUTED:
            record.state = CallState.REDIRECTED.value
        if record.sip_code is None:
            record.sip_code, record.sip_reason = 302, "Moved Temporarily"


def _apply_routed(record: Any, line: Mapping[str, Any], at: datetime) -> None:
    provider = _int(line.get("provider"), "provider")
    gateway = _text(line.get("gateway"), "source_ip")
    branch = _int(line.get("branch"), "branch")
    for entry in record.attempts:
        if entry.get("branch") == branch and entry.get("gateway") == gateway and branch is not None:
            return
    for entry in record.attempts:
        # Its failure came first (another file): the attempt it opened is this one.
        if (entry.get("branch") is None and entry.get("provider") == provider
                and (not entry.get("gateway") or entry.get("gateway") == gateway)):
            entry.update(gateway=gateway, branch=branch)
            break
    else:
        record.attempts.append({"provider": provider, "gateway": gateway, "branch": branch, "code": None,
                                "reason": ""})
    # Serial forking: the edge's order is the branch order, whatever order the lines were loaded in.
    record.attempts.sort(key=lambda entry: (entry.get("branch") is None, entry.get("branch") or 0))


def _apply_early(record: Any, line: Mapping[str, Any], at: datetime) -> None:
    record.early_at = _earliest(record.early_at, at)
    _advance(record, CallState.RINGING)


def _apply_answered(record: Any, line: Mapping[str, Any], at: datetime) -> None:
    record.answered_at = _earliest(record.answered_at, at)
    _advance(record, CallState.ANSWERED)
    record.sip_code, record.sip_reason = 200, "OK"
    provider = _int(line.get("provider"), "provider")
    entry = _attempt_entry(record, provider, "")
    if entry is None:
        record.attempts.append({"provider": provider, "gateway": "", "branch": None, "code": 200, "reason": "OK"})
    else:
        entry.update(code=200, reason="OK")
    dialog = line.get("dialog")
    if isinstance(dialog, dict):
        h_entry, h_id = _int(dialog.get("h_entry"), "dialog"), _int(dialog.get("h_id"), "dialog")
        if h_entry is not None and h_id is not None:
            record.dialog_h_entry, record.dialog_h_id = h_entry, h_id


def _apply_failed(record: Any, line: Mapping[str, Any], at: datetime) -> None:
    provider = _int(line.get("provider"), "provider")
    gateway = _text(line.get("gateway"), "source_ip")
    code = _int(line.get("code"), "sip_code")
    reason = _text(line.get("reason"), "sip_reason")
    entry = _attempt_entry(record, provider, gateway)
    if entry is None:  # the routed line is in another file, not loaded yet: it fills in the branch later
        record.attempts.append({"provider": provider, "gateway": gateway, "branch": None, "code": code,
                                "reason": reason})
    else:
        entry.update(code=code, reason=reason)
    if line.get("final") is True:
        _advance(record, CallState.FAILED)
        if record.state == CallState.FAILED:
            record.sip_code, record.sip_reason = code, reason
            record.ended_at = at


def _apply_ended(record: Any, line: Mapping[str, Any], at: datetime) -> None:
    record.ended_at = at
    _advance(record, CallState.ENDED)
    duration = _int(line.get("duration"), "duration")
    if duration is not None:
        record.duration = duration
    reason = _text(line.get("release_reason"), "release_reason")
    if reason and record.release_reason != ReleaseReason.BALANCE_DISCONNECT.value:
        record.release_reason = reason
    if record.sip_code is None:
        record.sip_code, record.sip_reason = 200, "OK"


def _apply_disconnect(record: Any, line: Mapping[str, Any], at: datetime) -> None:
    """The switch ended the call at the end of its paid time: that is why it ended, whatever reason the edge's
    ended event gives (Kamailio reports the BYE it sent on the switch's request), in whichever order both load."""
    record.release_reason = ReleaseReason.BALANCE_DISCONNECT.value


def _apply_expired(record: Any, line: Mapping[str, Any], at: datetime) -> None:
    _advance(record, CallState.EXPIRED)


# Keyed by the kinds' string values: a line's "kind" is looked up as read, without building the enum member.
_APPLY: dict[str, Any] = {
    EventKind.ATTEMPT.value: _apply_attempt,
    EventKind.ROUTED.value: _apply_routed,
    EventKind.EARLY.value: _apply_early,
    EventKind.ANSWERED.value: _apply_answered,
    EventKind.FAILED.value: _apply_failed,
    EventKind.ENDED.value: _apply_ended,
    EventKind.EXPIRED.value: _apply_expired,
    EventKind.DISCONNECT.value: _apply_disconnect,
}


def _milliseconds(later: datetime, earlier: datetime) -> int:
    return max(0, round((later - earlier).total_seconds() * 1000))


def _resolve_providers(record: Any) -> None:
    """Attempts whose event named a gateway but no provider (a switch process that did not route the call wrote
    it): the provider, and the branch, of the planned egress entry holding that gateway."""
    filled = False
    for entry in record.attempts:
        gateway = entry.get("gateway")
        if entry.get("provider") is not None or not gateway:
            continue
        for branch, planned in enumerate(record.planned or ()):
            gateways = planned.get("gateways") if isinstance(planned, dict) else None
            if isinstance(gateways, list) and any(isinstance(candidate, str) and candidate.lower() == gateway.lower()
                                                  for candidate in gateways):
                entry["provider"] = _int(planned.get("provider"), "provider")
                if entry.get("branch") is None:
                    entry["branch"] = branch
                filled = True
                break
    if filled:
        record.attempts.sort(key=lambda entry: (entry.get("branch") is None, entry.get("branch") or 0))


def _derive(record: Any) -> None:
    """The figures computed from the merged times: set again after every merge, so line order does not matter."""
    if record.state == CallState.ENDED:
        if record.duration is None and record.answered_at is not None and record.ended_at is not None:
            record.duration = max(0, round((record.ended_at - record.answered_at).total_seconds()))
        if not record.release_reason and record.end_requested_at is not None:
            record.release_reason = ReleaseReason.MI_TERMINATION.value
    first_answer = record.early_at or record.answered_at
    record.pdd_ms = (_milliseconds(first_answer, record.attempted_at)
                     if record.decided and first_answer is not None else None)
    record.ring_ms = (_milliseconds(record.answered_at, record.early_at)
                      if record.early_at is not None and record.answered_at is not None else None)
    _resolve_providers(record)
    answering = [entry for entry in record.attempts if entry.get("code") == 200]
    tried = answering or record.attempts
    record.provider_id = tried[-1].get("provider") if tried else None


class Row:
    """A call record as the merge works on it: its columns as plain attributes (the model's attnames). Building
    a model instance per record cost more than the merge; rows are read with values() and written with one
    executemany()."""

    pk: int | None = None

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


# The columns the loader reads and writes, by attname (customer_id, ...), without the primary key.
_FIELDS = [field for field in CallRecord._meta.concrete_fields if not field.primary_key]
ATTNAMES = tuple(field.attname for field in _FIELDS)
# What an update writes: not end_requested_at (End Calls' own, written under the row lock) nor the call id.
UPDATED = tuple(field.attname for field in _FIELDS if field.name in MERGED_FIELDS)


def merge(record: Any, lines: Iterable[Mapping[str, Any]]) -> bool:
    """Apply the parsed lines of one call to its record; False when every line was applied before."""
    changed = False
    for line in lines:
        digest = line["_digest"]
        if digest in record.applied:
            continue
        _APPLY[line["kind"]](record, line, line["_at"])
        record.applied.append(digest)
        changed = True
    if changed:
        _derive(record)
    return changed


def _new_record(call_id: str, lines: Sequence[Mapping[str, Any]]) -> Row:
    first = lines[0]
    row = Row(**_DEFAULTS)
    row.attempts, row.planned, row.applied = [], [], []
    row.call_id = call_id
    row.node = _text(first.get("node"), "node")
    # attempted_at stands in as the first time seen until the attempt line brings the decision's.
    row.attempted_at = min(line["_at"] for line in lines)
    return row


_DEFAULTS = {field.attname: (field.get_default() if field.has_default() else "" if field.empty_strings_allowed
                             and not field.null else None) for field in _FIELDS}


def _existing(model: type[models.Model], ids: set[int]) -> dict[int, str]:
    """{id: name} of the rows that still exist: a record keeps no link to a row deleted since the decision."""
    found: dict[int, str] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start:start + IN_CHUNK]
        if model is IngressRoute:
            found.update((pk, "") for pk in model.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        else:
            found.update(model.objects.filter(pk__in=chunk).values_list("pk", "name"))
    return found


def _resolve_links(records: Iterable[Row]) -> None:
    records = list(records)
    customers = _existing(Customer, {r.customer_id for r in records if r.customer_id is not None})
    routes = _existing(IngressRoute, {r.ingress_route_id for r in records if r.ingress_route_id is not None})
    providers = _existing(Provider, {r.provider_id for r in records if r.provider_id is not None})
    for record in records:
        if record.customer_id is not None:
            if record.customer_id in customers:
                record.customer_name = customers[record.customer_id][:100]
            else:
                record.customer_id = None
        if record.ingress_route_id is not None and record.ingress_route_id not in routes:
            record.ingress_route_id = None
        if record.provider_id is not None and record.provider_id in providers:
            record.provider_name = providers[record.provider_id][:100]
        else:
            record.provider_id = None


def apply_lines(lines: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Merge parsed lines into their records (inside the caller's transaction); (created, updated)."""
    by_call: dict[str, list[Mapping[str, Any]]] = {}
    for line in lines:
        by_call.setdefault(line["call_id"], []).append(line)
    call_ids = sorted(by_call)
    existing: dict[str, Row] = {}
    for start in range(0, len(call_ids), IN_CHUNK):
        # Locked, in call id order (two loaders meeting on the same calls take turns, never deadlock): End Calls'
        # end_requested_at, read by the merge, is not written under it meanwhile.
        chunk = call_ids[start:start + IN_CHUNK]
        for values in (CallRecord.objects.select_for_update().filter(call_id__in=chunk).order_by("call_id")
                       .values("id", *ATTNAMES)):
            row = Row(**values)
            row.pk = values["id"]
            existing[row.call_id] = row
    now = timezone.now()
    created: list[Row] = []
    updated: list[Row] = []
    for call_id in call_ids:
        row = existing.get(call_id)
        if row is None:
            row = _new_record(call_id, by_call[call_id])
            merge(row, by_call[call_id])
            created.append(row)
        elif merge(row, by_call[call_id]):
            updated.append(row)
    touched = created + updated
    _resolve_links(touched)
    for row in touched:
        row.updated_at = now
    _write(created, updated)
    # Calls that are over get their CDR rated and charged here, in the batch's transaction with its cursor: a
    # batch read again finds their CDRs and charges nothing twice.
    cdrs_from_call_records(touched)
    return len(created), len(updated)


def _json(value: Any) -> str:
    """JSON text PostgreSQL's jsonb takes: no NUL, no NaN or infinity (Python's json reads them from a line)."""
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except ValueError:
        text = json.dumps(_clean(value), separators=(",", ":"))
    if "\\u0000" in text:
        text = json.dumps(_clean(value), separators=(",", ":"))
    return text


def _write(created: Sequence[Row], updated: Sequence[Row]) -> None:
    """One INSERT and one UPDATE statement, executed for many rows (executemany): Django's bulk_create and
    bulk_update cost about 1 ms a record in Python for these 40 columns."""
    if not created and not updated:
        return
    quote = connection.ops.quote_name
    kinds = {field.attname: field.get_internal_type() for field in _FIELDS}
    adapt_time = connection.ops.adapt_datetimefield_value

    def adapters(names: Sequence[str]) -> list[tuple[str, Any]]:
        return [(name, _json if kinds[name] == "JSONField" else adapt_time if kinds[name] == "DateTimeField"
                 else None) for name in names]

    def values(row: Row, columns: list[tuple[str, Any]]) -> list[Any]:
        out = []
        for name, adapt in columns:
            value = row.__dict__[name]
            out.append(value if adapt is None or value is None else adapt(value))
        return out

    def placeholder(attname: str) -> str:
        return "%s::jsonb" if connection.vendor == "postgresql" and kinds[attname] == "JSONField" else "%s"

    table = quote(CallRecord._meta.db_table)
    with connection.cursor() as cursor:
        if created:
            names = ", ".join(quote(_column(name)) for name in ATTNAMES)
            holders = ", ".join(placeholder(name) for name in ATTNAMES)
            columns = adapters(ATTNAMES)
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({holders})",
                               [values(row, columns) for row in created])
        if updated:
            assignments = ", ".join(f"{quote(_column(name))} = {placeholder(name)}" for name in UPDATED)
            columns = adapters(UPDATED)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {quote('id')} = %s",
                               [[*values(row, columns), row.pk] for row in updated])


def _column(attname: str) -> str:
    return next(field.column for field in _FIELDS if field.attname == attname)


#
# Files
#


def _spool_files(directory: Path) -> list[tuple[str, int, Path]]:
    """(process, sequence, path) of each spool file, oldest first within its process."""
    files = []
    for path in directory.glob("calls-*.jsonl"):
        match = FILE_NAME.match(path.name)
        if match and path.is_file():
            files.append((match["process"], int(match["sequence"]), path))
    return sorted(files)


def _load_batch(path: Path, batch_bytes: int) -> LoadResult | None:
    """Apply the next batch of `path` with its cursor advance in one transaction; None when nothing is left."""
    for attempt in range(RETRIES):
        try:
            with transaction.atomic():
                cursor, _ = SpoolCursor.objects.get_or_create(file=path.name)
                cursor = SpoolCursor.objects.select_for_update().get(pk=cursor.pk)
                try:
                    raw_lines, offset = read_spool_lines(path, cursor.offset, batch_bytes)
                except FileNotFoundError:
                    return None
                if offset == cursor.offset:
                    return None
                result = LoadResult(batches=1)
                parsed = []
                for raw in raw_lines:
                    line = parse_line(raw)
                    if line is None:
                        result.skipped += 1
                    else:
                        parsed.append(line)
                result.lines = len(parsed)
                result.created, result.updated = apply_lines(parsed)
                cursor.offset = offset
                cursor.updated_at = timezone.now()
                cursor.save(update_fields=["offset", "updated_at"])
                return result
        except IntegrityError:
            # Another worker loading another file created one of these call ids first: read them again.
            if attempt == RETRIES - 1:
                raise
    return None


def load_file(path: Path, *, batch_bytes: int = BATCH_BYTES) -> LoadResult:
    result = LoadResult()
    while (batch := _load_batch(path, batch_bytes)) is not None:
        result.add(batch)
    return result


def load_spool(directory: Path | None = None, *, batch_bytes: int = BATCH_BYTES) -> LoadResult:
    """One pass over the spool: every complete line not yet applied, file by file, in batches.

    A file fully loaded that is not the newest of its process is deleted (its process has moved on to a newer
    file and appends to it no more), with its cursor."""
    directory = directory or spool_dir()
    result = LoadResult()
    if not directory.is_dir():
        return result
    files = _spool_files(directory)
    for _, _, path in files:
        result.add(load_file(path, batch_bytes=batch_bytes))
    _delete_loaded(files, result)
    return result


def _delete_loaded(files: list[tuple[str, int, Path]], result: LoadResult) -> None:
    """Delete each file fully loaded whose process writes to a newer one. Newest = last written (then the highest
    sequence): a process that reuses an earlier run's pid starts again at sequence 1, and the file it writes is
    its newest although an older run's left a higher number."""
    by_process: dict[str, list[tuple[int, int, Path, int]]] = {}
    for process, sequence, path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        by_process.setdefault(process, []).append((stat.st_mtime_ns, sequence, path, stat.st_size))
    older = [(path, size) for entries in by_process.values() for _, _, path, size in sorted(entries)[:-1]]
    names = [path.name for path, _ in older]
    offsets: dict[str, int] = {}
    for start in range(0, len(names), IN_CHUNK):
        offsets.update(SpoolCursor.objects.filter(file__in=names[start:start + IN_CHUNK])
                       .values_list("file", "offset"))
    for path, size in older:
        if path.name in offsets and offsets[path.name] >= size:
            path.unlink(missing_ok=True)
            SpoolCursor.objects.filter(file=path.name).delete()
            result.deleted.append(path.name)


#
# The Redis stream (the switch's spool when COUNTERS_URL is set)
#

STREAM_BATCH = 5000
# A stream entry id "<ms>-<seq>" kept in the cursor's integer: seq below 2^20 (a million lines a millisecond).
_SEQ_BITS = 20


def _stream_offset(entry_id: str) -> int:
    milliseconds, sequence = (int(part) for part in entry_id.split("-"))
    return milliseconds << _SEQ_BITS | min(sequence, (1 << _SEQ_BITS) - 1)


def _stream_id(offset: int) -> str:
    return f"{offset >> _SEQ_BITS}-{offset & ((1 << _SEQ_BITS) - 1)}"


def load_stream(url: str, *, stream: str = SPOOL_STREAM, batch: int = STREAM_BATCH) -> LoadResult:
    """Load the stream's entries after the cursor, a batch per transaction with its cursor (the file rule), then
    trim what is loaded from the stream (the entry under the cursor stays: XTRIM MINID keeps it)."""
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    result = LoadResult()
    name = f"redis:{stream}"[:255]
    try:
        while True:
            with transaction.atomic():
                cursor, _ = SpoolCursor.objects.get_or_create(file=name)
                cursor = SpoolCursor.objects.select_for_update().get(pk=cursor.pk)
                start = f"({_stream_id(cursor.offset)}" if cursor.offset else "-"
                entries = client.xrange(stream, min=start, max="+", count=batch)
                if not entries:
                    break
                batch_result = LoadResult(batches=1)
                parsed = []
                for _, fields in entries:
                    try:
                        data = json.loads(fields.get(STREAM_FIELD, ""))
                    except ValueError:
                        data = None
                    line = parse_line(data) if isinstance(data, dict) else None
                    if line is None:
                        batch_result.skipped += 1
                    else:
                        parsed.append(line)
                batch_result.lines = len(parsed)
                batch_result.created, batch_result.updated = apply_lines(parsed)
                cursor.offset = _stream_offset(entries[-1][0])
                cursor.updated_at = timezone.now()
                cursor.save(update_fields=["offset", "updated_at"])
            result.add(batch_result)
            client.xtrim(stream, minid=entries[-1][0], approximate=False)
    finally:
        client.close()
    return result


@periodic_task("cdrs.load_spool", every=1.0)
def load_spool_task() -> None:
    """The worker's turn: load what the switch spooled since the last one (files, and the Redis stream when the
    switch writes there)."""
    result = load_spool()
    if settings.COUNTERS_URL:
        result.add(load_stream(settings.COUNTERS_URL))
    if result.lines:
        logger.info("Loaded %d call event lines (%d records created, %d updated, %d skipped lines)",
                    result.lines, result.created, result.updated, result.skipped)
        # The cursors moved: balances.json's charged_through lets the switch release the reservations of the
        # calls just charged, those charged nothing (no ledger entry, so no publication queued by the ledger) too.
        enqueue_debounced(PUBLISH_BALANCES)
