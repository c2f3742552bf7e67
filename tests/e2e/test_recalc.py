"""Recalc CDR in a real Chromium: from the CDR tab's button, the form shows each operation's own inputs, Start queues
the run, and its page shows the progress bar refreshing by itself until the worker is done, then the outcome."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import Page, expect

from tests.cdrs.recalc_helpers import ingest, make_world
from trunkline.cdrs.models import Cdr, RecalcRun
from trunkline.core.jobs import run_ready_jobs
from trunkline.customers.models import Customer

pytestmark = pytest.mark.e2e


def visible_inputs(page: Page) -> list[str]:
    return page.locator("#recalc-form [data-ops]:not([hidden]) input").evaluate_all(
        "inputs => Array.from(new Set(inputs.map(input => input.name)))")


def test_recalc_form_queues_an_adjustment_and_its_page_follows_it_to_done(operator_page: Page,
                                                                         live_server) -> None:
    page = operator_page
    world = make_world()
    hung = ingest(world, "hung", 3600, reason="Ping Timeout")
    page.goto(f"/customers/{world.customer.pk}/cdrs/")
    page.get_by_test_id("recalc-cdr").click()
    expect(page.get_by_role("heading", name="Recalc CDR")).to_be_visible()

    assert visible_inputs(page) == []  # Refresh Credit: no inputs
    page.get_by_label("Refresh Summaries & Credit", exact=True).check()
    assert visible_inputs(page) == ["date"]
    page.get_by_label("Re-rate Calls, and Refresh Summaries & Credit", exact=True).check()
    assert visible_inputs(page) == ["date", "release_reasons"]
    page.get_by_label("Adjust Call Duration, Re-rate Calls, and Refresh Summaries & Credit").check()
    assert visible_inputs(page) == ["date", "release_reasons", "min_duration", "new_duration"]
    page.screenshot(path="/tmp/recalc-form-adjust.png", full_page=True)

    page.get_by_label("Date (UTC)").fill(world.t0.date().isoformat())
    page.get_by_role("checkbox", name="Ping Timeout", exact=True).check()
    page.get_by_label("Minimum duration (s)").fill("3600")
    page.get_by_label("New duration (s)").fill("60")
    page.get_by_test_id("recalc-submit").click()

    run = RecalcRun.objects.get()
    expect(page).to_have_url(f"{live_server.url}/recalc-runs/{run.pk}/")
    expect(page.get_by_test_id("recalc-heading")).to_have_text("Waiting for the worker…")
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "0"
    page.screenshot(path="/tmp/recalc-run-waiting.png", full_page=True)

    run_ready_jobs()  # the worker's turn; the page reloads itself every 2 seconds
    run.refresh_from_db()
    assert run.finished is not None
    expect(page.get_by_test_id("recalc-heading")).to_have_text("Finished", timeout=8_000)
    bar = page.get_by_role("progressbar")
    assert (bar.get_attribute("aria-valuenow"), bar.get_attribute("aria-valuemax")) == ("26", "26")
    expect(page.get_by_test_id("recalc-summary")).to_have_text(
        "Adjusted and re-rated 1 CDR: 1 changed, ledger difference +0.389400 in 1 entry; summaries rebuilt for 24 "
        "hours; credit refreshed for 1 customer (balance already matched the ledger).")
    expect(page.get_by_test_id("recalc-difference")).to_have_text("+0.389400")
    page.screenshot(path="/tmp/recalc-run-done.png", full_page=True)
    hung.refresh_from_db()
    assert (hung.duration, hung.ledger_total) == (60, Decimal("0.0066"))
    assert Customer.objects.get(pk=world.customer.pk).balance == Decimal("4.9934")
    assert Cdr.objects.count() == 1

    page.goto(f"/customers/{world.customer.pk}/cdrs/recalc/")
    page.screenshot(path="/tmp/recalc-form.png", full_page=True)
    expect(page.get_by_test_id("recalc-runs")).to_contain_text(f"#{run.pk}")
