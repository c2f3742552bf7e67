"""The Main tab's Summary panel and its CSV export, and the board's 24 h ASR/ACD and last call columns, drawn from
rollups written by rollups_apply."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.factories import make_customer
from trunkline.cdrs import stats
from trunkline.cdrs.services.rollups import rollups_apply
from trunkline.customers.models import Customer

from .test_rollups import cdr

NOW = datetime(2026, 12, 2, 12, 30, tzinfo=UTC)


@pytest.fixture
def acme(db) -> Customer:
    customer = make_customer(name="=Acme Telecom", currency="EUR")
    with transaction.atomic():
        rollups_apply([
            cdr(NOW - timedelta(minutes=20), customer=customer.pk, seconds=90, charge="0.030000", cost="0.020000"),
            cdr(NOW - timedelta(minutes=10), customer=customer.pk, seconds=None, code=486),
            cdr(NOW - timedelta(hours=2), customer=customer.pk, seconds=30, charge="0.010000", cost="0.015000"),
            cdr(NOW - timedelta(days=1, hours=1), customer=customer.pk, seconds=60, charge="0.020000",
                cost="0.010000"),
        ])
    return customer


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch) -> None:
    """The Summary's and the board's "now" (the pages ask stats for the current hour, day and month)."""
    monkeypatch.setattr(stats, "timezone", SimpleNamespace(now=lambda: NOW))


def test_the_main_tab_shows_the_24h_summary(web, acme) -> None:
    response = web.get(f"/customers/{acme.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="summary" data-period="24h"' in page
    assert ('<th scope="row" class="mono">2026-12-02 12:00</th><td class="num cell" data-column="attempts" '
            'data-value="2" tabindex="-1">2</td>') in page
    assert 'data-column="asr" data-value="50.00"' in page
    assert 'data-column="profit" data-value="0.010000"' in page
    assert page.count('<th scope="row" class="mono">') == 24


def test_daily_and_monthly_views(web, acme) -> None:
    daily = web.get(f"/customers/{acme.pk}/?summary=daily").content.decode()
    assert page_rows(daily) == 31
    assert ('<th scope="row" class="mono">2026-12-01</th><td class="num cell" data-column="attempts" '
            'data-value="1"') in daily
    monthly = web.get(f"/customers/{acme.pk}/?summary=monthly").content.decode()
    assert page_rows(monthly) == 12
    assert ('<th scope="row" class="mono">2026-12</th><td class="num cell" data-column="attempts" '
            'data-value="4"') in monthly
    # An unknown period shows the default one.
    assert 'data-period="24h"' in web.get(f"/customers/{acme.pk}/?summary=weekly").content.decode()


def page_rows(page: str) -> int:
    return page.count('<th scope="row" class="mono">')


def test_csv_export_of_the_period(web, acme) -> None:
    response = web.get(f"/customers/{acme.pk}/summary.csv?summary=daily")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="acme-telecom-summary-daily.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["date_utc", "attempts", "connected", "asr_percent", "acd_seconds", "minutes",
                       "billed_minutes", "customer_charge", "profit", "profit_percent", "currency"]
    assert len(rows) == 32
    assert rows[1] == ["2026-12-02", "3", "2", "66.67", "60.00", "2.00", "2.00", "0.040000", "0.005000", "12.50",
                       "EUR"]
    assert rows[2] == ["2026-12-01", "1", "1", "100.00", "60.00", "1.00", "1.00", "0.020000", "0.010000",
                       "50.00", "EUR"]
    assert rows[3] == ["2026-11-30", "0", "0", "", "", "0.00", "0.00", "0.000000", "0.000000", "", "EUR"]


def test_viewers_see_the_summary_and_the_board_columns(client, viewer_user, acme) -> None:
    client.force_login(viewer_user)
    assert 'data-testid="summary"' in client.get(f"/customers/{acme.pk}/").content.decode()
    assert client.get(f"/customers/{acme.pk}/summary.csv").status_code == 200
    assert client.get("/customers/999999/summary.csv").status_code == 404


def test_the_board_shows_24h_asr_acd_and_last_call_in_one_query_for_the_page(web, acme) -> None:
    quiet = make_customer(name="Quiet Telecom")
    page = web.get("/customers/").content.decode()
    assert "66.67 %" in page
    assert "60.00 s" in page
    assert "2026-12-02 12:20:00 UTC" in page
    assert quiet.name in page
    # The figures of 2 or 12 customers come from one query.
    for n in range(10):
        make_customer(name=f"More {n}")
    web.get("/customers/")
    with CaptureQueriesContext(connection) as queries:
        web.get("/customers/")
    assert sum("cdrs_rollup" in query["sql"] for query in queries.captured_queries) == 1
