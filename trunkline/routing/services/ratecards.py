"""Writes about providers' and customers' rate cards: saving cards, imports, row edits, revisions going live.

Each service runs in one transaction; callers run inside a change context (web, API, command, job). Rate rows
are written in bulk (COPY on PostgreSQL, one executemany INSERT elsewhere) and are not change-logged: the revision that
brings them is the audited change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, ProtectedError, Q
from django.utils import timezone

from trunkline.contracts.money import RATE_PLACES
from trunkline.core.context import change_context
from trunkline.core.formats import utc_text
from trunkline.core.jobs import enqueue, job_handler, set_progress
from trunkline.core.models import Job, User
from trunkline.routing.choices import RateCardKind, RevisionSource
from trunkline.routing.models import IngressRoute, Rate, RateActivation, RateCard, RateImport, RateRevision
from trunkline.routing.ratefile import COLUMNS, PROGRESS_EVERY, ParseResult, RateValues, parse_columns, parse_rates
from trunkline.routing.selectors import revision_rate_values, rollback_target

ACTIVATE_DUE_JOB = "routing.activate_due_revisions"
IMPORT_RATES_JOB = "routing.import_rates"
_RATE_COLUMNS = ", ".join(COLUMNS)

#
# Cards
#


def _check_egress_cards(card: RateCard, egress_cards: Sequence[RateCard]) -> None:
    if egress_cards and card.kind != RateCardKind.CUSTOMER:
        raise ValidationError({"egress_cards": ["Only a customer card has egress cards."]})
    problems = []
    for egress in egress_cards:
        if egress.kind != RateCardKind.PROVIDER:
            problems.append(f"{egress} is a customer card; egress cards are provider cards.")
        elif egress.currency != card.currency:
            # The margin and profit checks compare sell and buy rates number for number; there is no FX here.
            problems.append(f"{egress} prices in {egress.currency} but this card bills in {card.currency}: "
                            f"sell and buy rates are compared directly, so they must share a currency.")
    if card.pk:
        # A route's lock and exclude lists name egress cards of its card (check_route_cards); keep them true.
        kept = {egress.pk for egress in egress_cards}
        for route in card.ingress_routes.prefetch_related("lock", "exclude").select_related("customer"):
            named = [other for other in (*route.lock.all(), *route.exclude.all()) if other.pk not in kept]
            problems += [f"{other} is locked or excluded by {route}; take it off the route first." for other in named]
            weighted = sorted(int(key) for key in route.weights if int(key) not in kept)
            problems += [f"Card #{key} has a weight on {route}; take it off the route first." for key in weighted]
    if problems:
        raise ValidationError({"egress_cards": problems})


def rate_card_save(*, card: RateCard, egress_cards: Sequence[RateCard] | None = None) -> RateCard:
    """Create or update a card; `egress_cards` (None = unchanged) replaces the customer card's provider cards."""
    card.full_clean()
    if egress_cards is not None:
        _check_egress_cards(card, egress_cards)
    with transaction.atomic():
        if card.pk and egress_cards is not None:
            # The log's "before" must show the old egress list, so take it before the links change.
            stored = RateCard.objects.get(pk=card.pk)
            card._prechange_snapshot = stored.serialize_for_audit()
            card.egress_cards.set(egress_cards)
            card.save()
        else:
            card.save()
            if egress_cards:
                card.egress_cards.set(egress_cards)
                card.save()  # a second entry: the links exist only once the card has an id
    return card


def rate_card_delete(*, card: RateCard) -> None:
    # A locked card vanishing would empty a lock list, and an empty lock means "any provider": refuse instead.
    routes = IngressRoute.objects.filter(Q(rate_card=card) | Q(lock=card)).select_related("customer").distinct()
    names = ", ".join(str(route) for route in routes[:5])
    if names:
        # ProtectedError, as the database would raise for the rate card: the web and API delete paths handle it.
        raise ProtectedError(f"{card} is the rate card or a locked card of ingress routes ({names}); change them "
                             f"first.", set(routes))
    with transaction.atomic():
        # Without this Django would load every row to send its delete signals (the audit listens to all models).
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Rate._meta.db_table} WHERE revision_id IN "
                           f"(SELECT id FROM {RateRevision._meta.db_table} WHERE card_id = %s)", [card.pk])
        card.delete()


#
# Revisions
#


def _lock_card(card: RateCard) -> RateCard:
    """The card row, locked: revision numbers and activation order are taken one writer at a time."""
    return RateCard.objects.select_for_update().get(pk=card.pk)


def _new_revision(card: RateCard, *, source: str, note: str, date_live: datetime | None) -> RateRevision:
    number = (card.revisions.aggregate(top=Max("number"))["top"] or 0) + 1
    return RateRevision(card=card, number=number, source=source, note=note, date_live=date_live)


def _activate(card: RateCard, revision: RateRevision, now: datetime) -> None:
    seq = (card.revisions.aggregate(top=Max("activation_seq"))["top"] or 0) + 1
    RateRevision.objects.filter(pk=revision.pk).update(activation_seq=seq, activated_at=now)
    revision.activation_seq, revision.activated_at = seq, now
    card.active_revision = revision
    card.save(update_fields=["active_revision", "updated"])
    RateActivation.objects.create(card=card, revision=revision, live_from=now)


def _schedule(date_live: datetime) -> None:
    """A job that runs when the revision is due; the management command does the same from cron."""
    job = enqueue(ACTIVATE_DUE_JOB)
    Job.objects.filter(pk=job.pk).update(run_after=date_live)


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab and line breaks escaped (prefixes and amounts have none)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _write_rates(revision: RateRevision, rows: Iterable[RateValues]) -> None:
    pk = revision.pk
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY streams the rows in one statement, several times faster than INSERTs at 500k rows; lines are
            # formatted here in blocks (write_row() per row was measured at twice the time).
            with cursor.cursor.copy(f"COPY {Rate._meta.db_table} (revision_id, {_RATE_COLUMNS}) FROM STDIN") as copy:
                lines: list[str] = []
                for prefix, name, rate, fee, mcd, pulse, grace, status in rows:
                    lines.append(f"{pk}\t{prefix}\t{_copy_text(name)}\t{rate:f}\t{fee:f}\t{mcd}\t{pulse}\t{grace}\t"
                                 f"{status}\n")
                    if len(lines) == 10_000:
                        copy.write("".join(lines))
                        lines.clear()
                copy.write("".join(lines))
            return
        # One prepared INSERT run per row: bulk_create was measured 15x slower here (on SQLite it splits 500k rows
        # into 111-row statements and prepares each field of each model instance in Python).
        cursor.executemany(f"INSERT INTO {Rate._meta.db_table} (revision_id, {_RATE_COLUMNS}) "
                           f"VALUES ({', '.join(['%s'] * (len(COLUMNS) + 1))})", ((pk, *row) for row in rows))


def _reporting(rows: Sequence[RateValues], progress: Callable[[int], None]) -> Iterator[RateValues]:
    """The rows as they are written, telling `progress` every PROGRESS_EVERY rows (after the reading half)."""
    read = len(rows)
    for number, row in enumerate(rows, start=1):
        if number % PROGRESS_EVERY == 0:
            progress(read + number)
        yield row


def _go_live(card: RateCard, revision: RateRevision, *, activate: bool, now: datetime) -> bool:
    """Activate now, or leave a scheduled revision to its date_live; True when it went live now."""
    if revision.date_live is not None and revision.date_live > now:
        _schedule(revision.date_live)
        return False
    if activate or revision.date_live is not None:
        _activate(card, revision, now)
        return True
    return False


# How many prefixes of each kind (added, changed, removed) an import preview lists.
DIFF_SAMPLE = 10


@dataclass
class RateDiff:
    """How a deck differs from the rows it would replace, by prefix: how many were added, changed (any value but the
    prefix: name, rate, fee, increments, status), removed or left as they were, and the first `sample` of each kind
    in prefix order (a change as the row before and after)."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    added_sample: list[RateValues] = field(default_factory=list)
    changed_sample: list[tuple[RateValues, RateValues]] = field(default_factory=list)
    removed_sample: list[RateValues] = field(default_factory=list)

    @property
    def changes(self) -> list[tuple[RateValues, RateValues, list[tuple[str, object, object]]]]:
        """The changed sample with what changed in each row: (before, after, [(field, before, after), ...]); amounts
        to the 6 places a rate is stored with, so 0.0072 and 0.007000 read alike."""
        return [(before, after, [(name, _places(old), _places(new))
                                 for name, old, new in zip(RateValues._fields, before, after, strict=True)
                                 if old != new])
                for before, after in self.changed_sample]


def _places(value: object) -> object:
    return f"{value:.{RATE_PLACES}f}" if isinstance(value, Decimal) else value


def rate_diff(active: Iterable[RateValues], deck: Iterable[RateValues], *, sample: int = DIFF_SAMPLE,
              deck_in_order: bool = False) -> RateDiff:
    """The difference of `deck` (any order, one row per prefix) from `active` (in prefix order, as the database
    streams it). One merged pass: the active rows are never all in memory, so a 600,000-row card can be compared.
    `deck_in_order` says the deck is already in prefix order (another revision, streamed): it is not sorted, so it
    is never all in memory either."""
    diff = RateDiff()
    new = iter(deck if deck_in_order else sorted(deck, key=lambda row: row.prefix))
    old = iter(active)
    before, after = next(old, None), next(new, None)
    while before is not None or after is not None:
        if after is None or (before is not None and before.prefix < after.prefix):
            diff.removed += 1
            if len(diff.removed_sample) < sample:
                diff.removed_sample.append(before)
            before = next(old, None)
        elif before is None or after.prefix < before.prefix:
            diff.added += 1
            if len(diff.added_sample) < sample:
                diff.added_sample.append(after)
            after = next(new, None)
        else:
            if before == after:
                diff.unchanged += 1
            else:
                diff.changed += 1
                if len(diff.changed_sample) < sample:
                    diff.changed_sample.append((before, after))
            before, after = next(old, None), next(new, None)
    return diff


def _active_rows(card: RateCard) -> Iterator[RateValues]:
    """The card's active rows in prefix order (none without an active revision), streamed."""
    return iter(()) if card.active_revision is None else revision_rate_values(card.active_revision)


@dataclass
class RateImportResult:
    parsed: ParseResult
    dry_run: bool
    revision: RateRevision | None = None
    activated: bool = False
    diff: RateDiff | None = None  # a valid preview: what importing would change in the active revision

    @property
    def errors(self) -> dict[str, dict[str, list[str]]]:
        return self.parsed.errors

    @property
    def summary(self) -> str:
        count = self.parsed.error_rows
        if count:
            listed = len(self.errors)
            more = f" (the first {listed:,} are listed)" if listed < count else ""
            return f"{count:,} row{'s' if count != 1 else ''} with errors{more}; nothing was imported."
        rows = len(self.parsed.rows)
        if self.revision is None:
            return f"Ready to import {rows:,} row{'s' if rows != 1 else ''}."
        state = ("active" if self.activated else
                 f"scheduled for {utc_text(self.revision.date_live)}" if self.revision.date_live else
                 "not active")
        return f"Imported {rows:,} row{'s' if rows != 1 else ''} as revision {self.revision.number} ({state})."


def rate_card_import(*, card: RateCard, text: str, start_row: int = 2, columns: str | Sequence[str] | None = None,
                     activate: bool = True, date_live: datetime | None = None, dry_run: bool = False,
                     note: str = "", now: datetime | None = None,
                     progress: Callable[[int], None] | None = None) -> RateImportResult:
    """A CSV deck as a new revision of `card`: all rows valid or nothing written, nothing activated.

    `columns` maps CSV columns to fields by position (see ratefile.parse_columns; raises ratefile.MappingError);
    `start_row` is the first row read, counted as the file counts rows (2 skips one header line). A future
    `date_live` schedules the activation instead. `progress` hears how many steps are done: rows read, then rows
    read plus rows written (twice the row count in all).
    """
    if start_row < 1:
        raise ValidationError({"start_row": ["The start row is 1 or more (rows count from 1)."]})
    parsed = parse_rates(text, start_row=start_row, columns=parse_columns(columns), progress=progress)
    result = RateImportResult(parsed=parsed, dry_run=dry_run)
    if parsed.error_rows:
        return result
    if dry_run:
        result.diff = rate_diff(_active_rows(card), parsed.rows)
        return result
    now = now or timezone.now()
    with transaction.atomic():
        card = _lock_card(card)
        revision = _new_revision(card, source=RevisionSource.IMPORT, note=note, date_live=date_live)
        revision.row_count = len(parsed.rows)
        revision.save()
        _write_rates(revision, parsed.rows if progress is None else _reporting(parsed.rows, progress))
        result.activated = _go_live(card, revision, activate=activate, now=now)
    result.revision = revision
    return result


def rate_revision_activate(*, revision: RateRevision, date_live: datetime | None = None,
                           now: datetime | None = None) -> RateRevision:
    """Make `revision` its card's active one now, or at a future `date_live`."""
    now = now or timezone.now()
    with transaction.atomic():
        card = _lock_card(revision.card)
        if date_live is not None and date_live > now:
            if card.active_revision_id == revision.pk:
                raise ValidationError({"date_live": [f"Revision {revision.number} is already active."]})
            revision.date_live = date_live
            revision.activated_at = None  # due again, even if it was live before
            revision.save()
            _schedule(date_live)
        elif card.active_revision_id != revision.pk:
            _activate(card, revision, now)
    return revision


def rate_card_rollback(*, card: RateCard, to: int | None = None, now: datetime | None = None) -> RateRevision:
    """Back to the revision that was live before the active one; the active one leaves the history, so a second
    roll-back goes one further back. `to`, when given, is the revision number the operator confirmed: if the card
    has changed since (another roll-back or activation), nothing happens rather than a roll-back to another one."""
    now = now or timezone.now()
    with transaction.atomic():
        card = _lock_card(card)
        current = card.active_revision
        if current is None:
            raise ValidationError("The card has no active revision to roll back.")
        previous = rollback_target(card)
        if previous is None:
            raise ValidationError(f"Revision {current.number} is the first that went live; there is nothing to "
                                  f"roll back to.")
        if to is not None and previous.number != to:
            raise ValidationError(f"The card has changed since you confirmed: a roll-back now makes revision "
                                  f"{previous.number} active, not {to}. Nothing was changed; look again first.")
        RateRevision.objects.filter(pk=current.pk).update(activation_seq=None)
        card.active_revision = previous
        card.save(update_fields=["active_revision", "updated"])
        RateRevision.objects.filter(pk=previous.pk).update(activated_at=now)
        # Calls from now on are rated on it again; the history keeps when the rolled-back one was live.
        RateActivation.objects.create(card=card, revision=previous, live_from=now)
    previous.activated_at = now
    return previous


def rate_revisions_activate_due(*, now: datetime | None = None) -> list[RateRevision]:
    """Activate every revision whose date_live has come and that has not gone live yet, oldest date first (so
    the latest due one of a card ends up active). Idempotent: run it from the job, cron or by hand."""
    now = now or timezone.now()
    activated = []
    due = (RateRevision.objects.filter(date_live__lte=now, activated_at__isnull=True)
           .order_by("date_live", "number").values_list("pk", flat=True))
    for pk in list(due):
        with transaction.atomic():
            revision = RateRevision.objects.select_for_update().filter(pk=pk, activated_at__isnull=True).first()
            if revision is None:
                continue  # another worker took it
            card = _lock_card(revision.card)
            _activate(card, revision, now)
        activated.append(revision)
    return activated


@job_handler(ACTIVATE_DUE_JOB)
def activate_due_revisions_job(job: Job) -> None:
    rate_revisions_activate_due()


def rate_import_start(*, card: RateCard, text: str, start_row: int = 2, columns: str = "",
                      date_live: datetime | None = None, note: str = "", created_by: User | None = None) -> RateImport:
    """Queue rate_card_import() for the worker, which reports its progress on the RateImport; a bad start row or
    column mapping is refused at once (MappingError), as the synchronous import refuses it."""
    if start_row < 1:
        raise ValidationError({"start_row": ["The start row is 1 or more (rows count from 1)."]})
    parse_columns(columns or None)
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    rows = max(lines - start_row + 1, 0)
    with transaction.atomic():
        imported = RateImport.objects.create(card=card, text=text, start_row=start_row, columns=columns,
                                             date_live=date_live, note=note, rows=rows, created_by=created_by)
        imported.job = enqueue(IMPORT_RATES_JOB, {"import": imported.pk}, total=2 * rows)
        imported.save(update_fields=["job"])
    return imported


@job_handler(IMPORT_RATES_JOB)
def rate_import_job(job: Job) -> None:
    imported = RateImport.objects.select_related("card", "created_by").get(pk=job.payload["import"])
    if imported.finished is not None:
        return  # a retry after the import had finished
    # Logged under the operator who uploaded the deck: the worker only carries the import out.
    with change_context(source="job", user=imported.created_by):
        result = rate_card_import(card=imported.card, text=imported.text, start_row=imported.start_row,
                                  columns=imported.columns or None, date_live=imported.date_live,
                                  note=imported.note, progress=lambda done: set_progress(job, done))
    set_progress(job, job.progress_total)
    imported.summary = result.summary
    imported.errors = [[row, field, " ".join(problems)] for row, fields in result.errors.items()
                       for field, problems in fields.items()]
    imported.revision = result.revision
    imported.text = ""
    imported.finished = timezone.now()
    imported.save()


#
# Row edits
#


def rate_card_edit(*, card: RateCard, upserts: Sequence[RateValues] = (), deletes: Iterable[str] = (),
                   note: str = "") -> RateRevision:
    """Rows changed through the API: a new revision, copied from the active one with `upserts` put in (by
    prefix) and `deletes` left out, and made active.

    The copy is one INSERT ... SELECT inside the database: no unchanged row travels to Python, so editing one
    row of a 500,000-row card costs a server-side copy, not an import.
    """
    deletes = list(dict.fromkeys(deletes))
    prefixes = [row.prefix for row in upserts]
    if len(set(prefixes)) != len(prefixes):
        raise ValidationError({"prefix": ["The same prefix is given twice in one edit."]})
    now = timezone.now()
    table = Rate._meta.db_table
    with transaction.atomic():
        card = _lock_card(card)
        base = card.active_revision
        present = set(Rate.objects.filter(revision=base, prefix__in=[*deletes, *prefixes])
                      .values_list("prefix", flat=True)) if base is not None else set()
        missing = [prefix for prefix in deletes if prefix not in present]
        if missing:
            raise ValidationError({"prefix": [f"Prefix {', '.join(missing)} is not on the active revision."]})
        revision = _new_revision(card, source=RevisionSource.EDIT, note=note, date_live=None)
        # Counted before the save, so the one audit entry of the revision shows its true size.
        revision.row_count = ((base.row_count if base is not None else 0) - len(deletes)
                              - len(present.intersection(prefixes)) + len(prefixes))
        revision.save()
        with connection.cursor() as cursor:
            if base is not None:
                cursor.execute(f"INSERT INTO {table} (revision_id, {_RATE_COLUMNS}) "
                               f"SELECT %s, {_RATE_COLUMNS} FROM {table} WHERE revision_id = %s",
                               [revision.pk, base.pk])
            replaced = [*deletes, *prefixes]
            for start in range(0, len(replaced), 500):
                chunk = replaced[start:start + 500]
                cursor.execute(f"DELETE FROM {table} WHERE revision_id = %s AND prefix IN "
                               f"({', '.join(['%s'] * len(chunk))})", [revision.pk, *chunk])
        _write_rates(revision, upserts)
        _activate(card, revision, now)
    return revision
