"""CDR ingest: records checked line by line, rated, written with their ledger charges and rollups, batch by batch.

All or nothing on validation: one bad line and the answer lists every error by line, and nothing is written.
Otherwise each batch (BATCH_SIZE records) is one transaction: its CDRs are inserted with INSERT ... ON CONFLICT
(call_id, leg) DO NOTHING RETURNING, so only the rows this writer really inserted are charged, whatever other
writers or replays of the same keys do at the same moment; then one ledger_post charges them all (the customer's
row lock, the entries, the balance) and one rollups_apply counts them. A writer killed mid-batch leaves nothing of
that batch; run again, it charges what is missing and counts the rest as duplicates.

`cdrs_from_call_records` is the loader's entry: finished call records become CDRs (leg "a", source "switch") in
the loader's own transaction, with its cursor.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models.base import ModelState
from django.utils import timezone

from trunkline.cdrs.choices import CallState
from trunkline.cdrs.models import Cdr, CdrSource
from trunkline.cdrs.rating import RatingContext, RatingInput
from trunkline.cdrs.services.rollups import rollups_apply
from trunkline.contracts.calls import ReleaseReason
from trunkline.customers.models import Customer
from trunkline.ledger.models import EntryKind
from trunkline.ledger.services import Posting, ledger_post
from trunkline.routing.models import IngressRoute, Provider

# One transaction: big enough that the per-batch work (customer lock, ledger, rollups) is shared by thousands of
# CDRs, small enough that a lock is held for a fraction of a second.
BATCH_SIZE = 4000
# Rows per INSERT statement: ~55 columns x 500 stays under SQLite's 32,766 parameters.
ROWS_PER_STATEMENT = 500
IN_CHUNK = 1000
MAX_ERRORS = 1000
MAX_INT = 2**31 - 1
LOCK_RETRIES = 5
# The longest call taken: the peak rollups hold a row per hour a call was up, so a call from now to year 9999 would
# write ~70 million of them (and its seconds overflow the duration column).
MAX_CALL = timedelta(days=7)

logger = logging.getLogger(__name__)

LEG = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
DIGITS = re.compile(r"^[0-9]{1,128}$")
RELEASE_REASONS = frozenset(reason.value for reason in ReleaseReason)
FIELDS = frozenset({"call_id", "leg", "customer", "ip", "sip_user", "cli", "dst", "start", "answer", "end",
                    "sip_code", "sip_reason", "release_reason", "provider", "route", "tech_prefix", "pdd_ms",
                    "ring_ms", "node"})
# Text fields: (Cdr column, max length).
OPTIONAL_TEXT = {"sip_user": ("sip_user", 64), "sip_reason": ("sip_reason", 128), "tech_prefix": ("tech_prefix", 20),
                 "node": ("node", 100)}
# What a call record's final state makes of a CDR: the states whose call is over.
FINAL_STATES = frozenset({CallState.ENDED.value, CallState.FAILED.value, CallState.REJECTED.value,
                          CallState.EXPIRED.value})

_COLUMNS = [f for f in Cdr._meta.concrete_fields if not f.primary_key]
ATTNAMES = tuple(f.attname for f in _COLUMNS)
_DEFAULTS = {f.attname: f.get_default() for f in _COLUMNS}


@dataclass
class IngestResult:
    new: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"line": n, "field": f, "message": m}


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, line: int, name: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append({"line": line, "field": name, "message": message})


def _time(value: Any, name: str, line: int, errors: _Errors, *, required: bool) -> datetime | None:
    if value is None or value == "":
        if required:
            errors.add(line, name, f"{name} is required.")
        return None
    if not isinstance(value, str):
        errors.add(line, name, f"{name} must be an ISO 8601 time with a timezone, e.g. 2026-12-01T10:00:00Z.")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.add(line, name, f"{name} must be an ISO 8601 time with a timezone, e.g. 2026-12-01T10:00:00Z.")
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        errors.add(line, name, f"{name} has no timezone; give it in UTC, e.g. 2026-12-01T10:00:00Z.")
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        errors.add(line, name, f"{name} is out of range (years 1 to 9999 in UTC).")
        return None


def _id(value: Any, name: str, line: int, errors: _Errors, *, required: bool) -> int | None:
    if value is None:
        if required:
            errors.add(line, name, f"{name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**63 - 1:
        errors.add(line, name, f"{name} must be an id (a whole number).")
        return None
    return value


def _text(value: Any, name: str, line: int, errors: _Errors, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(line, name, f"{name} must be text.")
        return ""
    if "\x00" in value:
        errors.add(line, name, f"{name} must not contain NUL characters.")
        return ""
    if len(value) > limit:
        errors.add(line, name, f"{name} is longer than {limit} characters.")
        return ""
    return value


def _count(value: Any, name: str, line: int, errors: _Errors) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        errors.add(line, name, f"{name} must be a whole number from 0 to {MAX_INT}.")
        return None
    return value


@lru_cache(maxsize=4096)
def _address(text: str) -> str:
    """The address in its canonical form, or "" when it is none (cached: a customer sends from a few)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def _check(number: int, data: Any, errors: _Errors) -> dict[str, Any] | None:
    """One record as the CDR columns hold it, or None with its errors added (every field is checked)."""
    if not isinstance(data, Mapping):
        errors.add(number, "", "A line must be a JSON object.")
        return None
    before = len(errors.items)
    for name in sorted(set(data) - FIELDS):
        errors.add(number, str(name)[:100], f"Unknown field {str(name)[:100]!r}.")
    row: dict[str, Any] = {}
    call_id = data.get("call_id")
    if call_id is None or call_id == "":
        errors.add(number, "call_id", "call_id is required.")
    elif not isinstance(call_id, str):
        errors.add(number, "call_id", "call_id must be text.")
    elif len(call_id) > 255:
        errors.add(number, "call_id", "call_id is longer than 255 characters.")
    elif "\x00" in call_id:
        errors.add(number, "call_id", "call_id must not contain NUL characters.")
    row["call_id"] = call_id
    leg = data.get("leg", "a")
    if not isinstance(leg, str) or not LEG.match(leg):
        errors.add(number, "leg", "leg must be 1 to 16 letters, digits, '_' or '-' (default \"a\").")
    row["leg"] = leg
    row["customer_id"] = _id(data.get("customer"), "customer", number, errors, required=True)
    row["provider_id"] = _id(data.get("provider"), "provider", number, errors, required=False)
    row["ingress_route_id"] = _id(data.get("route"), "route", number, errors, required=False)
    ip = data.get("ip")
    row["source_ip"] = ""
    if ip is not None and ip != "":
        row["source_ip"] = _address(ip) if isinstance(ip, str) else ""
        if not row["source_ip"]:
            errors.add(number, "ip", "ip must be an IPv4 or IPv6 address.")
    for name, (column, limit) in OPTIONAL_TEXT.items():
        row[column] = _text(data.get(name), name, number, errors, limit)
    if not row["source_ip"] and not row["sip_user"] and "ip" not in {e["field"] for e in errors.items[before:]}:
        errors.add(number, "ip", "Give ip or sip_user: how the customer was identified.")
    cli = data.get("cli")
    if cli is None:
        errors.add(number, "cli", "cli is required (it may be empty).")
    row["cli"] = _text(cli, "cli", number, errors, 128)
    dst = data.get("dst")
    if dst is None or dst == "":
        errors.add(number, "dst", "dst is required.")
    elif not isinstance(dst, str) or not DIGITS.match(dst):
        errors.add(number, "dst", "dst must be 1 to 128 digits.")
    row["dst"] = dst
    start = row["start"] = _time(data.get("start"), "start", number, errors, required=True)
    answer = row["answer"] = _time(data.get("answer"), "answer", number, errors, required=False)
    end = row["end"] = _time(data.get("end"), "end", number, errors, required=True)
    if start is not None and answer is not None and answer < start:
        errors.add(number, "answer", "answer must not be before start.")
    if end is not None and (answer or start) is not None and end < (answer or start):
        errors.add(number, "end", "end must not be before answer." if answer else "end must not be before start.")
    elif end is not None and start is not None and end - start > MAX_CALL:
        errors.add(number, "end", f"end is more than {MAX_CALL.days} days after start.")
    code = data.get("sip_code")
    if code is None:
        errors.add(number, "sip_code", "sip_code is required.")
    elif isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 699:
        errors.add(number, "sip_code", "sip_code must be a SIP code from 100 to 699.")
    row["sip_code"] = code
    reason = data.get("release_reason") or ""
    if reason and (not isinstance(reason, str) or reason not in RELEASE_REASONS):
        errors.add(number, "release_reason",
                   f"release_reason must be empty or one of: {', '.join(sorted(RELEASE_REASONS))}.")
    row["release_reason"] = reason
    row["pdd_ms"] = _count(data.get("pdd_ms"), "pdd_ms", number, errors)
    row["ring_ms"] = _count(data.get("ring_ms"), "ring_ms", number, errors)
    row["duration_ms"] = None
    return row if len(errors.items) == before else None


def _owners(model: type[Any], ids: set[int], column: str) -> dict[int, Any]:
    """{id: column value} of the rows that exist, a thousand ids a query."""
    found: dict[int, Any] = {}
    ordered = sorted(ids)
    for begin in range(0, len(ordered), IN_CHUNK):
        found.update(model.objects.filter(pk__in=ordered[begin:begin + IN_CHUNK]).values_list("pk", column))
    return found


def _check_links(rows: list[tuple[int, dict[str, Any]]], errors: _Errors) -> None:
    """Every customer, provider and route a record names exists; a route is the customer's own."""
    for key, name, model, column in (("customer_id", "customer", Customer, "pk"),
                                     ("provider_id", "provider", Provider, "pk"),
                                     ("ingress_route_id", "route", IngressRoute, "customer_id")):
        wanted = {row[key] for _, row in rows if row[key] is not None}
        found = _owners(model, wanted, column) if wanted else {}
        for number, row in rows:
            value = row[key]
            if value is None:
                continue
            if value not in found:
                errors.add(number, name, f"{name} {value} does not exist.")
            elif key == "ingress_route_id" and found[value] != row["customer_id"]:
                errors.add(number, name, f"route {value} is not an ingress route of customer {row['customer_id']}.")


def check_records(records: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows as the CDR columns hold them, one per distinct (call_id, leg) in first-seen order; errors by line)."""
    errors = _Errors()
    checked: list[tuple[int, dict[str, Any]]] = []
    for number, data in enumerate(records, start=1):
        row = _check(number, data, errors)
        if row is not None:
            checked.append((number, row))
    if not errors.items:
        _check_links(checked, errors)
    if errors.items:
        errors.items.sort(key=lambda error: error["line"])
        return [], errors.items
    # A key given twice in one request: the first line is the record, the others are duplicates.
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for _, row in checked:
        unique.setdefault((row["call_id"], row["leg"]), row)
    return list(unique.values()), []


def cdrs_ingest(*, records: Sequence[Mapping[str, Any]], source: str, actor: Any = None,
                batch_size: int = BATCH_SIZE) -> IngestResult:
    """Check, rate and write the records (see the module docstring). `records` hold the fields of the ingest API
    (call_id, leg, customer, ip/sip_user, cli, dst, start, answer, end, sip_code, release_reason, provider, ...)."""
    if source not in CdrSource.values:
        raise ValueError(f"Unknown CDR source {source!r}.")
    rows, errors = check_records(records)
    if errors:
        return IngestResult(errors=errors)
    actor_id = getattr(actor, "pk", None)
    context = RatingContext()
    new = 0
    for begin in range(0, len(rows), batch_size):
        # Rated before the transaction: it only reads, and SQLite's write lock is held from the transaction's start.
        rated = rate_rows(rows[begin:begin + batch_size], source=source, context=context)
        new += _write_with_retries(rated, actor_id=actor_id)
    return IngestResult(new=new, duplicates=len(records) - new)


def _write_with_retries(rated: Sequence[dict[str, Any]], *, actor_id: int | None) -> int:
    """One batch in its own transaction. SQLite: a writer that waited its whole busy timeout for the write lock
    (many writers at once) tries again: the batch wrote nothing, and written again it charges nothing twice."""
    attempt = 1
    while True:
        try:
            with transaction.atomic():
                return len(write_rated(rated, actor_id=actor_id))
        except OperationalError as error:
            if connection.vendor != "sqlite" or "locked" not in str(error) or attempt == LOCK_RETRIES:
                raise
            logger.warning("CDR batch waited too long for the database lock; trying again (%d)", attempt)
            attempt += 1


def rate_rows(rows: Sequence[dict[str, Any]], *, source: str, context: RatingContext) -> list[dict[str, Any]]:
    """Every Cdr column of checked rows (see _check), rated, with ledger_total = the gross to charge; sorted by
    (call_id, leg), so two writers inserting overlapping keys wait on each other in one order (no deadlock)."""
    now = timezone.now()
    rated = context.rate([
        RatingInput(customer_id=row["customer_id"], ingress_route_id=row["ingress_route_id"],
                    provider_id=row["provider_id"], dst=row["dst"], tech_prefix=row["tech_prefix"],
                    start=row["start"], answer=row["answer"], end=row["end"], duration_ms=row["duration_ms"])
        for row in rows])
    full: list[dict[str, Any]] = []
    for row, rating in zip(rows, rated, strict=True):
        values = {**_DEFAULTS, **row, **rating, "source": source, "rated_at": now, "created_at": now}
        values["ledger_total"] = values["customer_charge"] + values["customer_tax"]
        full.append(values)
    full.sort(key=lambda values: (values["call_id"], values["leg"]))
    return full


def write_batch(rows: Sequence[dict[str, Any]], *, source: str, context: RatingContext,
                actor_id: int | None = None) -> list[Cdr]:
    """Rate and write checked rows (see _check) inside the caller's transaction; the new CDRs."""
    return write_rated(rate_rows(rows, source=source, context=context), actor_id=actor_id) if rows else []


def write_rated(full: Sequence[dict[str, Any]], *, actor_id: int | None = None) -> list[Cdr]:
    """Insert rated rows (rate_rows), charge and count the ones this call inserted (not those another writer or
    an earlier run stored). Inside the caller's transaction. Returns the new CDRs."""
    if not full:
        return []
    inserted = _insert(full)
    if not inserted:
        return []
    cdrs = []
    for values in full:
        pk = inserted.get((values["call_id"], values["leg"]))
        if pk is not None:
            cdrs.append(_instance(pk, values))
    postings = [Posting(customer_id=cdr.customer_id, kind=EntryKind.CHARGE.value, amount=-cdr.ledger_total,
                        cdr_id=cdr.pk, reference=f"call {cdr.call_id}/{cdr.leg}"[:300], created_by_id=actor_id)
                for cdr in cdrs if cdr.ledger_total]
    if postings:
        ledger_post(postings=postings)
    rollups_apply(cdrs)
    return cdrs


def _instance(pk: int, values: dict[str, Any]) -> Cdr:
    """A Cdr as if read back from the database, without Model.__init__'s per-field work (~60 fields, thousands
    of rows a batch): the ledger and the rollups read its attributes."""
    cdr = Cdr.__new__(Cdr)
    cdr.__dict__.update({name: values[name] for name in ATTNAMES})
    cdr.id = pk
    cdr._state = ModelState()
    cdr._state.adding = False
    cdr._state.db = "default"
    return cdr


def _insert(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """INSERT ... ON CONFLICT (call_id, leg) DO NOTHING RETURNING: {(call_id, leg): id} of the rows inserted.

    PostgreSQL: the rows are COPYed into a temporary table and inserted from it in one statement (a multi-row
    VALUES of 60 columns spends its time in the driver's client-side parameter merging). SQLite: multi-row VALUES,
    as many rows a statement as its parameter limit allows."""
    quote = connection.ops.quote_name
    table = quote(Cdr._meta.db_table)
    columns = ", ".join(quote(f.column) for f in _COLUMNS)
    tail = (f" ON CONFLICT ({quote('call_id')}, {quote('leg')}) DO NOTHING "
            f"RETURNING {quote('id')}, {quote('call_id')}, {quote('leg')}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TEMPORARY TABLE cdr_ingest ON COMMIT DROP AS SELECT {columns} FROM {table} "
                           f"WITH NO DATA")
            with cursor.copy(f"COPY cdr_ingest ({columns}) FROM STDIN") as copy:
                for values in rows:
                    copy.write_row([values[name] for name in ATTNAMES])
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM cdr_ingest "
                           f"ORDER BY {quote('call_id')}, {quote('leg')}{tail}")
            found = cursor.fetchall()
            cursor.execute("DROP TABLE cdr_ingest")  # a second batch of the same transaction makes its own
            return {(call_id, leg): pk for pk, call_id, leg in found}
        adapt_time = connection.ops.adapt_datetimefield_value
        times = {f.attname for f in _COLUMNS if f.get_internal_type() == "DateTimeField"}
        row_sql = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        inserted: dict[tuple[str, str], int] = {}
        for begin in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[begin:begin + ROWS_PER_STATEMENT]
            params = [adapt_time(values[name]) if name in times and values[name] is not None else values[name]
                      for values in chunk for name in ATTNAMES]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(chunk))}{tail}",
                           params)
            inserted.update(((call_id, leg), pk) for pk, call_id, leg in cursor.fetchall())
    return inserted


#
# The loader's hook
#


def _record_row(record: Any) -> dict[str, Any]:
    """The CDR columns of a finished call record (the loader's merged row)."""
    start = record.attempted_at
    answer = record.answered_at
    end = record.ended_at or (record.expires_at if record.state == CallState.EXPIRED.value else None) or start
    end = max(end, answer or start)
    release_reason = record.release_reason
    if record.state == CallState.EXPIRED.value and answer is not None and not release_reason:
        release_reason = ReleaseReason.LIFETIME_TIMEOUT.value  # the switch let the channel go at its expiry
    code, sip_reason = record.sip_code, record.sip_reason
    if code is None:  # expired unanswered, no gateway's answer loaded: the switch gave up waiting
        code, sip_reason = 408, sip_reason or "Request Timeout"
    # The edge's own duration (whole seconds) when it gave one; else end - answer.
    duration_ms = record.duration * 1000 if record.duration is not None and answer is not None else None
    return {
        "call_id": record.call_id, "leg": "a", "node": record.node, "customer_id": record.customer_id,
        "ingress_route_id": record.ingress_route_id, "provider_id": record.provider_id,
        "source_ip": record.source_ip, "sip_user": "", "cli": record.cli, "dst": record.dst,
        "tech_prefix": record.tech_prefix, "start": start, "answer": answer, "end": end,
        "duration_ms": duration_ms, "pdd_ms": record.pdd_ms, "ring_ms": record.ring_ms,
        "sip_code": code, "sip_reason": sip_reason,
        "release_reason": release_reason,
    }


def finished(records: Iterable[Any]) -> list[Any]:
    """The records whose call is over and whose decision is loaded (the attempt line holds the customer, numbers
    and route): those get their CDR. A call the redirect server answered (302) gets it when it expires, unless
    its edge reports it answered first: it may still go up, and its CDR is written once."""
    return [record for record in records if record.decided and record.customer_id is not None
            and record.state in FINAL_STATES]


def cdrs_from_call_records(records: Sequence[Any]) -> int:
    """Rate and charge the finished records among `records` (CallRecord or the loader's rows with its attnames)
    inside the loader's batch transaction: leg "a", source "switch". A record charged before (its CDR exists) is
    left alone, so a batch read again or a record touched again after its end charges nothing twice."""
    rows = [_record_row(record) for record in finished(records)]
    new = 0
    context = RatingContext()
    for begin in range(0, len(rows), BATCH_SIZE):
        new += len(write_batch(rows[begin:begin + BATCH_SIZE], source=CdrSource.SWITCH.value, context=context))
    return new

