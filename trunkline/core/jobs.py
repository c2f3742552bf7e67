"""A small database-backed job queue: `enqueue()` in a transaction, `trunkline worker` runs the jobs.

A job is claimed under a lease: a worker that dies leaves its job to be claimed again once the lease runs out,
so work survives restarts. Handlers must therefore be idempotent (each knows what it already did).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from trunkline.core.context import change_context
from trunkline.core.models import Job

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# The worker's pause after an error outside a job's handler (the claim, the database): doubles per error in a row.
ERROR_BACKOFF_MAX = 60.0
Handler = Callable[[Job], None]
_handlers: dict[str, Handler] = {}
_debounce: dict[str, timedelta] = {}
# name -> (function, every seconds); and when each last ran (time.monotonic()).
_periodic: dict[str, tuple[Callable[[], None], float]] = {}
_periodic_last: dict[str, float] = {}


def job_handler(kind: str, *, debounce: timedelta | None = None) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind` (an app registers its handlers when it is loaded).

    With `debounce`, the kind is queued through enqueue_debounced(): a burst of requests makes one job that
    runs `debounce` after the first of them.
    """

    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        if debounce is not None:
            _debounce[kind] = debounce
        return function

    return register


def periodic_task(name: str, *, every: float) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register a function the worker's loop calls between jobs, at most once per `every` seconds (the call
    records' spool load). It must be idempotent and short; its error is logged and it runs again next time."""

    def register(function: Callable[[], None]) -> Callable[[], None]:
        _periodic[name] = (function, every)
        return function

    return register


def run_periodic_tasks(*, clock: Callable[[], float] = time.monotonic) -> int:
    """Run the periodic tasks that are due; returns how many ran."""
    ran = 0
    for name, (function, every) in list(_periodic.items()):
        now = clock()
        if name in _periodic_last and now - _periodic_last[name] < every:
            continue
        _periodic_last[name] = now
        ran += 1
        try:
            with change_context(source="job"):
                function()
        except Exception:
            logger.exception("Periodic task %s failed; it runs again in %.1f s", name, every)
            connection.close()  # a lost database: the next turn opens a fresh connection
    return ran


def enqueue(kind: str, payload: dict[str, Any] | None = None, *, total: int = 0) -> Job:
    if kind not in _handlers:
        raise ValueError(f"No job handler for {kind!r}.")
    return Job.objects.create(kind=kind, payload=payload or {}, run_after=timezone.now(), progress_total=total)


def enqueue_debounced(kind: str) -> Job:
    """The queued job of `kind`, created unless one is already waiting (a partial unique index makes that hold
    under concurrent writers too). A job already running does not count: it may have read the data before the
    change that asks again."""
    if kind not in _debounce:
        raise ValueError(f"No debounced job handler for {kind!r}.")
    waiting = Job.objects.filter(kind=kind, debounced=True, status=Job.Status.QUEUED)
    job = waiting.first()
    if job is not None:
        return job
    try:
        with transaction.atomic():
            return Job.objects.create(kind=kind, debounced=True, run_after=timezone.now() + _debounce[kind])
    except IntegrityError:  # another writer queued it between our look and our insert
        return waiting.get()


def enqueue_after_commit(kinds: tuple[str, ...]) -> None:
    """Queue the debounced `kinds` once the current transaction commits: nothing for a change rolled back, and
    the job's row is written outside the change's transaction, so concurrent writers never wait on each other
    for it."""
    for kind in kinds:
        if _queued_in_this_transaction(kind):
            continue
        # robust: the change has committed by then; failing to queue its follow-up is logged, not turned into an
        # error for a request whose change did happen (the next change queues the job again).
        transaction.on_commit(_enqueue_later(kind), robust=True)


def _enqueue_later(kind: str) -> Callable[[], None]:
    # A named function, not functools.partial: Django logs a failed robust callback by its __qualname__.
    def enqueue_after_commit_of_change() -> None:
        enqueue_debounced(kind)

    return enqueue_after_commit_of_change


def _queued_in_this_transaction(kind: str) -> bool:
    """True when the innermost open atomic block already queues `kind` after commit, else remembers that it now
    does: a 200,000-row import would otherwise leave 200,000 callbacks, each a query at commit, for one job.

    Django replaces its list of commit callbacks whenever it drops some (commit, rollback, a savepoint rolled
    back), so the kinds are remembered with that list and the block's savepoint, and forgotten with either."""
    if not connection.in_atomic_block:
        return False  # on_commit runs the callback at once
    block = (connection.run_on_commit, connection.savepoint_ids[-1] if connection.savepoint_ids else None)
    remembered = getattr(connection, "_trunkline_after_commit", None)
    if remembered is None or remembered[0] is not block[0] or remembered[1] != block[1]:
        remembered = (*block, set())
        connection._trunkline_after_commit = remembered
    if kind in remembered[2]:
        return True
    remembered[2].add(kind)
    return False


def _claim() -> Job | None:
    while True:
        now = timezone.now()
        with transaction.atomic():
            # skip_locked lets several workers share the queue on PostgreSQL; SQLite serialises writers anyway.
            job = (Job.objects.select_for_update(skip_locked=True)
                   .filter(Q(status=Job.Status.QUEUED, run_after__lte=now)
                           | Q(status=Job.Status.RUNNING, locked_until__lt=now))
                   .order_by("id").first())
            if job is None:
                return None
            if job.status == Job.Status.RUNNING and job.attempts >= MAX_ATTEMPTS:
                # Its runs never came back (the worker died or lost the database each time): given up like a job
                # whose handler raises, instead of being reclaimed for ever.
                job.status = Job.Status.FAILED
                job.finished = now
                job.locked_until = None
                job.last_error = (f"Gave up after {job.attempts} attempts: the worker running it stopped or lost "
                                  f"the database before it finished.")
                job.save(update_fields=["status", "finished", "locked_until", "last_error"])
                logger.error("Job %s failed: %s", job, job.last_error)
                continue
            job.status = Job.Status.RUNNING
            job.attempts += 1
            job.locked_until = now + LEASE
            job.save(update_fields=["status", "attempts", "locked_until"])
        return job


def run_next_job() -> Job | None:
    """Claim and run one ready job; None when there is nothing to do."""
    job = _claim()
    if job is None:
        return None
    handler = _handlers.get(job.kind)
    try:
        if handler is None:
            raise LookupError(f"No job handler for {job.kind!r}.")
        with change_context(source="job"):
            handler(job)
    except Exception as error:
        logger.exception("Job %s failed", job)
        job.last_error = f"{type(error).__name__}: {error}"
        superseded = job.debounced and Job.objects.filter(
            kind=job.kind, debounced=True, status=Job.Status.QUEUED).exists()
        # A debounced job with a newer one waiting is not retried: the newer one does the same work.
        if job.attempts >= MAX_ATTEMPTS or handler is None or superseded:
            job.status = Job.Status.FAILED
            job.finished = timezone.now()
        else:
            job.status = Job.Status.QUEUED
            job.run_after = timezone.now() + timedelta(seconds=30 * 2 ** job.attempts)
    else:
        job.status = Job.Status.DONE
        job.finished = timezone.now()
        job.last_error = ""
    job.locked_until = None
    job.save(update_fields=["status", "finished", "last_error", "run_after", "locked_until"])
    return job


def run_ready_jobs() -> int:
    """Run jobs until none is ready; returns how many ran."""
    count = 0
    while run_next_job() is not None:
        count += 1
    return count


def run_worker(*, stopping: Callable[[], bool], idle: float = 1.0, iterations: int | None = None,
               sleep: Callable[[float], None] = time.sleep) -> int:
    """The worker's loop: run jobs until `stopping()` (or `iterations` turns, for tests); returns how many ran.

    It never leaves on an error. A handler's error is the job's (run_next_job retries it, then fails it); an error
    around it (claiming, saving the outcome: "database is locked", a restarted server) is logged, the connection
    dropped so the next turn opens a fresh one, and the loop waits longer after each such error in a row.
    """
    ran = 0
    errors_in_a_row = 0
    turn = 0
    while not stopping() and (iterations is None or turn < iterations):
        turn += 1
        run_periodic_tasks()
        try:
            job = run_next_job()
        except Exception:
            errors_in_a_row += 1
            delay = min(idle * 2 ** errors_in_a_row, ERROR_BACKOFF_MAX)
            logger.exception("The worker could not claim or finish a job (%d error(s) in a row); trying again in "
                             "%.1f s", errors_in_a_row, delay)
            connection.close()
            sleep(delay)
            continue
        errors_in_a_row = 0
        if job is None:
            sleep(idle)
        else:
            ran += 1
    return ran


def requeue_failed(job_id: int) -> tuple[Job, Job]:
    """Queue a failed job again with its attempts reset (an operator's Retry); returns the job before and after.

    Raises ValidationError when the job is not failed, or when it is a debounced job whose newer twin already
    waits (that one does the same work). The caller records the change in the audit log.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status != Job.Status.FAILED:
            raise ValidationError(f"Only a failed job can be retried; job {job.pk} is "
                                  f"{job.get_status_display().lower()}.")
        before = copy.copy(job)
        job.status = Job.Status.QUEUED
        job.attempts = 0
        job.run_after = timezone.now()
        job.finished = None
        try:
            with transaction.atomic():  # a savepoint: the partial unique index refuses a second waiting twin
                job.save(update_fields=["status", "attempts", "run_after", "finished"])
        except IntegrityError:
            raise ValidationError("A newer job of this kind is already queued; it does the same work.") from None
    return before, job


def set_progress(job: Job, done: int, total: int | None = None) -> None:
    job.progress_done = done
    fields = ["progress_done"]
    if total is not None:
        job.progress_total = total
        fields.append("progress_total")
    Job.objects.filter(pk=job.pk).update(**{name: getattr(job, name) for name in fields})
