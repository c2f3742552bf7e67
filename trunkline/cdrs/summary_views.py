"""The Main tab's Summary (a panel cdrs adds to the customers app's tab) and its CSV export, from the rollups."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from trunkline.cdrs import stats
from trunkline.core.csv_safety import safe_row
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView

DEFAULT_PERIOD = "24h"
PERIOD_LABELS = {"24h": "24 h", "daily": "Daily", "monthly": "Monthly"}
# (key, heading, CSV header); every column but the date can be selected for its sum and average.
COLUMNS = (
    ("attempts", "Attempts", "attempts"),
    ("connected", "Connected", "connected"),
    ("asr", "ASR %", "asr_percent"),
    ("acd", "ACD (s)", "acd_seconds"),
    ("minutes", "Minutes", "minutes"),
    ("billed_minutes", "Billed minutes", "billed_minutes"),
    ("customer_charge", "Customer charge", "customer_charge"),
    ("profit", "Profit", "profit"),
    ("profit_pct", "Profit %", "profit_percent"),
)


def summary_period(request: HttpRequest) -> str:
    period = request.GET.get("summary", DEFAULT_PERIOD)
    return period if period in stats.PERIODS else DEFAULT_PERIOD


def date_text(moment: datetime, period: str) -> str:
    """A bucket as the Summary writes it (UTC): 2026-12-01 10:00, 2026-12-01, 2026-12."""
    return moment.strftime({"24h": "%Y-%m-%d %H:00", "daily": "%Y-%m-%d", "monthly": "%Y-%m"}[period])


MONEY = ("customer_charge", "profit")
MICRO = Decimal("0.000001")


def value_text(key: str, value: Decimal | int | None) -> str:
    """A cell's exact value as text (the selection adds these up); charges always with their 6 places."""
    if value is None:
        return ""
    return str(value.quantize(MICRO)) if key in MONEY and isinstance(value, Decimal) else str(value)


def cells_html(cells: list[tuple[str, str]]) -> SafeString:
    """A row's cells as HTML, joined here rather than by template tags (a month of rows is ~300 cells, and the
    template engine's per-variable work was most of the panel's time): a value is a selectable cell, none a dash."""
    # Safe: the keys are COLUMNS' constants and the values are escaped.
    return mark_safe("".join(
        f'<td class="num cell" data-column="{key}" data-value="{escape(value)}" tabindex="-1">{escape(value)}</td>'
        if value else f'<td class="num" data-column="{key}">—</td>' for key, value in cells))


def summary_panel(request: HttpRequest, customer: Customer) -> str:
    """The Summary card on the Main tab: the period's rows (?summary=24h|daily|monthly), each number a cell the
    operator can select (cdrs/summary.js shows the selection's sum and average)."""
    period = summary_period(request)
    rows = [{"date": date_text(row["date"], period),
             "cells": cells_html([(key, value_text(key, row[key])) for key, _, _ in COLUMNS])}
            for row in stats.summary(customer_id=customer.pk, period=period)]
    periods = [{"key": key, "label": label, "active": key == period} for key, label in PERIOD_LABELS.items()]
    return render_to_string("cdrs/summary_panel.html", {
        "object": customer, "rows": rows, "columns": COLUMNS, "periods": periods, "period": period,
    }, request=request)


class SummaryCsvView(CustomerCardView):
    """The Summary of one period as CSV (UTC dates; cells through csv_safety like every export)."""

    tab = "main"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        period = summary_period(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["date_utc", *(header for _, _, header in COLUMNS), "currency"])
        for row in stats.summary(customer_id=customer.pk, period=period):
            cells: list[Any] = [date_text(row["date"], period), *(value_text(key, row[key]) for key, _, _ in COLUMNS),
                                customer.currency]
            writer.writerow(safe_row(cells))
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        name = f"{slugify(customer.name) or f'customer-{customer.pk}'}-summary-{period}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
