"""Dialogs (the card's tab and the global page): live calls, refreshing by themselves, and End Calls; the real calls
on the card's Latest Calls tab (a panel that routing's tab draws through core.livecalls)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views import View

from trunkline.cdrs import selectors
from trunkline.cdrs.cdr_selectors import ratings_by_call_id
from trunkline.cdrs.models import CallRecord
from trunkline.cdrs.services import dialogs as dialog_services
from trunkline.cdrs.tables import call_rows, dialog_rows
from trunkline.core.integers import ascii_int
from trunkline.core.views.mixins import RoleRequiredMixin
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView

LATEST_CALLS = 50
REFRESH_MS = 2500  # how often an open Dialogs list asks for its rows again


def _dialogs_context(request: HttpRequest, customer: Customer | None) -> dict[str, Any]:
    args = [customer.pk] if customer else []
    prefix = "cdrs:dialogs_tab" if customer else "cdrs:dialogs"
    rows = dialog_rows(selectors.live_dialogs(customer=customer), timezone.now())
    return {"rows": rows, "with_customer": customer is None, "rows_url": reverse(f"{prefix}_rows", args=args),
            "end_url": reverse(f"{prefix}_end", args=args), "refresh_ms": REFRESH_MS,
            "refresh_seconds": f"{REFRESH_MS / 1000:g}",
            "updated": timezone.now().astimezone(UTC).strftime("%H:%M:%S UTC")}


def _rows_response(request: HttpRequest, customer: Customer | None) -> JsonResponse:
    """The rows alone, for the list's script to swap in: no reload, the ticked boxes kept."""
    context = _dialogs_context(request, customer)
    html = render_to_string("cdrs/includes/dialog_rows.html", context, request=request)
    return JsonResponse({"count": len(context["rows"]), "html": html,
                         "updated": context["updated"]})


def _end(request: HttpRequest, customer: Customer | None, back: str) -> HttpResponse:
    """End Calls: the ticked dialogs end through Kamailio. On a card only that customer's are sent; a call that
    ended meanwhile, or whose dialog the edge has not reported yet (not answered), is named and not sent."""
    ids = list(dict.fromkeys(number for value in request.POST.getlist("ids")
                             if (number := ascii_int(value)) is not None))
    if not ids:
        messages.warning(request, "Tick at least one call to end.")
        return redirect(back)
    live = {record.pk: record for record in selectors.live_dialogs(customer).filter(pk__in=ids)}
    gone = [pk for pk in ids if pk not in live]
    if gone:
        whose = " for this customer" if customer else ""
        messages.warning(request, f"{_calls(len(gone))} no longer live{whose}: nothing was sent for "
                                  f"{'it' if len(gone) == 1 else 'them'}.")
    unanswered = [live[pk] for pk in ids if pk in live and not _has_dialog(live[pk])]
    for record in unanswered:
        messages.error(request, f"Could not end {record.call_id}: it is not answered yet, so the edge has no "
                                "dialog to end. Try again once it shows Answered.")
    wanted = [pk for pk in ids if pk in live and _has_dialog(live[pk])]
    if not wanted:
        return redirect(back)
    try:
        result = dialog_services.dialogs_end(ids=wanted)
    except ValidationError as error:  # one of them ended between the check above and the send
        messages.error(request, f"Nothing was sent: {' '.join(error.messages)}")
        return redirect(back)
    if result.ended:
        listed = ", ".join(live[pk].call_id for pk in result.ended)
        messages.success(request, f"Asked Kamailio to end {_calls(len(result.ended))}: {listed}. "
                                  "They leave this list when the edge reports them ended (MI Termination).")
    for pk, why in result.errors.items():
        messages.error(request, f"Could not end {live[int(pk)].call_id}: {why}")
    return redirect(back)


def _has_dialog(record: CallRecord) -> bool:
    return record.dialog_h_entry is not None and record.dialog_h_id is not None


def _calls(count: int) -> str:
    return f"{count} call" if count == 1 else f"{count} calls"


class DialogsView(RoleRequiredMixin, View):
    """Dialogs: every customer's live calls."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "cdrs/dialogs.html", _dialogs_context(request, None))


class DialogsRowsView(RoleRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return _rows_response(request, None)


class DialogsEndView(RoleRequiredMixin, View):
    write = True  # viewers look only: a POST from them is refused before anything is sent

    def post(self, request: HttpRequest) -> HttpResponse:
        return _end(request, None, reverse("cdrs:dialogs"))


class DialogsTabView(CustomerCardView):
    """The card's Dialogs tab: this customer's live calls."""

    tab = "dialogs"
    template_name = "cdrs/dialogs_tab.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        return _dialogs_context(request, customer)


class DialogsTabRowsView(CustomerCardView):
    tab = "dialogs"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _rows_response(request, get_object_or_404(Customer, pk=pk))


class DialogsTabEndView(CustomerCardView):
    tab = "dialogs"
    write = True

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return redirect("cdrs:dialogs_tab", pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        return _end(request, customer, reverse("cdrs:dialogs_tab", args=[pk]))


def latest_calls_panel(request: HttpRequest, customer: Customer) -> str:
    """The real calls on the card's Latest Calls tab, above the simulations: the latest LATEST_CALLS, newest first
    (older ones through the API, GET /api/v1/calls/?customer=N), each with its rating once its CDR is charged."""
    calls = selectors.latest_calls(customer, limit=LATEST_CALLS)
    ratings = ratings_by_call_id(record.call_id for record in calls)
    for record in calls:
        record.rating = ratings.get(record.call_id)
    return render_to_string("cdrs/latest_calls_panel.html",
                            {"calls": call_rows(calls), "latest_calls": LATEST_CALLS, "object": customer},
                            request=request)
