"""The routing snapshot is rebuilt after every committed change the call decision reads, debounced: a burst of
changes queues one publish job, a change rolled back queues none, and the worker's run writes the file."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_customer
from tests.routing.helpers import load_rates, make_card
from tests.sipauth.factories import make_ip_auth
from trunkline.contracts.codec import read_snapshot
from trunkline.core.context import change_context
from trunkline.core.jobs import enqueue_debounced, job_handler, run_next_job, run_ready_jobs
from trunkline.core.models import Job, SystemSettings
from trunkline.customers.models import Customer
from trunkline.customers.services import number_block_assign
from trunkline.routing.publish import PUBLISH_DEBOUNCE, PUBLISH_SNAPSHOT
from trunkline.routing.snapshot import SNAPSHOT_FILE, snapshot_publish

pytestmark = pytest.mark.django_db


def publish_jobs() -> list[tuple[str, bool]]:
    return list(Job.objects.filter(kind=PUBLISH_SNAPSHOT).values_list("status", "debounced"))


def make_due() -> None:
    Job.objects.filter(kind=PUBLISH_SNAPSHOT).update(run_after=timezone.now() - timedelta(seconds=1))


def test_a_change_queues_one_publish_job_after_its_commit(api, django_capture_on_commit_callbacks) -> None:
    customer = make_customer()
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(reverse("api:ipauth-list"), {"customer": customer.pk, "ip": "192.0.2.7"}, format="json")
        assert response.status_code == 201, response.content
        # Nothing is queued until the change commits.
        assert publish_jobs() == []
    for callback in callbacks:
        callback()
    job = Job.objects.get(kind=PUBLISH_SNAPSHOT)
    assert (job.status, job.debounced, job.payload) == ("queued", True, {})
    assert before + PUBLISH_DEBOUNCE <= job.run_after <= timezone.now() + PUBLISH_DEBOUNCE


def test_a_burst_of_changes_queues_one_job(api, django_capture_on_commit_callbacks) -> None:
    customer = make_customer()
    with django_capture_on_commit_callbacks(execute=True):
        for number in range(1, 6):
            response = api.post(reverse("api:ipauth-list"), {"customer": customer.pk, "ip": f"192.0.2.{number}"},
                                format="json")
            assert response.status_code == 201, response.content
        response = api.patch(reverse("api:customer-detail", args=[customer.pk]), {"channels": 40}, format="json")
        assert response.status_code == 200, response.content
    assert publish_jobs() == [("queued", True)]


def test_a_change_rolled_back_queues_nothing(django_capture_on_commit_callbacks) -> None:
    customer = make_customer()
    with django_capture_on_commit_callbacks(execute=True), change_context(source="test"):
        with pytest.raises(RuntimeError), transaction.atomic():
            customer.channels = 7
            customer.save()
            raise RuntimeError("the request failed after the save")
    assert publish_jobs() == []
    assert Customer.objects.get(pk=customer.pk).channels != 7


def test_records_the_decision_does_not_read_queue_nothing(django_capture_on_commit_callbacks) -> None:
    customer = make_customer()
    with change_context(source="test"):
        settings_row = SystemSettings.load()
        settings_row.number_range_start, settings_row.number_block_size = 1000, 1000
        settings_row.save()
    with django_capture_on_commit_callbacks(execute=True), change_context(source="test"):
        number_block_assign(customer=customer)
    assert publish_jobs() == []


@pytest.mark.parametrize("write", ["customer", "ip_auth", "rate_import"])
def test_each_kind_of_write_queues_the_rebuild(write: str, django_capture_on_commit_callbacks) -> None:
    customer = make_customer()
    card = make_card(name="Retail")
    with django_capture_on_commit_callbacks(execute=True):
        if write == "customer":
            with change_context(source="test"):
                customer.debit_limit = Decimal("5.00")
                customer.save()
        elif write == "ip_auth":
            make_ip_auth(customer, ip="192.0.2.99")
        else:
            load_rates(card, "44,UK,0.0500,0,6,6,0,active\n")  # import + activation: the card's active revision
    assert publish_jobs() == [("queued", True)]


def test_the_worker_publishes_what_the_change_made(django_capture_on_commit_callbacks, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    customer = make_customer(name="Fresh Customer")
    with django_capture_on_commit_callbacks(execute=True):
        make_ip_auth(customer, ip="192.0.2.44")
    assert run_ready_jobs() == 0  # debounced: not due yet
    make_due()
    assert run_ready_jobs() == 1
    snapshot = read_snapshot(tmp_path / SNAPSHOT_FILE)
    assert [(entry.customer_id, entry.ip) for entry in snapshot.ip_auths] == [(customer.pk, "192.0.2.44")]
    assert publish_jobs() == [("done", True)]


def test_a_change_while_the_job_runs_queues_another(django_capture_on_commit_callbacks, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    job = enqueue_debounced(PUBLISH_SNAPSHOT)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    # The running build may have read the data before this change: the change must be published again.
    second = enqueue_debounced(PUBLISH_SNAPSHOT)
    assert second.pk != job.pk
    assert enqueue_debounced(PUBLISH_SNAPSHOT).pk == second.pk
    assert sorted(publish_jobs()) == [("queued", True), ("running", True)]


def test_the_database_allows_one_waiting_debounced_job_per_kind() -> None:
    Job.objects.create(kind=PUBLISH_SNAPSHOT, debounced=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(kind=PUBLISH_SNAPSHOT, debounced=True)
    Job.objects.create(kind=PUBLISH_SNAPSHOT, debounced=True, status=Job.Status.DONE)
    assert Job.objects.filter(kind=PUBLISH_SNAPSHOT).count() == 2


@job_handler("tests.debounced_fail", debounce=timedelta(seconds=0))
def debounced_fail(job: Job) -> None:
    enqueue_debounced("tests.debounced_fail")  # a change arrives while this run is failing
    raise RuntimeError("disk full")


def test_a_failed_debounced_job_with_a_newer_one_waiting_is_not_retried() -> None:
    first = enqueue_debounced("tests.debounced_fail")
    Job.objects.filter(pk=first.pk).update(run_after=timezone.now() - timedelta(seconds=1))
    assert run_next_job().pk == first.pk
    first.refresh_from_db()
    assert (first.status, first.last_error) == ("failed", "RuntimeError: disk full")
    waiting = Job.objects.get(kind="tests.debounced_fail", status=Job.Status.QUEUED)
    assert waiting.pk != first.pk


def test_enqueue_debounced_refuses_a_kind_without_debounce() -> None:
    with pytest.raises(ValueError, match=r"^No debounced job handler for 'routing\.activate_due_revisions'\.$"):
        enqueue_debounced("routing.activate_due_revisions")
    assert not Job.objects.exists()


def test_the_api_says_when_the_switch_file_was_published(api, api_for, viewer_user, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    url = reverse("api:routing-snapshot")
    assert api.get(url).json() == {"published_at": None, "pending": False, "failed": ""}
    published = snapshot_publish()
    enqueue_debounced(PUBLISH_SNAPSHOT)
    stamp = datetime.fromtimestamp(published.stat().st_mtime, tz=UTC)
    answer = api_for(viewer_user).get(url).json()
    assert (datetime.fromisoformat(answer["published_at"].replace("Z", "+00:00")), answer["pending"],
            answer["failed"]) == (stamp, True, "")
