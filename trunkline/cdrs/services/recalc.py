"""Recalc CDR (domain.md §5.4): the four operations, for a customer, a provider or selected CDRs, run by the worker.

recalc_request() checks the inputs of the operation, records the run (the audited change: who asked for what) and
queues its job. The job works in phases, each resumable: a worker that dies mid-run leaves its job to be claimed
again, and the job carries on from the cursor it committed with its last piece of work.

- Re-rate (rerate, adjust_duration): the CDRs in scope in chunks by id, each chunk one transaction: rows locked
  (select_for_update, primary-key order), rated again by cdrs.rating (the card revision live at each call's start,
  as it is now), the rated fields rewritten, the difference to what the ledger holds for the CDR posted as one
  "rerate" entry (never a second charge; nothing when there is no difference), the rollups moved (the old CDR
  taken away, the new one added), and the run's counters and the job's cursor advanced. A CDR whose rating comes
  out the same is left untouched: re-rating twice with the same cards changes nothing the second time.
- Summaries (refresh_summaries, and after a re-rate): the rollups of the scope rebuilt hour by hour from the CDRs,
  each hour one transaction. Peaks are max-merged, never lowered (a call up across the hour started before it).
- Credit (every operation): each customer in scope's balance set to the sum of its ledger entries.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from trunkline.audit.handlers import record_request
from trunkline.cdrs.models import Cdr, CodeRollup, RecalcOperation, RecalcRun, Rollup
from trunkline.cdrs.rating import RatingContext, RatingInput
from trunkline.cdrs.services.rollups import HOUR, rollups_apply
from trunkline.core.context import change_context, current_context
from trunkline.core.jobs import LEASE, enqueue, job_handler
from trunkline.core.models import Job
from trunkline.core.money import MONEY_QUANTUM
from trunkline.customers.models import Customer
from trunkline.ledger.models import EntryKind
from trunkline.ledger.services import Posting, ledger_post, ledger_refresh_balance
from trunkline.routing.models import Provider

RECALC_JOB = "cdrs.recalc"
CHUNK = 1_000  # CDRs re-rated per transaction
REBUILD_CHUNK = 20_000  # CDRs handed to rollups_apply at once when an hour is rebuilt
MAX_SELECTED = 10_000  # cdr_ids in one request
MAX_PERIOD = timedelta(days=92)
REASON_MAX_LENGTH = Cdr._meta.get_field("release_reason").max_length
RERATE_OPERATIONS = frozenset({RecalcOperation.RERATE, RecalcOperation.ADJUST_DURATION})
# What the rating writes on a CDR (the keys of each dict RatingContext.rate() answers).
RATED_FIELDS = ("ingress_route_id", "duration_ms", "duration", "customer_card_id", "customer_revision_id",
                "customer_dest_code", "customer_dest_name", "customer_rate", "customer_connect_fee", "customer_billed",
                "customer_charge", "customer_tax", "customer_currency", "provider_card_id", "provider_revision_id",
                "provider_dest_code", "provider_dest_name", "provider_rate", "provider_connect_fee", "provider_billed",
                "provider_charge", "provider_currency", "profit", "rating_error")
# What re-rating writes on a CDR.
_WRITTEN = [Cdr._meta.get_field(name) for name in ("end", *RATED_FIELDS, "ledger_total", "rated_at")]
# What rollups_apply reads of a CDR: an hour is rebuilt from these columns only.
ROLLUP_FIELDS = ("id", "start", "answer", "end", "customer_id", "provider_id", "duration", "customer_billed",
                 "provider_billed", "customer_charge", "provider_charge", "pdd_ms", "sip_code", "sip_reason",
                 "customer_dest_name", "customer_dest_code")
SHORT_NAMES = {RecalcOperation.REFRESH_CREDIT: "Refresh Credit", RecalcOperation.REFRESH_SUMMARIES: "Refresh Summaries",
               RecalcOperation.RERATE: "Re-rate Calls", RecalcOperation.ADJUST_DURATION: "Adjust Call Duration"}


def recalc_request(*, operation: str, customer_id: int | None = None, provider_id: int | None = None,
                   cdr_ids: Sequence[int] | None = None, date: date | None = None, start: datetime | None = None,
                   end: datetime | None = None, release_reasons: Sequence[str] = (), min_duration: int | None = None,
                   new_duration: int | None = None, actor: Any = None) -> RecalcRun:
    """Check the request, record it as a RecalcRun (audited under `actor`) and queue its job; ValidationError by
    field when an input is wrong for the operation (nothing is written then).

    Scope: exactly one of customer_id, provider_id, cdr_ids. Period: a UTC `date`, or `start` and `end` (end
    excluded); Refresh Summaries needs one, and so does every operation on a customer or a provider except Refresh
    Credit of a customer (a balance is the sum of the whole ledger). Selected CDRs need none (a period given
    narrows them). release_reasons (the re-rate operations): only CDRs with one of these release reasons; none =
    all. Adjust Call Duration: CDRs lasting min_duration seconds or more get new_duration (less than the minimum).
    """
    errors: dict[str, list[str]] = {}
    selected = _clean_ids(cdr_ids, errors)
    _check_scope(customer_id, provider_id, selected, errors)
    period = _period(date, start, end, errors)
    _check_operation(operation, customer_id, provider_id, selected, period, release_reasons, min_duration,
                     new_duration, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        run = RecalcRun.objects.create(
            operation=operation, customer_id=customer_id, provider_id=provider_id, cdr_ids=selected or [],
            date=date, start=period[0] if period else None, end=period[1] if period else None,
            release_reasons=list(dict.fromkeys(reason.strip() for reason in release_reasons)),
            min_duration=min_duration, new_duration=new_duration, created_by=actor if _is_user(actor) else None)
        run.job = enqueue(RECALC_JOB, {"run": run.pk, "phase": _first_phase(run), "after": 0})
        run.save(update_fields=["job"])
        with _context_of(actor):
            record_request(run, _audit_data(run))
    return run


def _is_user(actor: Any) -> bool:
    return getattr(actor, "pk", None) is not None


def _context_of(actor: Any) -> AbstractContextManager[Any]:
    """The request's change context when its actor is `actor` (its source and address kept), else one naming
    `actor` (a script or a test asking on an operator's behalf)."""
    context = current_context()
    if context is not None and (actor is None or context.actor == actor):
        return nullcontext()
    return change_context(source=context.source if context else "system", user=actor,
                          request=context.request if context else None, ip=context.ip if context else None)


def _audit_data(run: RecalcRun) -> dict[str, Any]:
    data = {"operation": run.operation, "customer": run.customer_id, "provider": run.provider_id,
            "cdr_ids": run.cdr_ids, "date": run.date, "start": run.start, "end": run.end,
            "release_reasons": run.release_reasons, "min_duration": run.min_duration,
            "new_duration": run.new_duration, "job": run.job_id}
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _clean_ids(cdr_ids: Sequence[int] | None, errors: dict[str, list[str]]) -> list[int] | None:
    if cdr_ids is None:
        return None
    ids = list(dict.fromkeys(cdr_ids))
    if not ids:
        errors["cdr_ids"] = ["Select at least one CDR."]
    elif len(ids) > MAX_SELECTED:
        errors["cdr_ids"] = [f"At most {MAX_SELECTED:,} CDRs at once ({len(ids):,} selected); recalculate a "
                             f"customer or a provider for a period instead."]
    else:
        known = set(Cdr.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [str(pk) for pk in ids if pk not in known]
        if missing:
            errors["cdr_ids"] = [f"No CDR with id {', '.join(missing[:20])}{'…' if len(missing) > 20 else ''}."]
    return ids


def _check_scope(customer_id: int | None, provider_id: int | None, selected: list[int] | None,
                 errors: dict[str, list[str]]) -> None:
    given = [name for name, value in (("customer", customer_id), ("provider", provider_id),
                                      ("cdr_ids", selected)) if value is not None]
    if not given:
        errors["customer"] = ["Name the customer, the provider or the CDRs (cdr_ids) to recalculate."]
    elif len(given) > 1:
        errors[given[1]] = [f"Give one scope, not several: {' and '.join(given)} were given."]
    if customer_id is not None and not Customer.objects.filter(pk=customer_id).exists():
        errors["customer"] = [f"No customer with id {customer_id}."]
    if provider_id is not None and not Provider.objects.filter(pk=provider_id).exists():
        errors["provider"] = [f"No provider with id {provider_id}."]


def _period(day: date | None, start: datetime | None, end: datetime | None,
            errors: dict[str, list[str]]) -> tuple[datetime, datetime] | None:
    """[start, end) in UTC from a date or from start and end; None when no period was given."""
    if day is not None:
        if start is not None or end is not None:
            errors["date"] = ["Give a date or a start and an end, not both."]
            return None
        first = datetime.combine(day, time(0), tzinfo=UTC)
        return first, first + timedelta(days=1)
    if start is None and end is None:
        return None
    if start is None or end is None:
        errors["start" if start is None else "end"] = ["Give both a start and an end (UTC), or a date."]
        return None
    for name, value in (("start", start), ("end", end)):
        if timezone.is_naive(value):
            errors[name] = ["Give the time zone (UTC: a trailing Z)."]
    if errors.get("start") or errors.get("end"):
        return None
    if end <= start:
        errors["end"] = ["The end must be after the start."]
        return None
    if end - start > MAX_PERIOD:
        errors["end"] = [f"At most {MAX_PERIOD.days} days at once."]
        return None
    return start.astimezone(UTC), end.astimezone(UTC)


def _check_operation(operation: str, customer_id: int | None, provider_id: int | None, selected: list[int] | None,
                     period: tuple[datetime, datetime] | None, release_reasons: Sequence[str],
                     min_duration: int | None, new_duration: int | None, errors: dict[str, list[str]]) -> None:
    if operation not in RecalcOperation.values:
        errors["operation"] = [f"Unknown operation {operation!r}; use one of {', '.join(RecalcOperation.values)}."]
        return
    whose = "customer" if customer_id is not None else "provider" if provider_id is not None else None
    needs_period = whose is not None and (operation != RecalcOperation.REFRESH_CREDIT or whose == "provider")
    if needs_period and period is None and not errors.keys() & {"date", "start", "end"}:
        errors["date"] = [f"{SHORT_NAMES[operation]} for a {whose} needs a date (UTC), or a start and an end."]
    if operation == RecalcOperation.REFRESH_CREDIT and customer_id is not None and period is not None:
        errors["date"] = ["Refresh Credit of a customer takes no date: the balance is the sum of the whole ledger."]
    if release_reasons:
        if operation not in RERATE_OPERATIONS:
            errors["release_reasons"] = ["Only the re-rate operations filter by release reason."]
        else:
            bad = [reason for reason in release_reasons
                   if not isinstance(reason, str) or not reason.strip() or len(reason.strip()) > REASON_MAX_LENGTH]
            if bad:
                errors["release_reasons"] = [f"A release reason is a name of 1 to {REASON_MAX_LENGTH} characters."]
    if operation == RecalcOperation.ADJUST_DURATION:
        if min_duration is None:
            errors["min_duration"] = ["Adjust Call Duration needs the minimum duration (seconds): calls at least "
                                      "this long are adjusted."]
        elif min_duration < 1:
            errors["min_duration"] = ["The minimum duration is 1 second or more."]
        if new_duration is None:
            errors["new_duration"] = ["Adjust Call Duration needs the new duration (seconds)."]
        elif new_duration < 0:
            errors["new_duration"] = ["The new duration is 0 seconds or more."]
        elif min_duration is not None and min_duration >= 1 and new_duration >= min_duration:
            errors["new_duration"] = [f"The new duration must be shorter than the minimum duration "
                                      f"({new_duration} s is not less than {min_duration} s)."]
    else:
        for name, value in (("min_duration", min_duration), ("new_duration", new_duration)):
            if value is not None:
                errors[name] = ["Only Adjust Call Duration takes a minimum and a new duration."]


def _first_phase(run: RecalcRun) -> str:
    if run.operation in RERATE_OPERATIONS:
        return "rerate"
    return "summaries" if run.operation == RecalcOperation.REFRESH_SUMMARIES else "credit"


#
# The job
#


@dataclass
class _Scope:
    run: RecalcRun

    def cdrs(self) -> QuerySet[Cdr]:
        """The CDRs in scope and period (the re-rate filters not applied)."""
        run = self.run
        queryset = Cdr.objects.all()
        if run.customer_id is not None:
            queryset = queryset.filter(customer_id=run.customer_id)
        elif run.provider_id is not None:
            queryset = queryset.filter(provider_id=run.provider_id)
        else:
            queryset = queryset.filter(pk__in=run.cdr_ids)
        if run.start is not None and run.end is not None:
            queryset = queryset.filter(start__gte=run.start, start__lt=run.end)
        return queryset

    def to_rerate(self) -> QuerySet[Cdr]:
        queryset = self.cdrs()
        if self.run.release_reasons:
            queryset = queryset.filter(release_reason__in=self.run.release_reasons)
        if self.run.operation == RecalcOperation.ADJUST_DURATION:
            queryset = queryset.filter(duration__gte=self.run.min_duration)
        return queryset

    def hours(self) -> list[datetime]:
        run = self.run
        if run.start is not None and run.end is not None:
            hours, hour = [], run.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            while hour < run.end:
                hours.append(hour)
                hour += HOUR
            return hours
        found = self.cdrs().annotate(hour=TruncHour("start", tzinfo=UTC)).values_list("hour", flat=True)
        return sorted(set(found))

    def customer_ids(self) -> list[int]:
        if self.run.customer_id is not None:
            return [self.run.customer_id]
        return sorted(set(self.cdrs().values_list("customer_id", flat=True).distinct()))


@job_handler(RECALC_JOB)
def recalc_job(job: Job) -> None:
    run = RecalcRun.objects.select_related("created_by").get(pk=job.payload["run"])
    if run.finished is not None:
        return  # a retry after the run had finished
    scope = _Scope(run)
    # Logged under the operator who asked: the worker only carries the run out.
    with change_context(source="job", user=run.created_by):
        if not job.payload.get("total"):
            _save_state(job, total=_total(run, scope))
        phase = job.payload["phase"]
        if phase == "rerate":
            _rerate_phase(job, run, scope)
            phase = _next_phase(job, "summaries")
        if phase == "summaries":
            _summaries_phase(job, scope)
            phase = _next_phase(job, "credit")
        if phase == "credit":
            _credit_phase(job, scope)
    run.refresh_from_db()
    run.summary = _summary(run, job.payload)
    run.finished = timezone.now()
    run.save(update_fields=["summary", "finished"])
    Job.objects.filter(pk=job.pk).update(progress_done=F("progress_total"))


def _total(run: RecalcRun, scope: _Scope) -> int:
    """Progress steps: CDRs to re-rate, hours to rebuild, customers to refresh (at least 1, so a bar can fill)."""
    total = 0
    if run.operation in RERATE_OPERATIONS:
        total += scope.to_rerate().count()
    if run.operation != RecalcOperation.REFRESH_CREDIT:
        total += len(scope.hours())
    total += len(scope.customer_ids())
    return max(total, 1)


def _save_state(job: Job, *, done: int | None = None, **state: Any) -> None:
    """The job's cursor and counters, in the caller's transaction (so they commit with the work they describe);
    the lease is renewed with them: a long run is not taken for a dead one while it advances."""
    job.payload = {**job.payload, **state}
    fields: dict[str, Any] = {"payload": job.payload, "locked_until": timezone.now() + LEASE}
    if "total" in state:
        job.progress_total = fields["progress_total"] = state["total"]
    if done is not None:
        job.progress_done = fields["progress_done"] = done
    Job.objects.filter(pk=job.pk).update(**fields)


def _next_phase(job: Job, phase: str) -> str:
    _save_state(job, phase=phase, after=0)
    return phase


def _rerate_phase(job: Job, run: RecalcRun, scope: _Scope) -> None:
    context = RatingContext()
    while True:
        with transaction.atomic():
            cdrs = list(scope.to_rerate().select_for_update().filter(pk__gt=job.payload["after"]).order_by("pk")
                        [:CHUNK])
            if not cdrs:
                return
            changed, postings = _rerate(cdrs, run, context)
            difference = sum((posting.amount for posting in postings), Decimal(0))
            RecalcRun.objects.filter(pk=run.pk).update(cdrs_seen=F("cdrs_seen") + len(cdrs),
                                                       cdrs_changed=F("cdrs_changed") + changed,
                                                       ledger_difference=F("ledger_difference") + difference)
            state = job.payload
            _save_state(job, after=cdrs[-1].pk, done=job.progress_done + len(cdrs),
                        entries=state.get("entries", 0) + len(postings),
                        unrated=state.get("unrated", 0) + sum(1 for cdr in cdrs if cdr.rating_error))


def _rerate(cdrs: list[Cdr], run: RecalcRun, context: RatingContext) -> tuple[int, list[Posting]]:
    """Rate the locked `cdrs` again and write what changed (CDR fields, ledger difference, rollups); returns how
    many changed and the postings made."""
    adjust = run.operation == RecalcOperation.ADJUST_DURATION
    items = []
    for cdr in cdrs:
        answer, end, duration_ms = cdr.answer, cdr.end, cdr.duration_ms
        if adjust and answer is not None:
            # The call is cut to the new duration: it ends that long after its answer.
            duration_ms = run.new_duration * 1000
            end = answer + timedelta(seconds=run.new_duration)
        items.append(RatingInput(customer_id=cdr.customer_id, ingress_route_id=cdr.ingress_route_id,
                                 provider_id=cdr.provider_id, dst=cdr.dst, tech_prefix=cdr.tech_prefix,
                                 start=cdr.start, answer=answer, end=end, duration_ms=duration_ms))
    before, after, postings = [], [], []
    now = timezone.now()
    for cdr, item, values in zip(cdrs, items, context.rate(items), strict=True):
        if cdr.end == item.end and all(getattr(cdr, name) == values[name] for name in RATED_FIELDS):
            continue
        before.append(copy.copy(cdr))
        cdr.end = item.end
        for name in RATED_FIELDS:
            setattr(cdr, name, values[name])
        cdr.rated_at = now
        gross = cdr.customer_charge + cdr.customer_tax
        if gross != cdr.ledger_total:
            postings.append(Posting(customer_id=cdr.customer_id, kind=EntryKind.RERATE,
                                    amount=-(gross - cdr.ledger_total), cdr_id=cdr.pk,
                                    reference=f"recalc #{run.pk}: {cdr.call_id}/{cdr.leg}",
                                    created_by_id=run.created_by_id))
            cdr.ledger_total = gross
        after.append(cdr)
    if not after:
        return 0, []
    ledger_post(postings=postings)
    rollups_apply(before, sign=-1)
    rollups_apply(after, sign=1)
    _save(after)
    return len(after), postings


def _save(cdrs: list[Cdr]) -> None:
    """One UPDATE executed for many rows: Django's bulk_update builds one CASE over every row per column, which
    made a 1,000-CDR chunk take most of a minute on PostgreSQL."""
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in _WRITTEN)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {quote(Cdr._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s",
                           [[*(field.get_db_prep_save(getattr(cdr, field.attname), connection) for field in _WRITTEN),
                             cdr.pk] for cdr in cdrs])


def _summaries_phase(job: Job, scope: _Scope) -> None:
    hours = scope.hours()
    for index in range(job.payload["after"], len(hours)):
        with transaction.atomic():
            _rebuild_hour(scope, hours[index])
            _save_state(job, after=index + 1, done=job.progress_done + 1, hours=index + 1)


def _rebuild_hour(scope: _Scope, hour: datetime) -> None:
    """The hour's Rollup and CodeRollup rows of the scope, built again from its CDRs.

    The scope's customers are locked first: ingest locks them (ledger_post) before it adds to the rollups, so a
    batch of this hour either committed before the rows are read here, or adds its CDRs after this commits."""
    run = scope.run
    cdrs = Cdr.objects.filter(start__gte=hour, start__lt=hour + HOUR)
    if run.provider_id is not None:
        cdrs = cdrs.filter(provider_id=run.provider_id)
        customer_ids = sorted(set(cdrs.values_list("customer_id", flat=True)))
    else:
        customer_ids = scope.customer_ids()
        cdrs = cdrs.filter(customer_id__in=customer_ids)
    list(Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk").values_list("pk", flat=True))
    for model in (Rollup, CodeRollup):
        rows = model.objects.filter(hour=hour)
        rows = (rows.filter(provider_id=run.provider_id) if run.provider_id is not None
                else rows.filter(customer_id__in=customer_ids))
        rows.delete()
    for batch in _batches(cdrs.only(*ROLLUP_FIELDS).order_by("start", "pk").iterator(chunk_size=2_000),
                          REBUILD_CHUNK):
        rollups_apply(batch, sign=1)


def _batches(rows: Iterable[Cdr], size: int) -> Iterable[list[Cdr]]:
    batch: list[Cdr] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _credit_phase(job: Job, scope: _Scope) -> None:
    customer_ids = scope.customer_ids()
    for index in range(job.payload["after"], len(customer_ids)):
        before, after = ledger_refresh_balance(customer_id=customer_ids[index])
        corrected = job.payload.get("corrected", [])
        if before != after:
            corrected = [*corrected, [customer_ids[index], _money(before), _money(after)]]
        # A refresh repeated after a crash finds nothing more to correct: it is safe outside this state's commit.
        _save_state(job, after=index + 1, done=job.progress_done + 1, customers=index + 1, corrected=corrected)


def _summary(run: RecalcRun, state: dict[str, Any]) -> str:
    parts = []
    if run.operation in RERATE_OPERATIONS:
        verb = "Adjusted and re-rated" if run.operation == RecalcOperation.ADJUST_DURATION else "Re-rated"
        entries = state.get("entries", 0)
        parts.append(f"{verb} {run.cdrs_seen:,} CDR{_s(run.cdrs_seen)}: {run.cdrs_changed:,} changed, ledger "
                     f"difference {run.ledger_difference:+f} in {entries:,} entr{'y' if entries == 1 else 'ies'}")
        if state.get("unrated"):
            parts.append(f"{state['unrated']:,} could not be rated (see their rating error; they are charged 0)")
    if run.operation != RecalcOperation.REFRESH_CREDIT:
        hours = state.get("hours", 0)
        parts.append(f"summaries rebuilt for {hours:,} hour{_s(hours)}")
    customers = state.get("customers", 0)
    corrected = state.get("corrected", [])
    credit = f"credit refreshed for {customers:,} customer{_s(customers)}"
    if corrected:
        credit += " (" + "; ".join(f"customer {pk}: {before} -> {after}" for pk, before, after in corrected) + ")"
    else:
        credit += " (balance" + ("s" if customers != 1 else "") + " already matched the ledger)"
    parts.append(credit)
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _money(value: Decimal) -> str:
    return str(value.quantize(MONEY_QUANTUM))  # a SQLite sum carries float digits beyond the money places


def _s(count: int) -> str:
    return "" if count == 1 else "s"
