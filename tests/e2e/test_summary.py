"""The Main tab's Summary in a real Chromium: select cells (click, Shift-click a block, Ctrl-click one more) and
read their sum and average underneath; switch to Daily; download the CSV."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from django.db import transaction
from playwright.sync_api import Page, expect

from tests.cdrs.test_rollups import cdr
from tests.factories import make_customer
from trunkline.cdrs import stats
from trunkline.cdrs.services.rollups import rollups_apply
from trunkline.customers.models import Customer

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 12, 2, 12, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch) -> None:
    monkeypatch.setattr(stats, "timezone", SimpleNamespace(now=lambda: NOW))


@pytest.fixture
def acme(db) -> Customer:
    customer = make_customer(name="Acme Telecom", currency="EUR")
    at = NOW.replace(minute=0)
    with transaction.atomic():
        rollups_apply([
            # 12:00: 2 attempts, 1 connected (ASR 50.00); 11:00: none; 10:00: 1 connected (ASR 100.00).
            cdr(at + timedelta(minutes=5), customer=customer.pk, seconds=90, charge="0.030000", cost="0.020000"),
            cdr(at + timedelta(minutes=6), customer=customer.pk, seconds=None, code=486),
            cdr(at - timedelta(hours=2), customer=customer.pk, seconds=30, charge="0.010001", cost="0.015000"),
        ])
    return customer


def cell(page: Page, row: int, column: str):
    """The cell of a body row (0 = newest) and column key."""
    return page.get_by_test_id("summary").locator("tbody tr").nth(row).locator(f'td[data-column="{column}"]')


def test_select_cells_and_read_their_sum_and_average(operator_page: Page, acme: Customer, tmp_path: Path) -> None:
    page = operator_page
    page.goto(f"/customers/{acme.pk}/")
    summary = page.get_by_test_id("summary")
    expect(summary.locator("tbody tr")).to_have_count(24)
    expect(summary.locator("tbody tr").first.locator("th")).to_have_text("2026-12-02 12:00")
    selection = page.get_by_test_id("summary-selection")
    expect(selection).to_have_text("Nothing selected.")

    cell(page, 0, "attempts").click()
    expect(page.get_by_test_id("summary-sum")).to_have_text("2")
    expect(page.get_by_test_id("summary-average")).to_have_text("2.00")
    expect(selection).to_contain_text("1 cell selected")

    # Shift-click: the block from 12:00 down to 10:00 (2, 0 and 1 attempts).
    cell(page, 2, "attempts").click(modifiers=["Shift"])
    expect(selection).to_contain_text("3 cells selected")
    expect(page.get_by_test_id("summary-sum")).to_have_text("3")
    expect(page.get_by_test_id("summary-average")).to_have_text("1.00")
    expect(summary.locator("td.selected")).to_have_count(3)

    # Ctrl-click adds one cell of another column: ASR 50.00 at 12:00; the average is then of unlike cells, and the
    # text says that ratios are averaged as they are (an average of averages).
    cell(page, 0, "asr").click(modifiers=["Control"])
    expect(page.get_by_test_id("summary-sum")).to_have_text("53.00")
    expect(page.get_by_test_id("summary-average")).to_have_text("13.25")
    expect(selection).to_contain_text("average of averages")

    # A new plain click starts again: the two ASR cells 12:00 (50.00) and 10:00 (100.00).
    cell(page, 0, "asr").click()
    cell(page, 2, "asr").click(modifiers=["Control"])
    expect(page.get_by_test_id("summary-sum")).to_have_text("150.00")
    expect(page.get_by_test_id("summary-average")).to_have_text("75.00")
    expect(selection).to_contain_text("for ASR, ACD and Profit % an average of averages, not the ratio of the totals")

    # Money adds exactly to the millionth: 0.030000 + 0.010001.
    cell(page, 0, "customer_charge").click()
    cell(page, 2, "customer_charge").click(modifiers=["Shift"])
    expect(page.get_by_test_id("summary-sum")).to_have_text("0.040001")
    expect(page.get_by_test_id("summary-average")).to_have_text("0.013334")
    # Ctrl-click on a selected cell takes it out; an empty cell (no ASR without attempts) cannot be selected.
    cell(page, 0, "customer_charge").click(modifiers=["Control"])
    expect(page.get_by_test_id("summary-sum")).to_have_text("0.010001")
    expect(cell(page, 1, "asr")).to_have_text("—")
    expect(cell(page, 1, "asr")).not_to_have_class("selected")
    page.screenshot(path=str(tmp_path / "summary.png"), full_page=True)

    # Daily, then its CSV.
    page.get_by_role("link", name="Daily").click()
    expect(summary).to_have_attribute("data-period", "daily")
    expect(summary.locator("tbody tr")).to_have_count(31)
    expect(summary.locator("tbody tr").first.locator("th")).to_have_text("2026-12-02")
    with page.expect_download() as download:
        page.get_by_test_id("summary-csv").click()
    assert download.value.suggested_filename == "acme-telecom-summary-daily.csv"
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[1] == ["2026-12-02", "3", "2", "66.67", "60.00", "2.00", "2.00", "0.040001", "0.005001", "12.50",
                       "EUR"]
