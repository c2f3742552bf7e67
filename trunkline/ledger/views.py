"""The card's Ledger tab: the customer's entries, newest first, and (operators) the Adjust balance form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from trunkline.core.integers import ascii_int
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView
from trunkline.ledger import selectors
from trunkline.ledger.forms import AdjustBalanceForm
from trunkline.ledger.services import customer_adjust_balance

PER_PAGE = 50


def places(*values: Decimal) -> int:
    """The decimals that show these amounts exactly: at least 2, the rest only when they count (a call charge of
    0.012345 needs all six)."""
    return max([2, *(-value.normalize().as_tuple().exponent for value in values if value)])


def money(value: Decimal, decimals: int | None = None) -> str:
    """An amount as people read it: thousands grouped, `decimals` places (else as many as it needs)."""
    return f"{value:,.{places(value) if decimals is None else decimals}f}"


class LedgerTabView(CustomerCardView):
    tab = "ledger"
    template_name = "ledger/ledger_tab.html"
    form: AdjustBalanceForm | None = None  # a posted form shown again with its errors

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        before, after = ascii_int(request.GET.get("before", "")), ascii_int(request.GET.get("after", ""))
        entries, newer, older = selectors.entries_page(customer, size=PER_PAGE, before=before, after=after)
        # One number of decimals for the page, so that the amounts line up in their columns.
        decimals = places(*(value for entry in entries for value in (entry.amount, entry.balance_after)))
        rows = [{"entry": entry, "amount": money(entry.amount, decimals),
                 "balance_after": money(entry.balance_after, decimals), "credit": entry.amount > 0}
                for entry in entries]
        return {"rows": rows, "balance": money(customer.balance), "per_page": PER_PAGE,
                "newer_url": f"?after={entries[0].pk}" if newer else None,
                "older_url": f"?before={entries[-1].pk}" if older else None,
                "first_page": not newer,
                "form": self.form or AdjustBalanceForm()}


class AdjustBalanceView(LedgerTabView):
    """POST of the Adjust balance form: operators and admins; back to the tab with the new balance, or the tab
    again with the errors by field (nothing written)."""

    write = True

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return redirect("ledger:ledger_tab", pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        form = AdjustBalanceForm(request.POST)
        if form.is_valid():
            try:
                entry = customer_adjust_balance(customer_id=customer.pk, amount=form.cleaned_data["amount"],
                                                reason=form.cleaned_data["reason"], actor=request.user)
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                word = "Credited" if entry.amount > 0 else "Debited"
                messages.success(request, f"{word} {money(abs(entry.amount))} {customer.currency}: the balance is "
                                          f"now {money(entry.balance_after)} {customer.currency}.")
                return redirect(reverse("ledger:ledger_tab", args=[customer.pk]))
        self.form = form
        return render(request, self.template_name,
                      {"object": customer, "model": Customer, **self.get_extra_context(request, customer)})
