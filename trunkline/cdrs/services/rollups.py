"""Rollups: the per-hour traffic totals that Stats and the Main tab's Summary read (never the CDR table).

`rollups_apply` runs inside the caller's transaction (ingest, the loader, recalc), so a CDR and its counts commit
together. The batch is aggregated in Python first, then written with INSERT ... ON CONFLICT DO UPDATE (PostgreSQL
and SQLite both have it) that adds to what is there: no read-modify-write, so concurrent writers never lose an
increment (PostgreSQL, a few hundred rows or more: COPYed into a scratch table and inserted from it in key order;
otherwise multi-row VALUES). Rows go out sorted by key (text by code point either way), and every writer writes
Rollup, then CodeRollup, then PeakRollup: two batches touching the same keys lock them in the same order, so they
wait for each other, never deadlock.

Peaks (channels, CPS) cannot be added up, so they are merged with max(). A batch only sees its own CDRs: a call
of another batch that overlapped these, or started in the same second, is not counted here, so a peak is a lower
bound of the true figure when the calls of one moment reach the database in different batches. Undoing (sign=-1)
leaves the peaks alone: a max cannot be taken back, and re-rating does not move a call in time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from trunkline.cdrs.models import Cdr, CodeRollup, PeakRollup, PeakScope, Rollup
from trunkline.core.money import MONEY_PLACES
from trunkline.switch.types import CHANNEL_LIMIT, CPS_LIMIT

HOUR = timedelta(hours=1)
BREACH_CODE = 503
CUSTOMER, PROVIDER = PeakScope.CUSTOMER.value, PeakScope.PROVIDER.value
# Rollup's summed columns, in the order of the values a key aggregates.
SUMS = ("attempts", "connected", "duration", "customer_billed", "provider_billed", "customer_charge",
        "provider_charge", "pdd_ms", "pdd_calls", "channel_breaches", "cps_breaches")
MONEY_SUMS = frozenset({"customer_charge", "provider_charge"})
CHARGE_INDEX = SUMS.index("customer_charge")
PROVIDER_CHARGE_INDEX = SUMS.index("provider_charge")
# PostgreSQL: from this many rows COPY through a scratch table beats multi-row VALUES (its three more statements
# cost less than the driver's merging of thousands of parameters).
COPY_MIN_ROWS = 200


def utc_hour(moment: datetime) -> datetime:
    """The start of the moment's UTC hour."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rollup_destination(cdr: Cdr) -> str:
    return cdr.customer_dest_name or cdr.customer_dest_code


def rollups_apply(cdrs: Sequence[Cdr], *, sign: int = 1) -> None:
    """Add the CDRs to the rollups (sign=1), or take them away again (sign=-1, before re-rating writes them anew).

    Must run inside the caller's transaction.atomic()."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be 1 or -1, not {sign!r}.")
    if not cdrs:
        return
    # Hours as whole hours since the epoch while aggregating (cheap to key and sort), datetimes when written.
    traffic: dict[tuple[int, int, int, str], list[Any]] = {}
    last_call: dict[tuple[int, int, int, str], datetime] = {}
    codes: dict[tuple[int, int, int, int], int] = defaultdict(int)
    # Per scope: each call's (start, end) in epoch seconds; end None when it held no channel.
    spans: dict[tuple[str, int], list[tuple[float, float | None]]] = defaultdict(list)
    for cdr in cdrs:
        start = cdr.start.timestamp()
        hour = int(start // 3600)
        customer_id = cdr.customer_id
        provider_id = cdr.provider_id or 0
        if sign == 1:
            # A channel is held from the attempt to the end, ringing or connected; a call refused at the decision
            # (end == start) never held one.
            end = cdr.end.timestamp() if cdr.end is not None else None
            span = (start, end if end is not None and end > start else None)
            spans[(CUSTOMER, customer_id)].append(span)
            if provider_id:
                spans[(PROVIDER, provider_id)].append(span)
        key = (hour, customer_id, provider_id, rollup_destination(cdr))
        sums = traffic.get(key)
        if sums is None:
            sums = traffic[key] = [0] * len(SUMS)
            sums[CHARGE_INDEX] = sums[PROVIDER_CHARGE_INDEX] = Decimal(0)
            last_call[key] = cdr.start
        elif cdr.start > last_call[key]:
            last_call[key] = cdr.start
        sums[0] += 1
        if cdr.answer is not None:
            sums[1] += 1
            sums[2] += cdr.duration
        sums[3] += cdr.customer_billed
        sums[4] += cdr.provider_billed
        sums[5] += cdr.customer_charge
        sums[6] += cdr.provider_charge
        if cdr.pdd_ms is not None:
            sums[7] += cdr.pdd_ms
            sums[8] += 1
        if cdr.sip_code == BREACH_CODE:
            if cdr.sip_reason == CHANNEL_LIMIT:
                sums[9] += 1
            elif cdr.sip_reason == CPS_LIMIT:
                sums[10] += 1
        codes[(hour, customer_id, provider_id, cdr.sip_code)] += 1

    adapt = connection.ops.adapt_datetimefield_value
    hours: dict[int, Any] = {}

    def hour_value(index: int) -> Any:
        value = hours.get(index)
        if value is None:
            value = hours[index] = adapt(datetime.fromtimestamp(index * 3600, UTC))
        return value

    rows = []
    for key in sorted(traffic):
        sums = traffic[key]
        values = [sign * value for value in sums] if sign != 1 else sums
        # An undo does not move last_call_at back (NULL leaves the stored value).
        last = adapt(last_call[key]) if sign == 1 else None
        rows.append([hour_value(key[0]), key[1], key[2], key[3], *values, last])
    _upsert(Rollup, ("hour", "customer_id", "provider_id", "destination", *SUMS, "last_call_at"),
            ("hour", "customer_id", "provider_id", "destination"), rows,
            {**{name: "add" for name in SUMS}, "last_call_at": "max"})
    _upsert(CodeRollup, ("hour", "customer_id", "provider_id", "sip_code", "calls"),
            ("hour", "customer_id", "provider_id", "sip_code"),
            [[hour_value(key[0]), key[1], key[2], key[3], sign * codes[key]] for key in sorted(codes)],
            {"calls": "add"})
    if sign == 1:
        peaks = _peaks(spans)
        _upsert(PeakRollup, ("hour", "scope", "scope_id", "channels", "cps"), ("hour", "scope", "scope_id"),
                [[hour_value(key[0]), key[1], key[2], *peaks[key]] for key in sorted(peaks)],
                {"channels": "max", "cps": "max"})


def _peaks(spans: dict[tuple[str, int], list[tuple[float, float | None]]]) -> dict[tuple[int, str, int], list[int]]:
    """Per (hour since the epoch, scope, id): [most calls up at once, most calls started in one second], from
    these calls only."""
    peaks: dict[tuple[int, str, int], list[int]] = {}
    for (scope, scope_id), calls in spans.items():
        per_second: dict[int, int] = defaultdict(int)
        events: list[tuple[float, int]] = []
        for start, end in calls:
            per_second[int(start)] += 1
            if end is not None:
                events.append((start, 1))
                events.append((end, -1))
        for second, started in per_second.items():
            peak = peaks.setdefault((second // 3600, scope, scope_id), [0, 0])
            if started > peak[1]:
                peak[1] = started
        # At equal times ends sort first: back-to-back calls do not overlap.
        events.sort()
        up = 0
        current = -1
        for moment, delta in events:
            hour = int(moment // 3600)
            if hour != current:
                # Calls still up at the top of each following hour are that hour's channels too.
                for later in range(current + 1 if up else hour, hour + 1):
                    peak = peaks.setdefault((later, scope, scope_id), [0, 0])
                    if up > peak[0]:
                        peak[0] = up
                current = hour
            up += delta
            if delta > 0:
                peak = peaks.setdefault((hour, scope, scope_id), [0, 0])
                if up > peak[0]:
                    peak[0] = up
    return peaks


def _upsert(model: type, columns: Sequence[str], key: Sequence[str], rows: list[list[Any]],
            merge: dict[str, str]) -> None:
    """INSERT the rows (already sorted by key) in as few statements as the backend's parameter limit allows;
    on a key that exists, "add" columns add the new value and "max" columns keep the larger (a NULL new value
    keeps the old one)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    sqlite = connection.vendor == "sqlite"
    sets = []
    for name in columns:
        how = merge.get(name)
        if how is None:
            continue
        old, new = f"{table}.{quote(name)}", f"excluded.{quote(name)}"
        if how == "add":
            # SQLite keeps decimals as REAL: rounding each sum to the money places keeps it exact (no drift).
            total = f"{old} + {new}"
            expr = f"ROUND({total}, {MONEY_PLACES})" if sqlite and name in MONEY_SUMS else total
        else:
            expr = f"CASE WHEN {new} IS NULL OR ({old} IS NOT NULL AND {old} >= {new}) THEN {old} ELSE {new} END"
        sets.append(f"{quote(name)} = {expr}")
    names = ", ".join(quote(name) for name in columns)
    tail = f" ON CONFLICT ({', '.join(quote(name) for name in key)}) DO UPDATE SET {', '.join(sets)}"
    if connection.vendor == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        # COPY into a scratch table, then one INSERT ... SELECT in key order: a multi-row VALUES spends its time
        # in the driver's client-side parameter merging, COPY sends the rows as they are.
        scratch = quote(f"{model._meta.db_table}_in")
        # Code point order, as Python sorted the keys, so the VALUES path of a small batch takes locks alike.
        order = ", ".join(quote(name) + (' COLLATE "C"' if model._meta.get_field(name).get_internal_type()
                                         in ("CharField", "TextField") else "") for name in key)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS SELECT {names} FROM {table} "
                           f"WITH NO DATA")
            with cursor.copy(f"COPY {scratch} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {scratch} "
                           f"ORDER BY {order}{tail}")
            cursor.execute(f"DROP TABLE {scratch}")  # a second batch of the same transaction makes its own
        return
    head = f"INSERT INTO {table} ({names}) VALUES "
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    limit = connection.features.max_query_params or 60_000
    per_statement = max(1, min(1_000, limit // len(columns)))
    with connection.cursor() as cursor:
        for begin in range(0, len(rows), per_statement):
            chunk = rows[begin:begin + per_statement]
            cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail,
                           [value for row in chunk for value in row])
