"""A small database-backed job queue: `enqueue()` in a transaction, `trunkline worker` runs the jobs.

A job is claimed under a lease: a worker that dies leaves its job to be claimed again once the lease runs out,
so work survives restarts. Handlers must therefore be idempotent (each knows what it already did).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from trunkline.core.context import change_context
from trunkline.core.models import Job

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# A job kind named here because models below the routing app ask for it (ChangeLoggedModel.jobs_after_change);
# the routing app registers its handler.
PUBLISH_ROUTING_SNAPSHOT = "routing.publish_snapshot"
Handler = Callable[[Job], None]
_handlers: dict[str, Handler] = {}
_debounce: dict[str, timedelta] = {}


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
        # robust: the change has committed by then; failing to queue its follow-up is logged, not turned into an
        # error for a request whose change did happen (the next change queues the job again).
        transaction.on_commit(partial(enqueue_debounced, kind), robust=True)


def _claim() -> Job | None:
    now = timezone.now()
    with transaction.atomic():
        # skip_locked lets several workers share the queue on PostgreSQL; SQLite serialises writers anyway.
        job = (Job.objects.select_for_update(skip_locked=True)
               .filter(Q(status=Job.Status.QUEUED, run_after__lte=now)
                       | Q(status=Job.Status.RUNNING, locked_until__lt=now))
               .order_by("id").first())
        if job is None:
            return None
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


def set_progress(job: Job, done: int, total: int | None = None) -> None:
    job.progress_done = done
    fields = ["progress_done"]
    if total is not None:
        job.progress_total = total
        fields.append("progress_total")
    Job.objects.filter(pk=job.pk).update(**{name: getattr(job, name) for name in fields})
