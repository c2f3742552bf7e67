"""Simulate Call: the customer card's Latest Calls tab, the global Simulate page, a simulation's result page."""

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from trunkline.core import livecalls
from trunkline.core.views import generic
from trunkline.core.views.mixins import RoleRequiredMixin
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView
from trunkline.routing.choices import RoutingStrategy
from trunkline.routing.forms import SimulateForm
from trunkline.routing.models import SimulatedCall
from trunkline.routing.selectors import customer_ip, rate_cards_by_id, simulated_calls
from trunkline.routing.services.simulations import simulate_and_record
from trunkline.routing.snapshot import snapshot_publication
from trunkline.switch.regex import PatternError

CALLS_PER_PAGE = 50


def _initial(query: QueryDict) -> dict[str, str]:
    """Inputs given in the query string (a result page's Simulate again) fill the form in."""
    return {name: query[name] for name in SimulateForm.base_fields if query.get(name)}


def _refuse_viewers(request: HttpRequest) -> None:
    """A simulation is kept (a SIM call on Latest Calls), so running one is a write: viewers read the calls only."""
    if not request.user.can_write:
        raise PermissionDenied("Your role (viewer) can look but not change anything.")


def _run(request: HttpRequest, form: SimulateForm, customer: Customer | None = None) -> HttpResponse | None:
    """Simulate and keep the call (under `customer` when it was run from that card and identifies nobody), then
    show its result page. None, with the error on the form, when a saved rule cannot be loaded (a pattern saved
    before patterns were RE2 syntax)."""
    data = form.cleaned_data
    try:
        simulation = simulate_and_record(created_by=request.user, dst=data["dst"], cli=data["cli"], ip=data["ip"],
                                         user=data["user"] or None, pai=data["pai"] or None, asked_for=customer)
    except PatternError as error:
        form.add_error(None, f"A saved rule cannot be loaded: {error}")
        return None
    return redirect("routing:simulation", simulation.pk)


def _calls_page(request: HttpRequest, calls: QuerySet[SimulatedCall]) -> dict[str, Any]:
    page = Paginator(calls, CALLS_PER_PAGE).get_page(request.GET.get("page"))
    return {"page": page, "calls": page.object_list}


class LatestCallsTabView(CustomerCardView):
    """The customer's calls, newest first: the real ones (a panel cdrs registers in core.livecalls, as routing may
    not import it) above the simulations kept for it. A POST runs a simulation from the Simulate dialog; with
    errors, the tab comes back with the dialog open."""

    tab = "latest_calls"
    template_name = "routing/latest_calls_tab.html"
    form: SimulateForm | None = None  # the POSTed form with its errors

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        form = self.form or SimulateForm(initial={"ip": customer_ip(customer), **_initial(request.GET)})
        # ?simulate opens the dialog without JavaScript (the Simulate button's link).
        return {**_calls_page(request, simulated_calls(customer)), "form": form,
                "dialog_open": self.form is not None or "simulate" in request.GET,
                "panels": livecalls.tab_panels(self.tab, request, customer)}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        _refuse_viewers(request)
        customer = get_object_or_404(Customer, pk=pk)
        form = SimulateForm(request.POST)
        if form.is_valid() and (response := _run(request, form, customer)) is not None:
            return response
        self.form = form
        return self.get(request, pk)


class SimulateView(RoleRequiredMixin, View):
    """Routing > Simulate: the form with no customer preset, and the latest simulations of every customer. Viewers
    see the simulations but not the form: a run is kept, so it is a write (as through the API)."""

    template_name = "routing/simulate.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(request, SimulateForm(initial=_initial(request.GET)))

    def post(self, request: HttpRequest) -> HttpResponse:
        _refuse_viewers(request)
        form = SimulateForm(request.POST)
        if form.is_valid() and (response := _run(request, form)) is not None:
            return response
        return self.render_page(request, form)

    def render_page(self, request: HttpRequest, form: SimulateForm) -> HttpResponse:
        return render(request, self.template_name, {"form": form, "publication": snapshot_publication(),
                                                    **_calls_page(request, simulated_calls())})


class SimulationView(generic.ObjectView):
    """One simulation as it was decided: the result JSON laid out, with names and links for the ids it holds."""

    queryset = SimulatedCall.objects.select_related("customer", "created_by")
    template_name = "routing/simulation.html"

    def get_extra_context(self, request: HttpRequest, obj: SimulatedCall) -> dict[str, Any]:
        result = obj.result
        route = result["ingress_route"]
        card_ids = {item["card_id"] for item in result["egress"]} | ({route["rate_card_id"]} if route else set())
        cards = rate_cards_by_id(card_ids)  # a card deleted since shows as its id
        egress = [{**item, "card": cards.get(item["card_id"]), "loss": item["margin"].startswith("-")}
                  for item in result["egress"]]
        trace: list[dict[str, Any]] = []
        for line in result["trace"]:
            step, _, message = line.partition(": ")
            trace.append({"step": step, "message": message, "reject": message.startswith("REJECT ")})
        # In the form's order: a jsonb column does not keep the keys' order.
        inputs = urlencode({name: obj.inputs[name] for name in SimulateForm.base_fields if obj.inputs.get(name)})
        if obj.customer_id:
            tab = reverse("customer_routing:latest_calls_tab", args=[obj.customer_id])
            crumbs = [("Customers", reverse("customers:customer_list")),
                      (str(obj.customer), obj.customer.get_absolute_url()), ("Latest Calls", tab)]
            again = f"{tab}?simulate=1&{inputs}"
        else:
            crumbs = [("Simulate", reverse("routing:simulate"))]
            again = f"{reverse('routing:simulate')}?{inputs}"
        # The snapshot's strategy values are RoutingStrategy's.
        strategy = RoutingStrategy(route["strategy"]).label if route else None
        minutes, seconds = divmod(result["max_duration"] or 0, 60)
        return {"result": result, "egress": egress, "trace": trace, "crumbs": crumbs, "again_url": again,
                "rejected_at": next((line for line in trace if line["reject"]), None),
                "route_card": cards.get(route["rate_card_id"]) if route else None, "strategy": strategy,
                "max_duration_text": f"{minutes} min {seconds} s" if seconds else f"{minutes} min"}
