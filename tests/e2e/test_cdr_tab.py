"""The CDR tab in a real Chromium: filter the grid on the server (date preset, number, connected only, release
reason, SIP code), sort it, open a CDR, and download the filtered set as CSV through the browser's download."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, timedelta
from decimal import Decimal

import pytest

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.cdrs.cdr_helpers import cdr, make_cdrs, rated
from tests.factories import make_customer
from trunkline.customers.models import Customer

pytestmark = pytest.mark.e2e


def grid(page: Page) -> list[list[str]]:
    return page.get_by_test_id("cdrs").evaluate("""table => Array.from(table.tBodies[0].rows)
        .filter(tr => !tr.querySelector("td.empty"))
        .map(tr => Array.from(tr.cells).map(cell => cell.innerText.trim()))""")


@pytest.fixture
def acme(db) -> Customer:
    """Five calls of Acme early today (UTC), so "Today" holds them whenever the test runs: two answered to London,
    a busy one, a 503, an hour-long one ended by the lifetime timeout; and one call of another customer."""
    customer = make_customer(name="Acme Telecom")
    day = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    make_cdrs(
        cdr(customer, day + timedelta(minutes=10), duration=65, call_id="london-1", cli="15551230001", **rated()),
        cdr(customer, day + timedelta(minutes=20), duration=125, call_id="london-2", cli="15551230002",
            **rated(customer_billed=126, customer_charge=Decimal("0.147000"))),
        cdr(customer, day + timedelta(minutes=30), call_id="busy", cli="15551230003"),
        cdr(customer, day + timedelta(minutes=40), call_id="limit", cli="=1+2", dst="33123456789", sip_code=503,
            sip_reason="Channel Limit Reached"),
        cdr(customer, day + timedelta(minutes=5), duration=3600, call_id="long", dst="4930123",
            release_reason="Lifetime Timeout"),
    )
    make_cdrs(cdr(make_customer(name="Bolt"), day + timedelta(minutes=50), duration=5, call_id="bolt"))
    return customer


def test_filter_sort_open_and_download(operator_page: Page, acme: Customer, live_server, tmp_path) -> None:
    page = operator_page
    page.goto(f"/customers/{acme.pk}/cdrs/")
    expect(page.get_by_role("heading", name="CDR", exact=True)).to_be_visible()
    # Last 7 days by default: all five of Acme's, newest first, in the default columns.
    expect(page.get_by_test_id("cdr-count")).to_have_text("5")
    assert [row[1] for row in grid(page)] == ["limit", "busy", "london-2", "london-1", "long"]

    # Connected calls to a number starting 4420, released by the caller's BYE.
    page.get_by_label("Date (UTC)").select_option("today")
    page.get_by_label("Number", exact=True).fill("4420")
    page.get_by_label("Connected only").check()
    page.get_by_test_id("release-reasons").locator("summary").click()
    page.get_by_label("Downstream BYE").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("cdr-count")).to_have_text("2")
    rows = grid(page)
    assert [(row[1], row[2], row[3], row[4], row[5], row[6], row[7]) for row in rows] == [
        ("london-2", "15551230002", "442071234567", "UK London", "2:05", "2:06", "0.147 USD"),
        ("london-1", "15551230001", "442071234567", "UK London", "1:05", "1:06", "0.077 USD"),
    ]
    expect(page.locator(".chips")).to_contain_text("Number (source or destination, starts with): 4420")

    # Sorted by duration on the server, ascending then descending.
    with page.expect_navigation():
        page.get_by_role("link", name="Duration", exact=True).click()
    assert [row[1] for row in grid(page)] == ["london-1", "london-2"]
    with page.expect_navigation():
        page.get_by_role("link", name="Duration ▲", exact=True).click()
    assert [row[1] for row in grid(page)] == ["london-2", "london-1"]

    # The download has the filtered rows, in the grid's order and columns, times in ISO UTC.
    with page.expect_download() as info:
        page.get_by_test_id("cdr-csv").click()
    download = info.value
    assert download.suggested_filename == "acme-telecom-cdrs-today.csv"
    path = tmp_path / "cdrs.csv"
    download.save_as(path)
    lines = list(csv.reader(io.StringIO(path.read_text())))
    assert lines[0] == ["start", "call_id", "cli", "dst", "customer_dest_name", "duration", "customer_billed",
                        "customer_charge", "release_reason", "sip_code", "provider_name"]
    assert [line[1:] for line in lines[1:]] == [
        ["london-2", "15551230002", "442071234567", "UK London", "125", "126", "0.147000", "Downstream BYE",
         "200", ""],
        ["london-1", "15551230001", "442071234567", "UK London", "65", "66", "0.077000", "Downstream BYE",
         "200", ""],
    ]
    assert all(line[0].endswith("Z") and "T" in line[0] for line in lines[1:])

    # A SIP code filter on any day; the download quotes the formula-looking CLI.
    page.goto(f"/customers/{acme.pk}/cdrs/?period=any")
    page.get_by_role("textbox", name="SIP code").fill("486, 503")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    assert [row[1] for row in grid(page)] == ["limit", "busy"]
    with page.expect_download() as info:
        page.get_by_test_id("cdr-csv").click()
    info.value.save_as(tmp_path / "codes.csv")
    lines = list(csv.reader(io.StringIO((tmp_path / "codes.csv").read_text())))
    assert [(line[1], line[2], line[9]) for line in lines[1:]] == [("limit", "'=1+2", "503"),
                                                                    ("busy", "15551230003", "486")]

    # A row opens its CDR; the way back keeps the filters.
    page.get_by_role("row").filter(has_text="limit").get_by_role("link").first.click()
    expect(page.get_by_test_id("cdr-call")).to_contain_text("Channel Limit Reached")
    page.get_by_role("link", name="‹ CDRs").click()
    expect(page.get_by_role("textbox", name="SIP code")).to_have_value("486, 503")
    assert [row[1] for row in grid(page)] == ["limit", "busy"]


def test_custom_range_and_columns(operator_page: Page, acme: Customer) -> None:
    page = operator_page
    page.goto(f"/customers/{acme.pk}/cdrs/")
    expect(page.get_by_label("From (UTC)")).to_be_hidden()
    page.get_by_label("Date (UTC)").select_option("custom")
    expect(page.get_by_label("From (UTC)")).to_be_visible()
    day = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (day + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%S")
    page.get_by_label("From (UTC)").fill(start)
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    assert [row[1] for row in grid(page)] == ["limit", "busy", "london-2"]

    # Columns: show the profit, hide the call ID; saved for this operator.
    page.get_by_role("button", name="Columns").click()
    popout = page.locator("#columns-popout")
    popout.get_by_role("checkbox", name="Call ID", exact=True).uncheck()
    popout.get_by_role("checkbox", name="Profit", exact=True).check()
    with page.expect_navigation():
        popout.get_by_role("button", name="Save columns").click()
    headers = page.get_by_test_id("cdrs").locator("thead th").all_inner_texts()
    assert "Call ID" not in headers and headers[-1] == "Profit"
    assert grid(page)[2][-1] == "0.022 USD"


def test_viewer_sees_the_grid_without_recalc(viewer_page: Page, acme: Customer) -> None:
    viewer_page.goto(f"/customers/{acme.pk}/cdrs/?period=any")
    expect(viewer_page.get_by_test_id("cdr-count")).to_have_text("5")
    expect(viewer_page.get_by_test_id("cdr-csv")).to_be_visible()
    expect(viewer_page.get_by_test_id("recalc-cdr")).to_have_count(0)
