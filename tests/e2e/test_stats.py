"""Stats in a real Chromium: the card's Stats tab and a provider's Stats tab draw their charts with plotly (served
from the installed package) from known rollups, checked by the numbers the drawn plots hold and the texts of the
rendered SVG; the period form changes the grain; an empty period says so instead of drawing empty axes."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any

import pytest

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import Page, expect

from tests.cdrs.stats_world import StatsWorld, stats_world

pytestmark = pytest.mark.e2e
TWO_DAYS = "preset=custom&from=2026-12-01&to=2026-12-02&grain=hour"
X = ["2026-12-01 10:00", "2026-12-01 12:00", "2026-12-02 09:00"]
# plotly.min.js is 4.8 MB of JavaScript: each test's fresh browser context downloads and compiles it again, which
# takes seconds on a loaded 2-core machine. The page is usable meanwhile (the library loads async); the charts'
# wait allows for that, every other step keeps the 10 s default.
DRAW_TIMEOUT_MS = 30_000


@pytest.fixture
def world(transactional_db) -> StatsWorld:
    return stats_world()


def navigation(page: Page) -> AbstractContextManager:
    return page.expect_navigation(wait_until="domcontentloaded")


def open_page(page: Page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")


def drawn(page: Page) -> dict[str, list[dict[str, Any]]]:
    """Every chart's series as plotly holds them on its graph div, once all are drawn: {chart: [series]}."""
    page.wait_for_function("""() => {
        const plots = document.querySelectorAll("[data-chart]");
        return plots.length > 0 && Array.from(plots).every(node => node.dataset.drawn === "true");
    }""", timeout=DRAW_TIMEOUT_MS)
    return page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll("[data-chart]")).map(
        node => [node.id.replace("plot-", ""), node.data.map(trace => trace.type === "pie"
            ? {name: trace.name, labels: trace.labels, values: trace.values}
            : {name: trace.name, type: trace.type, x: trace.x, y: trace.y})]))""")


def svg_texts(page: Page, chart: str, selector: str) -> list[str]:
    """The texts of the drawn SVG's elements, a multi-line text's lines joined by a space."""
    return page.locator(f"#plot-{chart} {selector}").evaluate_all("""nodes => nodes.map(node => {
        const lines = Array.from(node.querySelectorAll("tspan.line")).map(line => line.textContent);
        return lines.length ? lines.join(" ") : node.textContent;
    })""")


def test_stats_tab_draws_the_customers_numbers(operator_page: Page, world: StatsWorld) -> None:
    page = operator_page
    open_page(page, f"/customers/{world.customer.pk}/stats/?{TWO_DAYS}")
    charts = drawn(page)
    assert charts["attempts"] == [{"name": "Attempts", "type": "bar", "x": X, "y": [23, 5, 4]},
                                  {"name": "Connected", "type": "bar", "x": X, "y": [8, 5, 1]}]
    assert charts["channels"] == [{"name": "Channels", "type": "bar", "x": X, "y": [7, 4, 1]}]
    assert charts["cps"] == [{"name": "CPS", "type": "bar", "x": X, "y": [3, 2, 1]}]
    # Lines break where an hour had no calls: a null point in the first missing hour.
    gapped = ["2026-12-01 10:00", "2026-12-01 11:00", "2026-12-01 12:00", "2026-12-01 13:00", "2026-12-02 09:00"]
    assert charts["asr"] == [
        {"name": "Total", "type": "scatter", "x": gapped, "y": ["34.78", None, "100.00", None, "25.00"]},
        {"name": "Alpha Telecom", "type": "scatter", "x": gapped[:3], "y": ["60.00", None, "100.00"]},
        {"name": "Beta Voice", "type": "scatter", "x": [*gapped[:2], X[2]], "y": ["20.00", None, "25.00"]},
        {"name": "No provider", "type": "scatter", "x": X[:1], "y": ["0.00"]}]
    assert charts["acd"][0] == {"name": "Total", "type": "scatter", "x": gapped,
                                "y": ["87.50", None, "60.00", None, "45.00"]}
    assert charts["pdd"] == [{"name": "PDD", "type": "scatter", "x": gapped, "y": ["2", None, "1.1", None, "1.5"]}]
    assert charts["codes"] == [{"name": "200", "type": "bar", "x": X, "y": [8, 5, 1]},
                               {"name": "480", "type": "bar", "x": X[2:], "y": [3]},
                               {"name": "486", "type": "bar", "x": X[:1], "y": [4]},
                               {"name": "503", "type": "bar", "x": X[:1], "y": [11]}]
    assert charts["codes_total"] == [{"name": "Codes", "labels": ["200", "480", "486", "503"],
                                      "values": [14, 3, 4, 11]}]
    assert charts["breaches"] == [{"name": "Channel breaches", "type": "bar", "x": X, "y": [2, 0, 0]},
                                  {"name": "CPS breaches", "type": "bar", "x": X, "y": [1, 0, 0]}]
    assert charts["money"] == [
        {"name": "Customer charge", "type": "bar", "x": X, "y": ["1.800000", "0.250000", "0.030000"]},
        {"name": "Profit", "type": "bar", "x": X, "y": ["0.600000", "0.150000", "0.010000"]}]
    # What the SVG shows: the codes' shares of the 32 calls, the carriers named in the ASR legend, the stacked bars.
    assert svg_texts(page, "codes_total", "text.slicetext") == ["200 43.8%", "480 9.38%", "486 12.5%", "503 34.4%"]
    assert svg_texts(page, "asr", "text.legendtext") == ["Total", "Alpha Telecom", "Beta Voice", "No provider"]
    assert page.locator("#plot-codes .bars .point").count() == 6
    assert page.locator("#plot-attempts .bars .point").count() == 6
    assert page.get_by_test_id("stats-range").inner_text() == "2026-12-01 00:00 – 2026-12-03 00:00 UTC"
    expect(page.get_by_test_id("stats-empty")).to_have_count(0)
    rows = page.get_by_test_id("carrier-table").locator("tbody tr").evaluate_all(
        "rows => rows.map(row => Array.from(row.cells).map(cell => cell.innerText.trim()))")
    assert rows == [["Alpha Telecom", "15", "11", "73.33", "81.82"], ["Beta Voice", "14", "3", "21.43", "48.33"],
                    ["No provider", "3", "0", "0.00", "–"]]


def test_the_period_form_changes_the_grain(operator_page: Page, world: StatsWorld) -> None:
    page = operator_page
    open_page(page, f"/customers/{world.customer.pk}/stats/?{TWO_DAYS}")
    drawn(page)
    page.locator("select[name=grain]").select_option("day")
    with navigation(page):
        page.get_by_role("button", name="Show").click()
    charts = drawn(page)
    assert charts["attempts"][0] == {"name": "Attempts", "type": "bar", "x": ["2026-12-01", "2026-12-02"],
                                     "y": [28, 4]}
    assert charts["asr"][0] == {"name": "Total", "type": "scatter", "x": ["2026-12-01", "2026-12-02"],
                                "y": ["46.43", "25.00"]}


def test_custom_dates_show_only_for_custom(operator_page: Page, world: StatsWorld) -> None:
    page = operator_page
    open_page(page, f"/customers/{world.customer.pk}/stats/")
    expect(page.locator("input[name=from]")).to_be_hidden()
    page.locator("select[name=preset]").select_option("custom")
    expect(page.locator("input[name=from]")).to_be_visible()
    page.locator("input[name=from]").fill("2026-12-02")
    page.locator("input[name=to]").fill("2026-12-02")
    page.locator("select[name=grain]").select_option("hour")
    with navigation(page):
        page.get_by_role("button", name="Show").click()
    assert drawn(page)["attempts"][0] == {"name": "Attempts", "type": "bar", "x": [X[2]], "y": [4]}


def test_an_empty_period_says_so(operator_page: Page, world: StatsWorld) -> None:
    page = operator_page
    open_page(page, f"/customers/{world.customer.pk}/stats/?preset=custom&from=2026-11-01&to=2026-11-02&grain=day")
    expect(page.get_by_test_id("stats-empty")).to_have_text("No calls in this period (2026-11-01 – 2026-11-02 UTC).")
    expect(page.locator(".stats-chart")).to_have_count(0)
    assert page.evaluate("() => typeof window.Plotly") == "undefined"  # the library is not even loaded


def test_provider_page_draws_the_providers_numbers(operator_page: Page, world: StatsWorld) -> None:
    page = operator_page
    open_page(page, f"/routing/providers/{world.alpha.pk}/edit/")
    with navigation(page):
        page.locator(".page-tabs").get_by_role("link", name="Stats").click()
    page.locator("select[name=preset]").select_option("custom")
    page.locator("input[name=from]").fill("2026-12-01")
    page.locator("input[name=to]").fill("2026-12-02")
    page.locator("select[name=grain]").select_option("hour")
    with navigation(page):
        page.get_by_role("button", name="Show").click()
    charts = drawn(page)
    assert charts["attempts"] == [{"name": "Attempts", "type": "bar", "x": X[:2], "y": [17, 5]},
                                  {"name": "Connected", "type": "bar", "x": X[:2], "y": [6, 5]}]
    assert charts["asr"] == [{"name": "Total", "type": "scatter", "x": ["2026-12-01 10:00", "2026-12-01 11:00",
                                                                      "2026-12-01 12:00"],
                              "y": ["35.29", None, "100.00"]}]
    assert charts["channels"] == [{"name": "Channels", "type": "bar", "x": X[:2], "y": [5, 4]}]
    assert charts["money"] == [{"name": "Provider cost", "type": "bar", "x": X[:2], "y": ["1.000000", "0.100000"]},
                               {"name": "Profit", "type": "bar", "x": X[:2], "y": ["0.500000", "0.150000"]}]
    assert svg_texts(page, "codes_total", "text.slicetext") == ["200 50%", "408 31.8%", "486 18.2%"]
    table = page.get_by_test_id("carrier-table")
    assert table.locator("tbody tr").evaluate_all(
        "rows => rows.map(row => Array.from(row.cells).map(cell => cell.innerText.trim()))") == [
        ["Alpha Telecom", "22", "11", "50.00", "81.82"], ["Beta Voice", "14", "3", "21.43", "48.33"],
        ["No provider", "3", "0", "0.00", "–"]]
    expect(table.locator("tr.current")).to_have_attribute("data-provider", str(world.alpha.pk))
    with navigation(page):
        table.get_by_role("link", name="Beta Voice").click()
    assert drawn(page)["attempts"][0] == {"name": "Attempts", "type": "bar", "x": [X[0], X[2]], "y": [10, 4]}
