"""The Stats pages: the card's Stats tab, a provider's Stats tab (core.providertabs), the carriers' ASR/ACD table,
and plotly.js served from the installed plotly package (no CDN, nothing copied into the repository)."""

from __future__ import annotations

import gzip
from functools import cache
from importlib import metadata, resources
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.decorators.http import require_safe

from trunkline.cdrs import stats_charts
from trunkline.core.views.mixins import RoleRequiredMixin
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView
from trunkline.routing.models import Provider

PLOTLY_VERSION = metadata.version("plotly")
YEAR = 365 * 24 * 3600


def _period_context(request: HttpRequest) -> tuple[stats_charts.Period, dict[str, Any]]:
    period, errors = stats_charts.period_from_query(request.GET, timezone.now())
    return period, {
        "period": period, "errors": errors, "presets": stats_charts.PRESETS, "grains": stats_charts.GRAINS,
        "max_days": stats_charts.MAX_DAYS,
        "plotly_js": reverse("cdrs:plotly_js", args=[PLOTLY_VERSION]),
    }


def _charts_context(period: stats_charts.Period, **scope: Any) -> dict[str, Any]:
    charts = stats_charts.charts(period=period, **scope)
    for chart in charts:
        chart["script_id"] = f"chart-{chart['key']}-data"
    span = {"start": period.start.strftime("%Y-%m-%d %H:%M"), "end": period.end.strftime("%Y-%m-%d %H:%M"),
            "grain": period.grain}
    return {"charts": charts, "has_calls": stats_charts.has_calls(charts), "period_json": span}


class StatsTabView(CustomerCardView):
    """The card's Stats tab: the customer's traffic by hour, day or month, from the rollups."""

    tab = "stats"
    template_name = "cdrs/stats_tab.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        period, context = _period_context(request)
        return {**context, **_charts_context(period, customer_id=customer.pk, currency=customer.currency),
                "carriers": stats_charts.carrier_table(period=period, customer_id=customer.pk)}


class ProviderStatsView(RoleRequiredMixin, View):
    """A provider's Stats tab: the same charts for the calls it carried (all customers'), and every carrier's ASR and
    ACD over the period beside it."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        provider = get_object_or_404(Provider, pk=pk)
        period, context = _period_context(request)
        return render(request, "cdrs/provider_stats.html", {
            **context, **_charts_context(period, provider_id=provider.pk), "object": provider,
            "carriers": stats_charts.carrier_table(period=period)})


class CarrierStatsView(RoleRequiredMixin, View):
    """Every carrier's ASR and ACD over a period (all customers): what route decisions will weigh."""

    def get(self, request: HttpRequest) -> HttpResponse:
        period, context = _period_context(request)
        return render(request, "cdrs/carrier_stats.html",
                      {**context, "carriers": stats_charts.carrier_table(period=period)})


@cache
def _plotly_bytes() -> tuple[bytes, bytes]:
    """plotly.min.js as the installed wheel ships it, plain and gzipped (read and compressed once per process)."""
    body = resources.files("plotly").joinpath("package_data/plotly.min.js").read_bytes()
    return body, gzip.compress(body, compresslevel=6, mtime=0)


@require_safe
def plotly_js(request: HttpRequest, version: str) -> HttpResponse:
    """The chart library, under a URL naming the plotly version: cached for a year, a new version is a new URL."""
    if version != PLOTLY_VERSION:
        raise Http404("No such plotly version here.")
    plain, packed = _plotly_bytes()
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(packed if gzipped else plain, content_type="text/javascript; charset=utf-8")
    if gzipped:
        response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept-Encoding"
    response["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response
