"""The card's CDR tab: the grid of the customer's rated CDRs (chosen columns, server-side filters and sort, date
presets in UTC), one CDR's detail (both sides and the profit), and the filtered set as a streamed CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils.text import slugify

from trunkline.cdrs.cdr_filtersets import DEFAULT_PERIOD, PERIODS, CdrTabFilterSet
from trunkline.cdrs.cdr_tables import CdrTable
from trunkline.cdrs.models import Cdr
from trunkline.contracts.calls import ReleaseReason
from trunkline.core.csv_safety import safe_row
from trunkline.core.models import UserPreference
from trunkline.core.views.generic import _active_filters, _filter_errors, _without_blanks
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView

PER_PAGE_CHOICES = (25, 50, 100, 250)
COUNT_CAP = 10_000  # the grid counts up to this many matches; past it, "more than 10,000"
CSV_CHUNK = 2_000  # rows per database fetch while streaming the CSV: memory stays flat whatever the set's size
RECALC_BUTTON = "cdrs/includes/recalc_button.html"  # Recalc CDR's button (its own part); drawn when it exists
# The tab's own query parameters; the filter set takes the rest (its customer is the card's).
TAB_PARAMETERS = ("ordering", "page", "per_page", "export")


class _Echo:
    def write(self, value: str) -> str:
        return value


@dataclass
class CdrQuery:
    filterset: CdrTabFilterSet
    queryset: QuerySet[Cdr]
    table: CdrTable
    ordering: str
    period: str


def cdr_query(request: HttpRequest, customer: Customer) -> CdrQuery:
    """The customer's CDRs as the tab's query string filters and sorts them, with the operator's columns.

    No period means the default preset; a preset other than "custom" leaves start_after/start_before out, so a
    range typed earlier does not narrow the preset silently. An invalid filter lists nothing (and says why)."""
    data = _without_blanks(request.GET)
    for name in ("customer", *TAB_PARAMETERS):
        data.pop(name, None)
    period = data.get("period") or DEFAULT_PERIOD
    data["period"] = period
    if period != "custom":
        data.pop("start_after", None)
        data.pop("start_before", None)
    base = Cdr.objects.filter(customer=customer)
    filterset = CdrTabFilterSet(data, queryset=base, request=request)
    queryset = filterset.qs if filterset.is_valid() else base.none()
    table = CdrTable(UserPreference.lookup(request.user, CdrTable.preference_key()))
    if table.needs_provider:
        queryset = queryset.select_related("provider")

    ordering = request.GET.get("ordering", "")
    field = table.orderable.get(ordering.lstrip("-"))
    if field:
        direction = "-" if ordering.startswith("-") else ""
        queryset = queryset.order_by(f"{direction}{field}", f"{direction}pk")
    else:
        ordering = ""
        queryset = queryset.order_by("-start", "-pk")
    return CdrQuery(filterset=filterset, queryset=queryset, table=table, ordering=ordering, period=period)


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and 0 < int(value) <= 1_000_000 else 1


def _recalc_button() -> str | None:
    try:
        get_template(RECALC_BUTTON)
    except TemplateDoesNotExist:
        return None
    return RECALC_BUTTON


class CdrTabView(CustomerCardView):
    tab = "cdr"
    template_name = "cdrs/cdr_tab.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        query = cdr_query(request, customer)
        per_page = _page_number(request.GET.get("per_page"))
        per_page = per_page if per_page in PER_PAGE_CHOICES else 50
        page = _page_number(request.GET.get("page"))
        offset = (page - 1) * per_page
        # One page and one row beyond it: whether there is a next page, without counting every match.
        objects = list(query.queryset[offset:offset + per_page + 1])
        has_next = len(objects) > per_page
        objects = objects[:per_page]
        count = query.queryset.order_by()[:COUNT_CAP + 1].count()
        back = request.GET.urlencode()
        for cdr in objects:
            cdr.detail_url = reverse("cdrs:cdr_detail", args=[customer.pk, cdr.pk]) + (f"?{back}" if back else "")
        form = query.filterset.form
        return {
            "table": query.table,
            "rows": query.table.rows(objects),
            "filterset": query.filterset,
            "filter_errors": _filter_errors(query.filterset),
            "active_filters": [chip for chip in _active_filters(query.filterset) if chip["name"] != "period"],
            "form": form,
            "period": query.period,
            "periods": PERIODS,
            "release_reasons": [reason.value for reason in ReleaseReason],
            "chosen_reasons": form["release_reason"].value() or [],
            "sip_codes": ", ".join(form["sip_code"].value() or []),
            "ordering": query.ordering,
            "page": page,
            "per_page": per_page,
            "per_page_choices": PER_PAGE_CHOICES,
            "has_next": has_next,
            "first_row": offset + 1 if objects else 0,
            "last_row": offset + len(objects),
            "count": min(count, COUNT_CAP),
            "count_capped": count > COUNT_CAP,
            "csv_url": reverse("cdrs:cdr_csv", args=[customer.pk]) + (f"?{back}" if back else ""),
            "preference_url": reverse("core:table_preference", args=[CdrTable.__name__]),
            "recalc_button": _recalc_button(),
        }


class CdrDetailView(CustomerCardView):
    """One CDR: the call, the customer side (sell), the provider side (buy) and the profit."""

    tab = "cdr"
    template_name = "cdrs/cdr_detail.html"

    def get(self, request: HttpRequest, pk: int, cdr: int) -> HttpResponse:  # type: ignore[override]
        customer = get_object_or_404(Customer, pk=pk)
        record = get_object_or_404(Cdr.objects.select_related("provider", "ingress_route"), pk=cdr,
                                   customer=customer)
        back = request.GET.urlencode()
        context = {"object": customer, "model": Customer, "cdr": record,
                   "back_url": reverse("cdrs:cdr_tab", args=[pk]) + (f"?{back}" if back else ""),
                   "gross": record.customer_charge + record.customer_tax,
                   "margin": _margin(record),
                   **self.get_extra_context(request, customer)}
        return render(request, self.template_name, context)


def _margin(cdr: Cdr) -> str:
    """Profit as a share of the charge ("25.00 %"), when there is a profit and a charge to share it."""
    if cdr.profit is None or not cdr.customer_charge:
        return ""
    return f"{cdr.profit * 100 / cdr.customer_charge:.2f} %"


class CdrCsvView(CustomerCardView):
    """The filtered CDRs as CSV, streamed: the operator's chosen columns, times in UTC (ISO 8601), every cell
    through csv_safety (a CLI or a destination name is text from outside and could be a spreadsheet formula)."""

    tab = "cdr"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        query = cdr_query(request, customer)
        columns = query.table.visible
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            yield writer.writerow([column.name for column in columns])
            for cdr in query.queryset.iterator(chunk_size=CSV_CHUNK):
                yield writer.writerow(safe_row(column.export(cdr) for column in columns))

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        name = f"{slugify(customer.name) or f'customer-{customer.pk}'}-cdrs-{query.period.replace('_', '-')}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
