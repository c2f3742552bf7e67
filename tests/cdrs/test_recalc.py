"""Recalc CDR (services.recalc, POST /api/v1/cdrs/recalc/, GET /api/v1/recalc-runs/): exact ledger differences
and rollup changes, re-rating twice changes nothing, a run resumes where a dead worker left it, every refused
input named by its field with nothing queued, the request audited, viewers refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from tests.cdrs.recalc_helpers import ingest, iso, make_world
from trunkline.audit.models import ObjectChange
from trunkline.cdrs.models import Cdr, CodeRollup, RecalcRun, Rollup
from trunkline.cdrs.services import recalc
from trunkline.cdrs.services.recalc import recalc_request
from trunkline.core.context import change_context
from trunkline.core.jobs import run_next_job, run_ready_jobs
from trunkline.core.models import Job
from trunkline.customers.models import Customer
from trunkline.ledger.models import LedgerEntry
from trunkline.routing.services.routes import ingress_route_save

pytestmark = pytest.mark.django_db

URL = "/api/v1/cdrs/recalc/"


@pytest.fixture
def world() -> SimpleNamespace:
    return make_world()


def balance(world: SimpleNamespace) -> Decimal:
    return Customer.objects.get(pk=world.customer.pk).balance


def rollup(world: SimpleNamespace) -> tuple:
    return tuple(Rollup.objects.filter(customer_id=world.customer.pk).order_by("hour", "destination").values_list(
        "attempts", "connected", "duration", "customer_billed", "provider_billed", "customer_charge",
        "provider_charge"))


def rerate_entries() -> list[tuple]:
    return list(LedgerEntry.objects.filter(kind="rerate").order_by("id").values_list("cdr_id", "amount",
                                                                                      "reference"))


def run(operator: Any = None, **options: Any) -> RecalcRun:
    queued = recalc_request(actor=operator, **options)
    assert run_ready_jobs() >= 1
    queued.refresh_from_db()
    assert queued.finished is not None, queued.job.last_error if queued.job else "no job"
    return queued


def test_adjust_duration_cuts_a_hung_call_and_credits_exactly_the_difference(world, operator_user) -> None:
    """domain.md §5.4: 3600 s at 0.0001/s = 0.36 -> adjusted to 60 s = 0.006 (plus the customer's 10 % tax)."""
    hung = ingest(world, "hung", 3600, reason="Ping Timeout")
    short = ingest(world, "short", 30, offset=1)
    assert (hung.customer_charge, hung.customer_tax, hung.ledger_total) == (
        Decimal("0.36"), Decimal("0.036"), Decimal("0.396"))
    assert balance(world) == Decimal("5.00") - Decimal("0.396") - Decimal("0.0033")
    assert rollup(world) == ((2, 2, 3630, 3630, 3630, Decimal("0.363"), Decimal("0.1815")),)

    done = run(operator_user, operation="adjust_duration", customer_id=world.customer.pk, date=world.t0.date(),
               release_reasons=["Ping Timeout"], min_duration=3600, new_duration=60)

    hung.refresh_from_db()
    assert (hung.duration, hung.duration_ms, hung.end, hung.customer_billed, hung.customer_charge,
            hung.customer_tax, hung.ledger_total, hung.provider_charge, hung.profit) == (
        60, 60_000, hung.answer + timedelta(seconds=60), 60, Decimal("0.006"), Decimal("0.0006"),
        Decimal("0.0066"), Decimal("0.003"), Decimal("0.003"))
    # One entry: what the ledger held (0.396) minus the new gross (0.0066), credited.
    assert rerate_entries() == [(hung.pk, Decimal("0.3894"), f"recalc #{done.pk}: hung/a")]
    assert balance(world) == Decimal("5.00") - Decimal("0.0066") - Decimal("0.0033")
    assert LedgerEntry.objects.filter(customer=world.customer).count() == 4  # opening, 2 charges, 1 re-rate
    assert rollup(world) == ((2, 2, 90, 90, 90, Decimal("0.009"), Decimal("0.0045")),)
    assert (done.cdrs_seen, done.cdrs_changed, done.ledger_difference) == (1, 1, Decimal("0.3894"))
    assert done.summary == (
        "Adjusted and re-rated 1 CDR: 1 changed, ledger difference +0.389400 in 1 entry; summaries rebuilt for 24 "
        "hours; credit refreshed for 1 customer (balance already matched the ledger).")
    short.refresh_from_db()
    assert (short.duration, short.ledger_total) == (30, Decimal("0.0033"))
    job = Job.objects.get(pk=done.job_id)
    assert (job.status, job.progress_done, job.progress_total) == ("done", 26, 26)  # 1 CDR, 24 hours, 1 customer


def test_rerating_on_another_card_posts_the_difference_and_twice_changes_nothing(world, operator_user) -> None:
    calls = [ingest(world, "c-1", 60), ingest(world, "c-2", 120, offset=1), ingest(world, "c-3", None, offset=2)]
    with change_context(source="test"):
        world.route.rate_card = world.premium
        ingress_route_save(route=world.route)
    first = run(operator_user, operation="rerate", customer_id=world.customer.pk, date=world.t0.date())
    assert [(cdr.call_id, cdr.customer_card_id, cdr.customer_charge, cdr.ledger_total)
            for cdr in Cdr.objects.order_by("id")] == [
        ("c-1", world.premium.pk, Decimal("0.012"), Decimal("0.0132")),
        ("c-2", world.premium.pk, Decimal("0.024"), Decimal("0.0264")),
        ("c-3", world.premium.pk, Decimal("0"), Decimal("0"))]
    assert rerate_entries() == [(calls[0].pk, Decimal("-0.0066"), f"recalc #{first.pk}: c-1/a"),
                                (calls[1].pk, Decimal("-0.0132"), f"recalc #{first.pk}: c-2/a")]
    assert balance(world) == Decimal("5.00") - Decimal("0.0132") - Decimal("0.0264")
    # The failed call changed its card only: counted as changed, nothing posted for it.
    assert (first.cdrs_seen, first.cdrs_changed, first.ledger_difference) == (3, 3, Decimal("-0.0198"))
    after_first = (rollup(world), list(CodeRollup.objects.order_by("id").values_list("sip_code", "calls")),
                   list(LedgerEntry.objects.values_list("id", flat=True)), balance(world),
                   list(Cdr.objects.order_by("id").values_list("rated_at", flat=True)))
    assert after_first[0] == ((3, 2, 180, 180, 180, Decimal("0.036"), Decimal("0.009")),)

    second = run(operator_user, operation="rerate", customer_id=world.customer.pk, date=world.t0.date())
    assert (second.cdrs_seen, second.cdrs_changed, second.ledger_difference) == (3, 0, Decimal(0))
    assert (rollup(world), list(CodeRollup.objects.order_by("id").values_list("sip_code", "calls")),
            list(LedgerEntry.objects.values_list("id", flat=True)), balance(world),
            list(Cdr.objects.order_by("id").values_list("rated_at", flat=True))) == after_first
    assert second.summary.startswith("Re-rated 3 CDRs: 0 changed, ledger difference +0.000000 in 0 entries;")


def test_release_reason_filter_and_selected_cdrs(world, operator_user) -> None:
    bye = ingest(world, "bye", 60)
    ping = ingest(world, "ping", 60, reason="Ping Timeout", offset=1)
    with change_context(source="test"):
        world.route.rate_card = world.premium
        ingress_route_save(route=world.route)
    run(operator_user, operation="rerate", customer_id=world.customer.pk, date=world.t0.date(),
        release_reasons=["Ping Timeout"])
    assert [entry[:2] for entry in rerate_entries()] == [(ping.pk, Decimal("-0.0066"))]
    run(operator_user, operation="rerate", cdr_ids=[bye.pk])
    assert [entry[:2] for entry in rerate_entries()] == [(ping.pk, Decimal("-0.0066")), (bye.pk, Decimal("-0.0066"))]
    assert balance(world) == Decimal("5.00") - 2 * Decimal("0.0132")


def test_provider_scope_rerates_the_providers_calls(world, operator_user) -> None:
    ingest(world, "c-1", 60)
    with change_context(source="test"):
        world.route.rate_card = world.premium
        ingress_route_save(route=world.route)
    done = run(operator_user, operation="rerate", provider_id=world.provider, date=world.t0.date())
    assert (done.cdrs_seen, done.cdrs_changed, done.ledger_difference) == (1, 1, Decimal("-0.0066"))
    assert balance(world) == Decimal("5.00") - Decimal("0.0132")


def test_refresh_summaries_rebuilds_the_days_rollups_from_the_cdrs(world, operator_user) -> None:
    ingest(world, "c-1", 60)
    ingest(world, "c-2", None, offset=1)
    good = (rollup(world), list(CodeRollup.objects.order_by("sip_code").values_list("hour", "sip_code", "calls")))
    Rollup.objects.filter(customer_id=world.customer.pk).update(attempts=99, customer_charge=Decimal("7"))
    CodeRollup.objects.filter(sip_code=486).delete()
    done = run(operator_user, operation="refresh_summaries", customer_id=world.customer.pk, date=world.t0.date())
    assert (rollup(world), list(CodeRollup.objects.order_by("sip_code").values_list("hour", "sip_code",
                                                                                     "calls"))) == good
    assert done.summary == ("Summaries rebuilt for 24 hours; credit refreshed for 1 customer (balance already "
                            "matched the ledger).")
    assert LedgerEntry.objects.filter(kind="rerate").count() == 0


def test_refresh_credit_sets_the_balance_to_the_ledger_and_says_so(world, operator_user) -> None:
    ingest(world, "c-1", 60)
    Customer.objects.filter(pk=world.customer.pk).update(balance=Decimal("1.23"))  # drifted outside the ledger
    done = run(operator_user, operation="refresh_credit", customer_id=world.customer.pk)
    assert balance(world) == Decimal("4.9934")
    assert done.summary == (f"Credit refreshed for 1 customer (customer {world.customer.pk}: 1.230000 -> "
                            f"4.993400).")


def test_a_run_resumes_after_its_worker_died_mid_run_charging_each_cdr_once(world, operator_user,
                                                                            monkeypatch) -> None:
    calls = [ingest(world, f"c-{n}", 60, offset=n) for n in range(3)]
    with change_context(source="test"):
        world.route.rate_card = world.premium
        ingress_route_save(route=world.route)
    monkeypatch.setattr(recalc, "CHUNK", 1)
    real = recalc._rerate
    chunks = []

    def dies_on_the_second_chunk(*args: Any) -> Any:
        chunks.append(args[0][0].pk)
        changed = real(*args)
        if len(chunks) == 2:
            raise RuntimeError("worker lost")  # after writing: the chunk's transaction rolls back
        return changed

    monkeypatch.setattr(recalc, "_rerate", dies_on_the_second_chunk)
    queued = recalc_request(operation="rerate", customer_id=world.customer.pk, date=world.t0.date(),
                            actor=operator_user)
    job = run_next_job()
    assert (job.status, job.last_error) == ("queued", "RuntimeError: worker lost")
    job.refresh_from_db()
    assert (job.payload["after"], job.progress_done) == (calls[0].pk, 1)
    assert [entry[0] for entry in rerate_entries()] == [calls[0].pk]
    monkeypatch.setattr(recalc, "_rerate", real)
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    assert run_ready_jobs() == 1
    queued.refresh_from_db()
    assert (queued.cdrs_seen, queued.cdrs_changed, queued.ledger_difference) == (3, 3, Decimal("-0.0198"))
    assert [entry[:2] for entry in rerate_entries()] == [(cdr.pk, Decimal("-0.0066")) for cdr in calls]
    assert balance(world) == Decimal("5.00") - 3 * Decimal("0.0132")
    assert rollup(world) == ((3, 3, 180, 180, 180, Decimal("0.036"), Decimal("0.009")),)


def test_the_request_is_audited_under_the_operator(world, operator_user) -> None:
    with change_context(source="api", user=operator_user):
        queued = recalc_request(operation="adjust_duration", customer_id=world.customer.pk, date=world.t0.date(),
                                min_duration=3600, new_duration=60, actor=operator_user)
    entry = ObjectChange.objects.get(object_type__model="recalcrun")
    assert (entry.action, entry.object_id, entry.user_id, entry.source, entry.prechange_data) == (
        "create", queued.pk, operator_user.pk, "api", None)
    assert entry.postchange_data == {
        "operation": "adjust_duration", "customer": world.customer.pk, "provider": None, "cdr_ids": [],
        "date": world.t0.date().isoformat(), "start": iso(datetime.combine(world.t0.date(), datetime.min.time(),
                                                                           tzinfo=UTC)),
        "end": iso(datetime.combine(world.t0.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)),
        "release_reasons": [], "min_duration": 3600, "new_duration": 60, "job": queued.job_id}


@pytest.mark.parametrize(("options", "errors"), [
    ({"operation": "rerate"}, {"customer": ["Name the customer, the provider or the CDRs (cdr_ids) to "
                                            "recalculate."]}),
    ({"operation": "rerate", "customer": "C", "provider": "P", "date": "2026-12-01"},
     {"provider": ["Give one scope, not several: customer and provider were given."]}),
    ({"operation": "rerate", "customer": 999999, "date": "2026-12-01"},
     {"customer": ["No customer with id 999999."]}),
    ({"operation": "rerate", "customer": "C"},
     {"date": ["Re-rate Calls for a customer needs a date (UTC), or a start and an end."]}),
    ({"operation": "refresh_credit", "provider": "P"},
     {"date": ["Refresh Credit for a provider needs a date (UTC), or a start and an end."]}),
    ({"operation": "refresh_summaries", "customer": "C", "release_reasons": ["Ping Timeout"],
      "date": "2026-12-01"}, {"release_reasons": ["Only the re-rate operations filter by release reason."]}),
    ({"operation": "refresh_credit", "customer": "C", "date": "2026-12-01"},
     {"date": ["Refresh Credit of a customer takes no date: the balance is the sum of the whole ledger."]}),
    ({"operation": "adjust_duration", "customer": "C", "date": "2026-12-01", "new_duration": 60},
     {"min_duration": ["Adjust Call Duration needs the minimum duration (seconds): calls at least this long are "
                       "adjusted."]}),
    ({"operation": "adjust_duration", "customer": "C", "date": "2026-12-01", "min_duration": 60,
      "new_duration": 60},
     {"new_duration": ["The new duration must be shorter than the minimum duration (60 s is not less than "
                       "60 s)."]}),
    ({"operation": "rerate", "customer": "C", "date": "2026-12-01", "min_duration": 60},
     {"min_duration": ["Only Adjust Call Duration takes a minimum and a new duration."]}),
    ({"operation": "rerate", "customer": "C", "start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
     {"end": ["The end must be after the start."]}),
    ({"operation": "rerate", "customer": "C", "start": "2026-12-01T00:00:00Z"},
     {"end": ["Give both a start and an end (UTC), or a date."]}),
    ({"operation": "rerate", "cdr_ids": [999999]}, {"cdr_ids": ["No CDR with id 999999."]}),
    ({"operation": "rerate", "cdr_ids": []}, {"cdr_ids": ["Select at least one CDR."]}),
    ({"operation": "rerate", "cdr_ids": [1, 2**63]},
     {"cdr_ids": {"1": ["Ensure this value is less than or equal to 9223372036854775807."]}}),
    ({"operation": "rerate", "customer": 2**70, "date": "2026-12-01"},
     {"customer": ["Ensure this value is less than or equal to 9223372036854775807."]}),
    ({"operation": "shred", "customer": "C"}, {"operation": ['"shred" is not a valid choice.']}),
])
def test_refused_inputs_are_named_and_nothing_is_queued(world, api, options, errors) -> None:
    ids = {"C": world.customer.pk, "P": world.provider}
    body = {key: ids.get(value, value) if isinstance(value, str) else value for key, value in options.items()}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"] == errors
    assert (RecalcRun.objects.count(), Job.objects.filter(kind="cdrs.recalc").count(),
            ObjectChange.objects.filter(object_type__model="recalcrun").count()) == (0, 0, 0)


def test_the_api_queues_the_run_shows_its_progress_and_its_outcome(world, api, operator_user) -> None:
    hung = ingest(world, "hung", 3600, reason="Ping Timeout")
    response = api.post(URL, {"operation": "adjust_duration", "customer": world.customer.pk,
                              "date": world.t0.date().isoformat(), "release_reasons": ["Ping Timeout"],
                              "min_duration": 3600, "new_duration": 60}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["operation"], body["customer"], body["status"], body["progress_done"], body["created_by"],
            body["finished"]) == ("adjust_duration", world.customer.pk, "queued", 0, "operator", None)
    job = api.get(f"/api/v1/jobs/{body['job']}/").json()
    assert (job["kind"], job["status"]) == ("cdrs.recalc", "queued")
    assert run_ready_jobs() == 1
    job = api.get(f"/api/v1/jobs/{body['job']}/").json()
    assert (job["status"], job["progress_done"], job["progress_total"]) == ("done", 26, 26)
    done = api.get(f"/api/v1/recalc-runs/{body['id']}/").json()
    assert (done["status"], done["cdrs_seen"], done["cdrs_changed"], done["ledger_difference"]) == (
        "done", 1, 1, "0.389400")
    listed = api.get(f"/api/v1/recalc-runs/?customer={world.customer.pk}").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    hung.refresh_from_db()
    assert hung.duration == 60


def test_viewers_may_read_runs_but_not_start_one(world, api_for, viewer_user) -> None:
    client = api_for(viewer_user)
    response = client.post(URL, {"operation": "refresh_credit", "customer": world.customer.pk}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this change.", "errors": {}}
    assert RecalcRun.objects.count() == 0
    assert client.get("/api/v1/recalc-runs/").status_code == 200


def test_panel_form_queues_a_run_and_its_page_shows_the_outcome(world, web, client, viewer_user) -> None:
    ingest(world, "hung", 3600, reason="Ping Timeout")
    url = f"/customers/{world.customer.pk}/cdrs/recalc/"
    page = web.get(url)
    assert page.status_code == 200
    assert b'data-ops="adjust_duration"' in page.content
    refused = web.post(url, {"operation": "adjust_duration", "date": world.t0.date().isoformat(),
                             "min_duration": "60", "new_duration": "600"})
    assert refused.status_code == 200
    assert "The new duration must be shorter than the minimum duration (600 s is not less than 60 s)." in \
        refused.content.decode()
    assert RecalcRun.objects.count() == 0
    response = web.post(url, {"operation": "adjust_duration", "date": world.t0.date().isoformat(),
                              "release_reasons": ["Ping Timeout"], "min_duration": "3600", "new_duration": "60"})
    queued = RecalcRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/recalc-runs/{queued.pk}/"
    assert (queued.release_reasons, queued.min_duration, queued.new_duration, queued.created_by.username) == (
        ["Ping Timeout"], 3600, 60, "operator")
    running = web.get(f"/recalc-runs/{queued.pk}/").content.decode()
    assert '<meta http-equiv="refresh" content="2">' in running and "Waiting for the worker…" in running
    run_ready_jobs()
    finished = web.get(f"/recalc-runs/{queued.pk}/").content.decode()
    assert "http-equiv" not in finished
    assert "Adjusted and re-rated 1 CDR: 1 changed, ledger difference +0.389400 in 1 entry" in finished
    tab = f"/customers/{world.customer.pk}/cdrs/"
    assert f'href="{url}" data-testid="recalc-cdr"' in web.get(tab).content.decode()
    client.force_login(viewer_user)
    assert 'data-testid="recalc-cdr"' not in client.get(tab).content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url, {"operation": "refresh_credit"}).status_code == 403
