"""The only writers of the ledger and of Customer.balance (DESIGN.md, "Money and time").

ledger_post() is the one path: it locks the customers, appends the entries with the balance each one leaves, and
writes the cached balance, all in the caller's transaction. Call ingest calls it once per batch of thousands of
CDRs, so it does a fixed number of queries per call: one lock query, one insert, one update per customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet, Sum
from django.db.models.base import ModelState
from django.utils import timezone

from trunkline.audit.handlers import record_update
from trunkline.core.context import change_context, current_context
from trunkline.core.jobs import enqueue_debounced
from trunkline.core.money import MONEY_MAX_DIGITS, MONEY_PLACES, MONEY_QUANTUM
from trunkline.core.validators import reject_control_characters
from trunkline.customers.models import Customer
from trunkline.ledger.models import EntryKind, LedgerEntry

# The worker's debounced job that rewrites balances.json for the switch (its handler lives in cdrs).
PUBLISH_BALANCES = "balances.publish"
# A balance or an amount must fit the money columns: 18 digits, 6 of them decimals.
MONEY_LIMIT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_PLACES)
REASON_MAX_LENGTH = LedgerEntry._meta.get_field("reason").max_length
_KINDS = frozenset(EntryKind.values)
_COLUMNS = ("customer_id", "kind", "amount", "balance_after", "cdr_id", "reference", "reason", "created_by_id",
            "created_at")
_ZERO = Decimal("0")
# Rows per INSERT on SQLite: 9 columns x 2,000 stays under its 32,766 parameters (SQLite >= 3.32).
_SQLITE_ROWS_PER_STATEMENT = 2_000


@dataclass(frozen=True)
class Posting:
    customer_id: int
    kind: str  # EntryKind
    amount: Decimal  # signed: + credits the customer, - debits; at most MONEY_PLACES decimals
    cdr_id: int | None = None
    reference: str = ""
    reason: str = ""
    created_by_id: int | None = None


def ledger_post(*, postings: Sequence[Posting]) -> list[LedgerEntry]:
    """Append `postings` in order and move their customers' balances; returns the entries (with ids).

    Must run inside transaction.atomic(): the entries and the balances commit or roll back together. The customers
    are locked in primary-key order, so concurrent posters queue instead of deadlocking, and each balance is read
    behind its lock. Raises ValueError for a posting that cannot be stored exactly (nothing is written then).
    """
    if not postings:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_post() must be called inside transaction.atomic().")
    for posting in postings:
        _check_posting(posting)
    customer_ids = sorted({posting.customer_id for posting in postings})
    balances: dict[int, Decimal] = dict(
        Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk").values_list("pk", "balance"))
    missing = [pk for pk in customer_ids if pk not in balances]
    if missing:
        raise ValueError(f"No customer with id {', '.join(map(str, missing))}.")
    before = dict(balances)
    now = timezone.now()
    rows = []
    for posting in postings:
        balance = balances[posting.customer_id] + posting.amount
        if abs(balance) >= MONEY_LIMIT:
            raise ValueError(f"Customer {posting.customer_id}'s balance would be {balance}, beyond what a balance "
                             f"can hold (less than {MONEY_LIMIT:,} either way).")
        balances[posting.customer_id] = balance
        rows.append({"customer_id": posting.customer_id, "kind": str(posting.kind), "amount": posting.amount,
                     "balance_after": balance, "cdr_id": posting.cdr_id, "reference": posting.reference,
                     "reason": posting.reason, "created_by_id": posting.created_by_id, "created_at": now})
    entries = _insert(rows)
    moved = False
    for pk in customer_ids:
        if balances[pk] != before[pk]:
            Customer.objects.filter(pk=pk).update(balance=balances[pk])
            moved = True
    if moved:
        _publish_after_commit()
    return entries


def _publish_after_commit() -> None:
    """Queue the balances publication once the transaction commits (nothing for a rollback). Robust: the money has
    committed by then, so a failure to queue is logged, not raised at the caller (the next posting queues it).
    A named function, not core.jobs.enqueue_after_commit's partial: Django's log line for a failed robust callback
    reads its __qualname__, which a partial lacks, and that AttributeError would reach the caller."""
    connection = transaction.get_connection()
    # Once per transaction: Django drops the callbacks of a savepoint rolled back, so this sees what will run.
    if not any(function is _enqueue_publication for _, function, _ in connection.run_on_commit):
        transaction.on_commit(_enqueue_publication, robust=True)


def _enqueue_publication() -> None:
    enqueue_debounced(PUBLISH_BALANCES)


def _insert(rows: list[dict[str, Any]]) -> list[LedgerEntry]:
    """Insert the entries in order (ascending ids) and return them with their ids.

    On PostgreSQL: ids drawn from the table's sequence in one query, then COPY, several times faster than an
    INSERT of thousands of rows; the entries returned are built without Model.__init__ (a few microseconds each
    instead of tens: a batch has thousands). Elsewhere (SQLite, the embedded default): multi-row INSERT ...
    RETURNING id, the values adapted as bulk_create() would, without its per-field compiling (most of a batch's
    write time, with SQLite's one write lock held)."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return _insert_values(connection, rows)
    table = LedgerEntry._meta.db_table
    # wrap_database_errors: a refused row (a second charge of a CDR) raises Django's IntegrityError, as an INSERT's.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id "
                       f"FROM generate_series(1, %s) ORDER BY id", [len(rows)])
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.copy(f"COPY {table} (id, {', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row((pk, *(row[name] for name in _COLUMNS)))
    return [_loaded(pk, row, connection.alias) for pk, row in zip(ids, rows, strict=True)]


def _insert_values(connection: Any, rows: list[dict[str, Any]]) -> list[LedgerEntry]:
    ops = connection.ops
    quote = ops.quote_name
    money = {name: LedgerEntry._meta.get_field(name) for name in ("amount", "balance_after")}
    row_sql = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    head = (f"INSERT INTO {quote(LedgerEntry._meta.db_table)} ({', '.join(quote(name) for name in _COLUMNS)}) "
            f"VALUES ")
    per_statement = _SQLITE_ROWS_PER_STATEMENT
    ids: list[int] = []
    with connection.cursor() as cursor:
        for begin in range(0, len(rows), per_statement):
            chunk = rows[begin:begin + per_statement]
            params = []
            for row in chunk:
                for name in _COLUMNS:
                    value = row[name]
                    if name in money:
                        value = ops.adapt_decimalfield_value(value, money[name].max_digits,
                                                             money[name].decimal_places)
                    elif name == "created_at":
                        value = ops.adapt_datetimefield_value(value)
                    params.append(value)
            cursor.execute(f"{head}{', '.join([row_sql] * len(chunk))} RETURNING {quote('id')}", params)
            # Ids grow in insertion order (the table's AUTOINCREMENT, under the write lock); RETURNING's row order
            # is not promised, so they are sorted.
            ids.extend(sorted(pk for (pk,) in cursor.fetchall()))
    return [_loaded(pk, row, connection.alias) for pk, row in zip(ids, rows, strict=True)]


def _loaded(pk: int, row: dict[str, Any], alias: str) -> LedgerEntry:
    """A saved entry as a query would have loaded it."""
    entry = LedgerEntry.__new__(LedgerEntry)
    entry.__dict__.update(row, id=pk)
    entry._state = ModelState()
    entry._state.adding = False
    entry._state.db = alias
    return entry


def _check_posting(posting: Posting) -> None:
    if posting.kind not in _KINDS:
        raise ValueError(f"Unknown ledger entry kind {posting.kind!r}; use one of {sorted(_KINDS)}.")
    amount = posting.amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"A posting's amount must be a finite Decimal, not {amount!r}.")
    if abs(amount) >= MONEY_LIMIT or amount.quantize(MONEY_QUANTUM) != amount:
        raise ValueError(f"A posting's amount must have at most {MONEY_PLACES} decimals and be less than "
                         f"{MONEY_LIMIT:,} either way, not {amount}.")


def customer_adjust_balance(*, customer_id: int, amount: Decimal, reason: str, actor: Any) -> LedgerEntry:
    """An operator's credit (amount > 0) or debit (amount < 0) with a reason, in its own transaction, written to
    the audit log under `actor` with the balance before and after. Raises ValidationError by field (amount,
    reason) when the input is bad, Customer.DoesNotExist for an unknown customer; nothing is written then."""
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    amount_error = _amount_error(amount)
    if amount_error:
        errors["amount"] = [amount_error]
    if not reason:
        errors["reason"] = ["Say why the balance is adjusted (the customer's statement and the audit log show it)."]
    elif len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = [f"At most {REASON_MAX_LENGTH} characters (it has {len(reason)})."]
    else:
        try:
            reject_control_characters(reason)
        except ValidationError as error:
            errors["reason"] = error.messages
    if errors:
        raise ValidationError(errors)
    with _as_actor(actor), transaction.atomic():
        customer = Customer.objects.get(pk=customer_id)
        try:
            entry = ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.ADJUSTMENT, amount=amount,
                                                  reason=reason, created_by_id=getattr(actor, "pk", None))])[0]
        except ValueError as error:  # the balance would overflow its column
            raise ValidationError({"amount": [str(error)]}) from error
        before = entry.balance_after - entry.amount
        record_update(customer, {"balance": _money(before)},
                      {"balance": _money(entry.balance_after), "adjustment": _money(amount), "reason": reason,
                       "ledger_entry": entry.pk})
    return entry


def _amount_error(amount: Any) -> str | None:
    if not isinstance(amount, Decimal):
        return "Give the amount as a decimal number such as 25.50 or -10."
    if not amount.is_finite():
        return "Give a finite amount."
    if amount == 0:
        return "The amount cannot be 0: give a credit such as 25.50 or a debit such as -10."
    if abs(amount) >= MONEY_LIMIT:
        return f"The amount must be less than {MONEY_LIMIT:,} either way."
    if amount.quantize(MONEY_QUANTUM) != amount:
        return f"At most {MONEY_PLACES} decimal places."
    return None


def ledger_refresh_balance(*, customer_id: int) -> tuple[Decimal, Decimal]:
    """Set the customer's cached balance to the sum of its entries (a repair: the two never differ when every
    writer goes through ledger_post); returns (before, after). A change is written to the audit log."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        before = customer.balance
        after = entries_total(LedgerEntry.objects.filter(customer_id=customer_id))
        if after != before:
            Customer.objects.filter(pk=customer_id).update(balance=after)
            record_update(customer, {"balance": _money(before)}, {"balance": _money(after)})
            _publish_after_commit()
    return before, after


def entries_total(entries: QuerySet[LedgerEntry]) -> Decimal:
    """The exact sum of these entries' amounts. PostgreSQL adds numerics exactly; SQLite adds decimals as floating
    point (-18113.359720 came back as -18113.3597199999), so there they are added up here."""
    if connection.vendor == "postgresql":
        return entries.aggregate(total=Sum("amount"))["total"] or _ZERO
    return sum(entries.values_list("amount", flat=True).iterator(chunk_size=10_000), _ZERO)


def _money(value: Decimal) -> str:
    """As the audit log shows a stored balance: six places, as text."""
    return str(value.quantize(MONEY_QUANTUM))


def _as_actor(actor: Any) -> AbstractContextManager[Any]:
    """The change context of the request when its actor is `actor`; else one that names `actor` (a script or a
    job adjusting on an operator's behalf), keeping the request's source and address."""
    context = current_context()
    if context is not None and context.actor == actor:
        return nullcontext()
    return change_context(source=context.source if context else "system", user=actor,
                          request=context.request if context else None, ip=context.ip if context else None)

