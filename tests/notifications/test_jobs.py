"""Setup > Jobs and /api/v1/jobs/: failed jobs are listed with their last error and an operator can queue them
again; the retry is logged in the audit log under that operator."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.utils import timezone

from trunkline.audit.models import ObjectChange
from trunkline.core.jobs import job_handler, run_next_job
from trunkline.core.models import Job
from trunkline.routing.publish import PUBLISH_SNAPSHOT

FINISHED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ran: list[int] = []


@job_handler("tests.setup_jobs")
def succeed(job: Job) -> None:
    ran.append(job.pk)


@pytest.fixture
def failed(db) -> Job:
    ran.clear()
    return Job.objects.create(kind="tests.setup_jobs", status="failed", attempts=5, finished=FINISHED,
                              last_error="ConnectionError: server went away")


@pytest.fixture
def done(db) -> Job:
    return Job.objects.create(kind="tests.other", status="done", attempts=1, finished=FINISHED)


def api_json(job: Job) -> dict:
    job.refresh_from_db()
    return {"id": job.pk, "kind": job.kind, "status": job.status, "attempts": job.attempts, "progress_done": 0,
            "progress_total": 0, "last_error": job.last_error,
            "run_after": job.run_after.isoformat().replace("+00:00", "Z"),
            "created": job.created.isoformat().replace("+00:00", "Z"),
            "finished": job.finished.isoformat().replace("+00:00", "Z") if job.finished else None}


def test_the_api_lists_jobs_newest_first_and_filters_by_status_and_kind(api, failed, done) -> None:
    response = api.get("/api/v1/jobs/")
    assert response.status_code == 200
    assert response.json()["results"] == [api_json(done), api_json(failed)]

    response = api.get("/api/v1/jobs/?status=failed")
    assert response.json() == {"count": 1, "next": None, "previous": None, "results": [api_json(failed)]}
    assert api.get("/api/v1/jobs/?kind=tests.other").json()["results"] == [api_json(done)]

    response = api.get("/api/v1/jobs/?status=lost")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "status": ["Select a valid choice. lost is not one of the available choices."]}


def test_retry_queues_a_failed_job_again_and_logs_who_did_it(api, operator_user, failed) -> None:
    queued_first = DjangoJSONEncoder().default(failed.run_after)
    started = timezone.now()
    response = api.post(f"/api/v1/jobs/{failed.pk}/retry/")
    assert response.status_code == 200
    assert response.json() == api_json(failed)
    assert (failed.status, failed.attempts, failed.finished) == ("queued", 0, None)
    assert failed.last_error == "ConnectionError: server went away"  # kept until a run succeeds
    assert started <= failed.run_after <= timezone.now()

    change = ObjectChange.objects.get(object_type__model="job")
    assert (change.action, change.object_id, change.user, change.user_name, change.source) == (
        "update", failed.pk, operator_user, "operator", "api")
    assert change.object_repr == f"tests.setup_jobs #{failed.pk} (queued)"
    assert change.prechange_data == {"kind": "tests.setup_jobs", "status": "failed", "attempts": 5,
                                     "run_after": queued_first,
                                     "finished": "2026-12-01T09:30:00Z",
                                     "last_error": "ConnectionError: server went away"}
    assert change.postchange_data == {**change.prechange_data, "status": "queued", "attempts": 0,
                                      "run_after": DjangoJSONEncoder().default(failed.run_after),
                                      "finished": None}
    assert run_next_job() == failed
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error, ran) == ("done", 1, "", [failed.pk])


def test_retry_refuses_a_job_that_has_not_failed(api, done) -> None:
    response = api.post(f"/api/v1/jobs/{done.pk}/retry/")
    assert response.status_code == 400
    assert response.json() == {"detail": f"Only a failed job can be retried; job {done.pk} is done.",
                               "errors": {"detail": [f"Only a failed job can be retried; job {done.pk} is done."]}}
    done.refresh_from_db()
    assert (done.status, done.attempts) == ("done", 1)
    assert not ObjectChange.objects.filter(object_type__model="job").exists()


def test_retry_refuses_a_debounced_job_whose_newer_twin_waits(api, db) -> None:
    old = Job.objects.create(kind=PUBLISH_SNAPSHOT, debounced=True, status="failed", attempts=5)
    Job.objects.create(kind=PUBLISH_SNAPSHOT, debounced=True, status="queued",
                       run_after=timezone.now() + timedelta(seconds=2))
    response = api.post(f"/api/v1/jobs/{old.pk}/retry/")
    assert response.status_code == 400
    assert response.json()["detail"] == "A newer job of this kind is already queued; it does the same work."
    old.refresh_from_db()
    assert (old.status, old.attempts) == ("failed", 5)
    assert not ObjectChange.objects.filter(object_type__model="job").exists()


def test_viewers_may_neither_list_nor_retry_jobs(api_for, viewer_user, failed) -> None:
    viewer = api_for(viewer_user)
    response = viewer.get("/api/v1/jobs/")
    assert (response.status_code, response.json()) == (
        403, {"detail": "Only operators and admins may see or retry background jobs.", "errors": {}})
    response = viewer.post(f"/api/v1/jobs/{failed.pk}/retry/")
    assert (response.status_code, response.json()) == (403, {"detail": "Your role does not allow this change.",
                                                             "errors": {}})
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("failed", 5)
    assert Client().get("/api/v1/jobs/").status_code in (401, 403)


def test_the_jobs_page_lists_a_failed_job_and_retry_queues_it(web, operator_user, failed, done) -> None:
    page = web.get("/setup/jobs/?status=failed")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-testid="job-{failed.pk}"' in html and f'data-testid="job-{done.pk}"' not in html
    assert "ConnectionError: server went away" in html
    assert f'action="/setup/jobs/{failed.pk}/retry/"' in html
    assert '<a href="/setup/jobs/" class="active">Jobs</a>' in html

    response = web.post(f"/setup/jobs/{failed.pk}/retry/", follow=True)
    assert response.redirect_chain == [("/setup/jobs/?status=failed", 302)]
    assert f"Job {failed.pk} (tests.setup_jobs) is queued again." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("queued", 0)
    change = ObjectChange.objects.get(object_type__model="job")
    assert (change.user, change.source, change.object_id) == (operator_user, "web", failed.pk)

    response = web.post(f"/setup/jobs/{failed.pk}/retry/", follow=True)
    assert f"Only a failed job can be retried; job {failed.pk} is queued." in response.content.decode()
    assert ObjectChange.objects.filter(object_type__model="job").count() == 1


def test_viewers_cannot_open_the_jobs_page(viewer_user, failed) -> None:
    client = Client()
    client.force_login(viewer_user)
    assert client.get("/setup/jobs/").status_code == 403
    assert client.post(f"/setup/jobs/{failed.pk}/retry/").status_code == 403
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert "/setup/jobs/" not in client.get("/customers/").content.decode()
