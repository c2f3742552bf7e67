"""The Stats tab, a provider's Stats tab, the carriers' table and the served chart library, through Django's client:
the charts' JSON from known rollups, exact."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from importlib import metadata, resources
from typing import Any

import pytest
from django.urls import reverse

from tests.cdrs.stats_world import StatsWorld, stats_world
from trunkline.cdrs import stats_charts

pytestmark = pytest.mark.django_db
TWO_DAYS = {"preset": "custom", "from": "2026-12-01", "to": "2026-12-02", "grain": "hour"}


@pytest.fixture
def world(db) -> StatsWorld:
    return stats_world()


def _charts(response: Any) -> dict[str, dict[str, Any]]:
    return {chart["key"]: chart for chart in response.context["charts"]}


def test_stats_tab_charts(web, world: StatsWorld) -> None:
    response = web.get(reverse("cdrs:stats_tab", args=[world.customer.pk]), TWO_DAYS)
    assert response.status_code == 200
    charts = _charts(response)
    assert list(charts) == ["channels", "cps", "attempts", "asr", "acd", "pdd", "breaches", "codes", "codes_total",
                            "money"]
    x = ["2026-12-01 10:00", "2026-12-01 12:00", "2026-12-02 09:00"]
    assert charts["channels"]["traces"] == [{"name": "Channels", "x": x, "y": [7, 4, 1]}]
    assert charts["cps"]["traces"] == [{"name": "CPS", "x": x, "y": [3, 2, 1]}]
    assert charts["attempts"]["traces"] == [{"name": "Attempts", "x": x, "y": [23, 5, 4]},
                                            {"name": "Connected", "x": x, "y": [8, 5, 1]}]
    assert charts["asr"]["traces"] == [
        {"name": "Total", "x": x, "y": ["34.78", "100.00", "25.00"], "bold": True},
        {"name": "Alpha Telecom", "x": x[:2], "y": ["60.00", "100.00"], "dash": True},
        {"name": "Beta Voice", "x": [x[0], x[2]], "y": ["20.00", "25.00"], "dash": True},
        {"name": "No provider", "x": x[:1], "y": ["0.00"], "dash": True}]
    assert charts["acd"]["traces"] == [
        {"name": "Total", "x": x, "y": ["87.50", "60.00", "45.00"], "bold": True},
        {"name": "Alpha Telecom", "x": x[:2], "y": ["100.00", "60.00"], "dash": True},
        {"name": "Beta Voice", "x": [x[0], x[2]], "y": ["50.00", "45.00"], "dash": True},
        {"name": "No provider", "x": x[:1], "y": [None], "dash": True}]
    assert charts["pdd"]["traces"] == [{"name": "PDD", "x": x, "y": ["2", "1.1", "1.5"]}]
    assert charts["codes"]["traces"] == [{"name": "200", "x": x, "y": [8, 5, 1]},
                                         {"name": "480", "x": x[2:], "y": [3]},
                                         {"name": "486", "x": x[:1], "y": [4]},
                                         {"name": "503", "x": x[:1], "y": [11]}]
    assert charts["codes"]["stacked"] is True
    assert charts["codes_total"]["traces"] == [{"name": "Codes", "labels": ["200", "480", "486", "503"],
                                                "values": [14, 3, 4, 11]}]
    assert charts["breaches"]["traces"] == [{"name": "Channel breaches", "x": x, "y": [2, 0, 0]},
                                            {"name": "CPS breaches", "x": x, "y": [1, 0, 0]}]
    assert charts["money"]["traces"] == [
        {"name": "Customer charge", "x": x, "y": ["1.800000", "0.250000", "0.030000"]},
        {"name": "Profit", "x": x, "y": ["0.600000", "0.150000", "0.010000"]}]
    assert (charts["money"]["title"], charts["money"]["unit"]) == ("Customer charge and profit", "USD")
    assert not any(chart["empty"] for chart in charts.values())
    # Each chart's data is on the page as JSON for plotly, the period too.
    html = response.content.decode()
    assert '<script id="chart-asr-data" type="application/json">' in html
    assert '<script id="stats-period" type="application/json">{"start": "2026-12-01 00:00", ' \
           '"end": "2026-12-03 00:00", "grain": "hour"}</script>' in html
    assert f'src="/assets/plotly-{metadata.version("plotly")}.min.js"' in html
    assert "stats-empty" not in html and "stats-chart-empty" not in html


def test_stats_tab_carrier_table(web, world: StatsWorld) -> None:
    response = web.get(reverse("cdrs:stats_tab", args=[world.customer.pk]), TWO_DAYS)
    assert [(row["name"], row["attempts"], row["connected"], str(row["asr"]), str(row["acd"]))
            for row in response.context["carriers"]] == [
        ("Alpha Telecom", 15, 11, "73.33", "81.82"), ("Beta Voice", 14, 3, "21.43", "48.33"),
        ("No provider", 3, 0, "0.00", "None")]


def test_stats_tab_by_day(web, world: StatsWorld) -> None:
    charts = _charts(web.get(reverse("cdrs:stats_tab", args=[world.customer.pk]), {**TWO_DAYS, "grain": "day"}))
    assert charts["attempts"]["traces"][0] == {"name": "Attempts", "x": ["2026-12-01", "2026-12-02"], "y": [28, 4]}
    assert charts["asr"]["traces"][0]["y"] == ["46.43", "25.00"]


def test_stats_tab_empty_period(web, world: StatsWorld) -> None:
    response = web.get(reverse("cdrs:stats_tab", args=[world.customer.pk]),
                       {"preset": "custom", "from": "2026-11-01", "to": "2026-11-05", "grain": "day"})
    html = response.content.decode()
    assert "No calls in this period (2026-11-01 – 2026-11-05 UTC)." in html
    assert "stats-chart" not in html and "plotly" not in html
    assert response.context["carriers"] == []


def test_stats_tab_bad_range_is_named(web, world: StatsWorld) -> None:
    response = web.get(reverse("cdrs:stats_tab", args=[world.customer.pk]),
                       {"preset": "custom", "from": "2026-10-01", "to": "2026-12-02", "grain": "hour"})
    assert response.status_code == 200
    assert response.context["errors"] == {"to": "At most 31 days at hour grain; this range is 63 days. Choose a "
                                                "coarser grain or a shorter range."}
    assert response.context["period"].preset == "24h"


def test_stats_tab_bad_fields(web, world: StatsWorld) -> None:
    response = web.get(reverse("cdrs:stats_tab", args=[world.customer.pk]),
                       {"preset": "custom", "from": "1 Dec", "to": "2026-12-02", "grain": "week"})
    assert response.context["errors"] == {"grain": "Choose hour, day or month.", "from": "Give a date as YYYY-MM-DD."}


def test_viewer_sees_the_stats_tab(client, viewer_user, world: StatsWorld) -> None:
    client.force_login(viewer_user)
    response = client.get(reverse("customers:customer", args=[world.customer.pk]))
    assert reverse("cdrs:stats_tab", args=[world.customer.pk]) in response.content.decode()
    assert client.get(reverse("cdrs:stats_tab", args=[world.customer.pk])).status_code == 200


def test_provider_page(web, world: StatsWorld) -> None:
    response = web.get(reverse("cdrs:provider_stats", args=[world.alpha.pk]), TWO_DAYS)
    assert response.status_code == 200
    charts = _charts(response)
    x = ["2026-12-01 10:00", "2026-12-01 12:00"]
    assert charts["attempts"]["traces"] == [{"name": "Attempts", "x": x, "y": [17, 5]},
                                            {"name": "Connected", "x": x, "y": [6, 5]}]
    assert charts["asr"]["traces"] == [{"name": "Total", "x": x, "y": ["35.29", "100.00"], "bold": True}]
    assert charts["channels"]["traces"] == [{"name": "Channels", "x": x, "y": [5, 4]}]
    assert (charts["money"]["title"], charts["money"]["unit"]) == ("Provider cost and profit", "money")
    # Alpha's calls had no breaches: that chart says so instead of drawing empty axes.
    assert (charts["breaches"]["empty"], charts["breaches"]["empty_text"]) == (True, "No breaches in this period")
    assert '<p class="stats-chart-empty muted">No breaches in this period</p>' in response.content.decode()
    assert [key for key, chart in charts.items() if chart["empty"]] == ["breaches"]
    assert charts["codes_total"]["traces"] == [{"name": "Codes", "labels": ["200", "408", "486"],
                                                "values": [11, 7, 4]}]
    # Every carrier over the period, all customers: Alpha has the other customer's 7 failed attempts too.
    assert [(row["name"], row["attempts"], row["connected"], str(row["asr"]), str(row["acd"]))
            for row in response.context["carriers"]] == [
        ("Alpha Telecom", 22, 11, "50.00", "81.82"), ("Beta Voice", 14, 3, "21.43", "48.33"),
        ("No provider", 3, 0, "0.00", "None")]
    html = response.content.decode()
    assert (f'<a href="{reverse("routing:provider_edit", args=[world.alpha.pk])}">Settings</a>'
            f'<a href="{reverse("cdrs:provider_stats", args=[world.alpha.pk])}" class="active" aria-current="page">'
            "Stats</a>") in html


def test_provider_form_has_the_stats_tab(web, world: StatsWorld) -> None:
    html = web.get(reverse("routing:provider_edit", args=[world.beta.pk])).content.decode()
    assert (f'<a href="{reverse("routing:provider_edit", args=[world.beta.pk])}" class="active" '
            f'aria-current="page">Settings</a><a href="{reverse("cdrs:provider_stats", args=[world.beta.pk])}">'
            "Stats</a>") in html
    assert "provider_stats" not in web.get(reverse("routing:provider_add")).content.decode()
    assert "page-tabs" not in web.get(reverse("routing:provider_add")).content.decode()


def test_unknown_provider_is_404(web, world: StatsWorld) -> None:
    assert web.get(reverse("cdrs:provider_stats", args=[999999])).status_code == 404


def test_carrier_stats_page(web, world: StatsWorld) -> None:
    response = web.get(reverse("cdrs:carrier_stats"), {**TWO_DAYS, "grain": "day"})
    assert [(row["name"], row["attempts"]) for row in response.context["carriers"]] == [
        ("Alpha Telecom", 22), ("Beta Voice", 14), ("No provider", 3)]
    assert "plotly" not in response.content.decode()


def test_plotly_served_from_the_installed_package(client) -> None:
    version = metadata.version("plotly")
    body = resources.files("plotly").joinpath("package_data/plotly.min.js").read_bytes()
    response = client.get(reverse("cdrs:plotly_js", args=[version]))
    assert response.status_code == 200
    assert response.content == body
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    packed = client.get(reverse("cdrs:plotly_js", args=[version]), HTTP_ACCEPT_ENCODING="gzip, br")
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == body
    assert len(packed.content) < len(body) / 2
    assert client.get(reverse("cdrs:plotly_js", args=["0.0.1"])).status_code == 404
    head = client.head(reverse("cdrs:plotly_js", args=[version]))
    assert (head.status_code, head.content, head["Cache-Control"]) == (200, b"", "public, max-age=31536000, immutable")


@pytest.mark.parametrize(("preset", "start", "end", "grain"), [
    ("24h", datetime(2026, 12, 5, 15, tzinfo=UTC), datetime(2026, 12, 6, 15, tzinfo=UTC), "hour"),
    ("7d", datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC), "hour"),
    ("30d", datetime(2026, 11, 7, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC), "day"),
    ("month", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "day"),
])
def test_presets(preset: str, start: datetime, end: datetime, grain: str) -> None:
    now = datetime(2026, 12, 6, 14, 37, 5, tzinfo=UTC)
    period, errors = stats_charts.period_from_query({"preset": preset}, now)
    assert (period.start, period.end, period.grain, errors) == (start, end, grain, {})


def test_chart_json_is_what_the_page_holds(web, world: StatsWorld) -> None:
    response = web.get(reverse("cdrs:stats_tab", args=[world.customer.pk]), TWO_DAYS)
    html = response.content.decode()
    start = html.index('<script id="chart-codes_total-data" type="application/json">')
    data = json.loads(html[html.index(">", start) + 1:html.index("</script>", start)])
    assert data["traces"] == [{"name": "Codes", "labels": ["200", "480", "486", "503"], "values": [14, 3, 4, 11]}]
