"""The database job queue: runs in a change context, retries with backoff, gives up after MAX_ATTEMPTS, reclaims the
jobs of dead workers once their lease runs out, and fails jobs nobody can run."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from trunkline.audit.models import ObjectChange
from trunkline.core import jobs
from trunkline.core.context import current_context
from trunkline.core.jobs import (
    LEASE,
    MAX_ATTEMPTS,
    enqueue,
    job_handler,
    requeue_failed,
    run_next_job,
    run_ready_jobs,
    run_worker,
    set_progress,
)
from trunkline.core.models import Job
from trunkline.customers.models import Customer

calls: list[tuple[str, int]] = []


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()
    seen_while_running.clear()


@job_handler("tests.record")
def record(job: Job) -> None:
    context = current_context()
    calls.append((context.source if context else "none", job.pk))
    Customer.objects.create(name=job.payload["name"], currency="USD")  # a change-logged write, as real jobs do


@job_handler("tests.fail")
def fail(job: Job) -> None:
    calls.append(("fail", job.pk))
    raise RuntimeError("boom")


@job_handler("tests.flaky")
def flaky(job: Job) -> None:
    calls.append(("flaky", job.attempts))
    if job.attempts == 1:
        raise ConnectionError("server went away")


seen_while_running: list[Job] = []


@job_handler("tests.lease")
def look(job: Job) -> None:
    seen_while_running.append(Job.objects.get(pk=job.pk))  # the row as other workers see it meanwhile


def due_now(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now() - timedelta(seconds=1))


def test_enqueue_refuses_an_unknown_kind(db) -> None:
    with pytest.raises(ValueError, match=r"^No job handler for 'nope'\.$"):
        enqueue("nope")
    assert not Job.objects.exists()


def test_a_job_runs_once_inside_a_job_change_context(db) -> None:
    job = enqueue("tests.record", {"name": "From A Job"}, total=7)
    assert (job.status, job.attempts, job.progress_total) == ("queued", 0, 7)

    assert run_ready_jobs() == 1
    assert run_ready_jobs() == 0

    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error, job.locked_until) == ("done", 1, "", None)
    assert job.finished is not None
    assert calls == [("job", job.pk)]
    change = ObjectChange.objects.get(object_repr="From A Job")
    assert (change.source, change.user_name, change.action) == ("job", "job", "create")


def test_a_failing_job_is_retried_with_growing_backoff_then_failed(db) -> None:
    job = enqueue("tests.fail")
    for attempt in range(1, MAX_ATTEMPTS):
        started = timezone.now()
        assert run_next_job() == job
        finished = timezone.now()
        job.refresh_from_db()
        assert (job.status, job.attempts, job.last_error) == ("queued", attempt, "RuntimeError: boom")
        backoff = timedelta(seconds=30 * 2 ** attempt)  # 60 s, 120 s, 240 s, ...
        assert started + backoff <= job.run_after <= finished + backoff
        assert job.locked_until is None and job.finished is None
        assert run_next_job() is None  # not due yet
        due_now(job)

    assert run_next_job() == job
    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == ("failed", MAX_ATTEMPTS, "RuntimeError: boom")
    assert job.finished is not None
    due_now(job)
    assert run_ready_jobs() == 0  # failed is final
    assert calls == [("fail", job.pk)] * MAX_ATTEMPTS


def test_a_retry_that_succeeds_clears_the_error(db) -> None:
    job = enqueue("tests.flaky")
    run_next_job()
    job.refresh_from_db()
    assert (job.status, job.last_error) == ("queued", "ConnectionError: server went away")
    due_now(job)
    run_next_job()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == ("done", 2, "")
    assert calls == [("flaky", 1), ("flaky", 2)]


def test_an_unknown_kind_in_the_queue_fails_at_once(db) -> None:
    job = Job.objects.create(kind="removed.kind")  # enqueued by an older version that had this handler
    assert run_next_job() == job
    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == ("failed", 1, "LookupError: No job handler for "
                                                                       "'removed.kind'.")


def test_a_running_job_is_left_alone_until_its_lease_runs_out(db) -> None:
    job = enqueue("tests.record", {"name": "Resumed"})
    Job.objects.filter(pk=job.pk).update(status="running", attempts=1,
                                         locked_until=timezone.now() + timedelta(minutes=5))
    assert run_next_job() is None  # another worker holds it

    Job.objects.filter(pk=job.pk).update(locked_until=timezone.now() - timedelta(seconds=1))  # that worker died
    started = timezone.now()
    assert run_next_job() == job
    job.refresh_from_db()
    assert (job.status, job.attempts, job.locked_until) == ("done", 2, None)
    assert calls == [("job", job.pk)]
    assert started <= job.finished


def test_a_claimed_job_holds_a_lease(db) -> None:
    started = timezone.now()
    job = enqueue("tests.lease")
    run_next_job()
    [during] = seen_while_running
    assert (during.pk, during.status) == (job.pk, "running")
    assert started + LEASE <= during.locked_until <= timezone.now() + LEASE


def test_jobs_run_in_order_and_only_when_due(db) -> None:
    first = enqueue("tests.record", {"name": "First"})
    later = enqueue("tests.record", {"name": "Later"})
    second = enqueue("tests.record", {"name": "Second"})
    Job.objects.filter(pk=later.pk).update(run_after=timezone.now() + timedelta(hours=1))
    assert run_ready_jobs() == 2
    assert calls == [("job", first.pk), ("job", second.pk)]
    assert Job.objects.get(pk=later.pk).status == "queued"


def test_set_progress(db) -> None:
    job = enqueue("tests.record", {"name": "X"}, total=10)
    set_progress(job, 4)
    set_progress(job, 5, total=12)
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (5, 12)


def test_worker_once(db) -> None:
    enqueue("tests.record", {"name": "One"})
    enqueue("tests.record", {"name": "Two"})
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    assert out.getvalue() == "Ran 2 jobs.\n"
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    assert out.getvalue() == "Ran 0 jobs.\n"
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["One", "Two"]


def test_a_job_whose_runs_never_come_back_is_failed_after_max_attempts(db) -> None:
    # Each attempt was claimed and then lost with its worker (the lease ran out): the last one is not run again.
    job = enqueue("tests.record", {"name": "Never"})
    Job.objects.filter(pk=job.pk).update(status="running", attempts=MAX_ATTEMPTS,
                                         locked_until=timezone.now() - timedelta(seconds=1))
    later = enqueue("tests.record", {"name": "Next In Line"})
    assert run_next_job() == later  # the claim gives up on the lost job and takes the next one
    job.refresh_from_db()
    assert (job.status, job.attempts, job.locked_until) == ("failed", MAX_ATTEMPTS, None)
    assert job.last_error == (f"Gave up after {MAX_ATTEMPTS} attempts: the worker running it stopped or lost the "
                              f"database before it finished.")
    assert job.finished is not None
    assert calls == [("job", later.pk)]


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_survives_a_claim_that_raises_and_backs_off(monkeypatch) -> None:
    first = enqueue("tests.record", {"name": "Before The Errors"})
    second = enqueue("tests.record", {"name": "After The Errors"})
    real_claim = jobs._claim
    claims: list[int] = []

    def claim_failing_on_the_second_and_third_call() -> Job | None:
        claims.append(1)
        if len(claims) in (2, 3):
            raise OperationalError("database is locked")
        return real_claim()

    closed: list[bool] = []
    monkeypatch.setattr(jobs, "_claim", claim_failing_on_the_second_and_third_call)
    monkeypatch.setattr(jobs.connection, "close", lambda: closed.append(True))
    sleeps: list[float] = []

    # Turns: run first; the claim raises (wait 2 s), raises again (4 s); run second; nothing to do (idle 1 s).
    ran = run_worker(stopping=lambda: False, idle=1.0, iterations=5, sleep=sleeps.append)

    assert ran == 2
    assert sleeps == [2.0, 4.0, 1.0]
    assert len(closed) == 2  # a fresh connection after each error
    assert calls == [("job", first.pk), ("job", second.pk)]
    assert list(Job.objects.filter(kind="tests.record").values_list("status", flat=True)) == ["done", "done"]


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_stops_when_asked() -> None:
    enqueue("tests.record", {"name": "Not Run"})
    assert run_worker(stopping=lambda: True, sleep=lambda seconds: None) == 0
    assert calls == []


def test_the_error_backoff_is_capped(db, monkeypatch) -> None:
    def broken() -> Job | None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(jobs, "_claim", broken)
    monkeypatch.setattr(jobs.connection, "close", lambda: None)
    sleeps: list[float] = []
    assert run_worker(stopping=lambda: False, idle=1.0, iterations=8, sleep=sleeps.append) == 0
    assert sleeps == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_a_failed_job_is_queued_again_with_its_attempts_reset(db) -> None:
    job = enqueue("tests.fail")
    Job.objects.filter(pk=job.pk).update(status="failed", attempts=MAX_ATTEMPTS, last_error="RuntimeError: boom",
                                         finished=timezone.now())
    started = timezone.now()
    before, after = requeue_failed(job.pk)
    assert after.status == "queued"
    assert (before.status, before.attempts) == ("failed", MAX_ATTEMPTS)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.finished, job.last_error) == ("queued", 0, None, "RuntimeError: boom")
    assert started <= job.run_after <= timezone.now()
    assert run_next_job() == job
    assert calls == [("fail", job.pk)]


def test_only_a_failed_job_can_be_queued_again(db) -> None:
    job = enqueue("tests.record", {"name": "Waiting"})
    with pytest.raises(ValidationError) as raised:
        requeue_failed(job.pk)
    assert raised.value.messages == [f"Only a failed job can be retried; job {job.pk} is queued."]
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("queued", 0)
