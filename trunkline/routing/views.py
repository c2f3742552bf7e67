"""Routing > Providers and Routing > Rate cards: boards, edit forms, a card's revisions and rows, CSV import; the
customer card's Routing tab (ingress routes, CLI rules, the CLI Testing box); and Simulate Call (the card's Latest
Calls tab, the global Simulate page, a simulation's result page)."""

import ipaddress
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views import View

from trunkline.core.bulk_import import ImportFileError, decode_upload
from trunkline.core.integers import ascii_int
from trunkline.core.uploads import declared_too_large, too_large_message, upload_limit
from trunkline.core.views import generic
from trunkline.core.views.mixins import RoleRequiredMixin
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView
from trunkline.routing import services
from trunkline.routing.choices import RoutingStrategy
from trunkline.routing.filtersets import ProviderFilterSet, RateCardFilterSet
from trunkline.routing.forms import (
    GENERATE_TECH_PREFIX,
    CliRuleForm,
    CliTestForm,
    IngressRouteForm,
    ProviderBulkEditForm,
    ProviderForm,
    RateCardForm,
    RateImportForm,
    RevisionScheduleForm,
    SimulateForm,
)
from trunkline.routing.models import (
    CliRule,
    IngressRoute,
    Provider,
    RateCard,
    RateImport,
    RateRevision,
    SimulatedCall,
)
from trunkline.routing.ratefile import MappingError
from trunkline.routing.selectors import cli_rules_evaluate, rate_csv_lines
from trunkline.routing.simulate import simulate_and_record
from trunkline.routing.snapshot import snapshot_publication
from trunkline.routing.tables import ProviderTable, RateCardTable
from trunkline.sipauth.choices import Direction
from trunkline.switch.cli import REJECT_CODE, REJECT_REASON
from trunkline.switch.regex import PatternError

RATES_PER_PAGE = 100
# From this many lines a deck is imported by the worker, with a progress page: smaller ones take well under a
# second, and the operator is better served by the result at once.
BACKGROUND_IMPORT_ROWS = 20_000
PREVIEW_ROWS = 20


#
# Providers
#


class ProviderListView(generic.ObjectListView):
    queryset = Provider.objects.all()
    filterset = ProviderFilterSet
    table = ProviderTable
    search_placeholder = "Search name, tech prefix, notes"
    status_field = "status"
    default_ordering = ("name",)


class ProviderEditView(generic.ObjectEditView):
    queryset = Provider.objects.all()
    form = ProviderForm

    def get_crumbs(self, obj: Provider) -> list[tuple[str, str]]:
        return [("Providers", reverse("routing:provider_list"))]

    def get_success_url(self, obj: Provider) -> str:
        return reverse("routing:provider_list")

    def save_form(self, request: HttpRequest, form: ProviderForm) -> Provider:
        provider = form.save(commit=False)
        provider.full_clean()
        provider.save()
        return provider


class ProviderBulkEditView(generic.BulkEditView):
    queryset = Provider.objects.all()
    form = ProviderBulkEditForm


class ProviderBulkDeleteView(generic.BulkDeleteView):
    """Tick providers on the board, then the bin: a provider that still has rate cards stops the whole delete."""

    queryset = Provider.objects.all()


#
# Rate cards
#


class RateCardListView(generic.ObjectListView):
    queryset = RateCard.objects.select_related("provider", "active_revision")
    filterset = RateCardFilterSet
    table = RateCardTable
    search_placeholder = "Search name, notes"
    default_ordering = ("name",)


class RateCardView(generic.ObjectView):
    """A card: its revisions (active marked, activate / schedule / roll back) and the active revision's rows."""

    queryset = RateCard.objects.select_related("provider", "active_revision").prefetch_related("egress_cards")
    template_name = "routing/ratecard.html"

    def get_extra_context(self, request: HttpRequest, obj: RateCard) -> dict[str, Any]:
        rates = obj.active_revision.rates.order_by("prefix") if obj.active_revision else RateRevision.objects.none()
        prefix = request.GET.get("prefix", "").strip()
        if prefix:
            rates = rates.filter(prefix__startswith=prefix)
        page = Paginator(rates, RATES_PER_PAGE).get_page(request.GET.get("page"))
        return {"revisions": obj.revisions.order_by("-number"), "page": page, "rates": page.object_list,
                "prefix": prefix, "schedule_form": RevisionScheduleForm(),
                "customer_cards": obj.customer_cards.order_by("name"),
                "running_imports": obj.imports.filter(finished__isnull=True).only("pk", "rows", "created")}


class RateCardEditView(generic.ObjectEditView):
    queryset = RateCard.objects.all()
    form = RateCardForm

    def save_form(self, request: HttpRequest, form: RateCardForm) -> RateCard:
        return services.rate_card_save(card=form.save(commit=False),
                                       egress_cards=list(form.cleaned_data["egress_cards"]))


class RateCardDeleteView(generic.ObjectDeleteView):
    queryset = RateCard.objects.all()
    consequence = ("Every revision and rate row of the card is deleted; customers routed by it stop passing "
                   "calls. The deletion is kept in the audit log.")

    def delete_object(self, obj: RateCard) -> None:
        services.rate_card_delete(card=obj)


class RevisionActivateView(RoleRequiredMixin, View):
    """Activate a revision now, or schedule it (date_live in the future)."""

    write = True

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        revision = get_object_or_404(RateRevision.objects.select_related("card"), pk=pk)
        form = RevisionScheduleForm(request.POST) if request.POST.get("date_live") else None
        if form is not None and not form.is_valid():
            messages.error(request, " ".join(form.errors["date_live"]))
            return redirect(revision.card.get_absolute_url())
        date_live = form.cleaned_data["date_live"].astimezone(UTC) if form is not None else None
        try:
            services.rate_revision_activate(revision=revision, date_live=date_live)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            revision.refresh_from_db()
            if revision.card.active_revision_id == revision.pk or date_live is None:
                messages.success(request, f"Revision {revision.number} is now active.")
            else:
                messages.success(request, f"Revision {revision.number} goes live at {date_live:%Y-%m-%d %H:%M} UTC.")
        return redirect(revision.card.get_absolute_url())


class RateCardRollbackView(RoleRequiredMixin, View):
    write = True

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard, pk=pk)
        try:
            revision = services.rate_card_rollback(card=card)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Rolled back: revision {revision.number} is active again.")
        return redirect(card.get_absolute_url())


class RateCardExportView(RoleRequiredMixin, View):
    """The active revision (or ?revision=N) as CSV, in the layout the import reads by default."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard, pk=pk)
        number = ascii_int(request.GET.get("revision", ""))
        revision = card.active_revision if number is None else card.revisions.filter(number=number).first()
        if revision is None:
            messages.error(request, "There is no such revision to export.")
            return redirect(card.get_absolute_url())
        response = StreamingHttpResponse(rate_csv_lines(revision=revision), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="rate-card-{card.pk}-r{revision.number}.csv"'
        return response


class RateImportView(RoleRequiredMixin, View):
    """Upload or paste a deck: Preview checks every row and writes nothing; Import writes a new revision only when
    the whole file is valid, and activates it (or schedules it). A deck of BACKGROUND_IMPORT_ROWS lines or more is
    imported by the worker instead, on a page that shows its progress."""

    write = True
    template_name = "routing/rate_import.html"

    def render_page(self, request: HttpRequest, card: RateCard, form: RateImportForm, **extra: Any) -> HttpResponse:
        return render(request, self.template_name, {"object": card, "form": form, **extra})

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard, pk=pk)
        return self.render_page(request, card, RateImportForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard, pk=pk)
        try:
            if declared_too_large(request.META):
                raise RequestDataTooBig
            form = RateImportForm(request.POST, request.FILES)
        except RequestDataTooBig:  # the body (a file or pasted rows) is over the upload limit
            messages.error(request, too_large_message())
            return self.render_page(request, card, RateImportForm())
        if not form.is_valid():
            return self.render_page(request, card, form)
        data = form.cleaned_data
        upload = data["file"]
        if upload and upload.size > upload_limit():
            form.add_error("file", too_large_message())
            return self.render_page(request, card, form)
        try:
            text = decode_upload(upload.read()) if upload else data["csv"]
        except ImportFileError as error:
            form.add_error("file", str(error))
            return self.render_page(request, card, form)
        if not text.strip():
            form.add_error("csv", "Choose a file or paste the rows.")
            return self.render_page(request, card, form)
        dry_run = "_import" not in request.POST
        date_live = data["date_live"].astimezone(UTC) if data["date_live"] else None
        options = {"card": card, "text": text, "start_row": data["start_row"], "columns": data["columns"],
                   "date_live": date_live, "note": data["note"]}
        try:
            if not dry_run and text.count("\n") >= BACKGROUND_IMPORT_ROWS:
                imported = services.rate_import_start(**options, created_by=request.user)
                return redirect(imported.get_absolute_url())
            result = services.rate_card_import(**options, dry_run=dry_run)
        except MappingError as error:
            form.add_error("columns", str(error))
            return self.render_page(request, card, form)
        except ValidationError as error:
            generic.add_errors(form, error)
            return self.render_page(request, card, form)
        if result.revision is not None:
            messages.success(request, result.summary)
            return redirect(card.get_absolute_url())
        errors = [(row, field, " ".join(problems)) for row, fields in result.errors.items()
                  for field, problems in fields.items()]
        # The pasted text goes back into the form, so Import after Preview sends the same rows.
        form = RateImportForm(initial={**data, "csv": text, "file": None})
        return self.render_page(request, card, form, result=result, errors=errors,
                                preview=result.parsed.rows[:PREVIEW_ROWS], dry_run=dry_run)


class RateImportStatusView(generic.ObjectView):
    """A deck the worker imports: progress while it runs (the page refreshes itself), then the outcome."""

    queryset = RateImport.objects.select_related("card", "job", "revision", "created_by")
    template_name = "routing/rate_import_status.html"

    def get_extra_context(self, request: HttpRequest, obj: RateImport) -> dict[str, Any]:
        progress = generic.import_progress(job=obj.job, rows=obj.rows, finished=obj.finished is not None)
        return {**progress,
                "counts": f"{progress['read']:,} of {obj.rows:,} row{pluralize(obj.rows)} read and checked, "
                          f"{progress['written']:,} written · uploaded by {obj.created_by or '—'} on "
                          f"{obj.created:%Y-%m-%d %H:%M:%S} UTC",
                "errors": obj.errors,
                "crumbs": [("Rate cards", reverse("routing:ratecard_list")),
                           (str(obj.card), obj.card.get_absolute_url())]}


#
# The customer card's Routing tab: ingress routes, CLI rules and the CLI Testing box
#

# The examples of the mission page's "Advanced CLI Match & Manipulation" table: (CLI, pattern, replace, meaning).
CLI_EXAMPLES = (
    ("123456789", "^1234", "", "Allows only numbers starting with 1234 to pass"),
    ("123456789", "789$", "", "Allows only numbers ending with 789 to pass"),
    ("12345678912", "^[0-9]{11,12}$", "", "Allows only numbers with 11 or 12 digits to pass"),
    ("+123456789", r"^\+([0-9]+)$", r"\1", "Remove leading +"),
    ("01782123456", "^0([1-9]+)$", r"44\1", "Remove leading 0 and replace with 44"),
)


def routing_tab_url(customer_id: int) -> str:
    return reverse("customer_routing:routing_tab", args=[customer_id])


class RoutingTabView(CustomerCardView):
    tab = "Routing"
    template_name = "routing/routing_tab.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        form = CliTestForm(request.GET if "test_cli" in request.GET else None)
        context: dict[str, Any] = {
            "routes": customer.ingress_routes.select_related("rate_card").prefetch_related(
                "lock", "exclude", "rate_card__egress_cards")
            .order_by("tech_prefix", "id"),
            "cli_rules": customer.cli_rules.order_by("id"),
            "cli_form": form,
            "cli_examples": CLI_EXAMPLES,
        }
        if form.is_valid():
            data = form.cleaned_data
            try:
                context["cli_result"] = cli_rules_evaluate(customer_id=customer.pk, cli=data["cli"],
                                                           pai=data["pai"] or None, dialed=data["dialed"],
                                                           direction=data["direction"])
            except PatternError as error:
                # A rule saved before patterns were RE2 syntax (a look-ahead, say): name it, to be corrected.
                form.add_error(None, f"A saved rule cannot be loaded: {error}")
            context["cli_reject"] = f"{REJECT_CODE} {REJECT_REASON}"
        return context


class _RoutingTabEditView(generic.ObjectEditView):
    """Add (from a card: ?customer=<pk>) or edit a route or CLI rule; after a save the operator is back on the
    Routing tab."""

    def get_object(self, pk: int | None) -> Any:
        obj = super().get_object(pk)
        customer = self.request.GET.get("customer", "")
        if obj.pk is None and ascii_int(customer) is not None:
            obj.customer = get_object_or_404(Customer, pk=customer)
        return obj

    def get_crumbs(self, obj: Any) -> list[tuple[str, str]]:
        crumbs = [("Customers", reverse("customers:customer_list"))]
        return [*crumbs, (str(obj.customer), routing_tab_url(obj.customer_id))] if obj.customer_id else crumbs

    def get_return_url(self, obj: Any) -> str:
        return routing_tab_url(obj.customer_id) if obj.customer_id else reverse("customers:customer_list")

    def get_success_url(self, obj: Any) -> str:
        return routing_tab_url(obj.customer_id)


class IngressRouteEditView(_RoutingTabEditView):
    queryset = IngressRoute.objects.select_related("customer", "rate_card")
    form = IngressRouteForm

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        if GENERATE_TECH_PREFIX in request.POST:
            return self.generate(request, pk)
        return super().post(request, pk)

    def generate(self, request: HttpRequest, pk: int | None) -> HttpResponse:
        """The Generate button: the form again as typed, with a fresh tech prefix in its box; nothing is saved."""
        obj = self.get_object(pk)
        form = IngressRouteForm(instance=obj)
        initial: dict[str, Any] = {}
        for name, field in form.fields.items():
            if field.disabled:
                continue
            if isinstance(field, forms.BooleanField):
                initial[name] = name in request.POST
            elif isinstance(field, forms.ModelMultipleChoiceField):
                initial[name] = request.POST.getlist(name)
            elif name in request.POST:
                initial[name] = request.POST[name]
        if obj.customer_id is None:
            messages.error(request, "Add the route from a customer's Routing tab to generate a tech prefix.")
        else:
            try:
                initial["tech_prefix"] = services.generate_tech_prefix(customer=obj.customer)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        return self.render_form(request, obj, IngressRouteForm(instance=obj, initial=initial))

    def save_form(self, request: HttpRequest, form: IngressRouteForm) -> IngressRoute:
        return services.ingress_route_save(route=form.save(commit=False), lock=list(form.cleaned_data["lock"]),
                                           exclude=list(form.cleaned_data["exclude"]))


class CliRuleEditView(_RoutingTabEditView):
    queryset = CliRule.objects.select_related("customer")
    form = CliRuleForm

    def save_form(self, request: HttpRequest, form: CliRuleForm) -> CliRule:
        rule = form.save(commit=False)
        rule.full_clean()
        rule.save()
        return rule


class _RoutingTabDeleteView(generic.ObjectDeleteView):
    """Confirm on a page whose Cancel (and trail) lead back to the Routing tab: routes and rules have no page of
    their own."""

    template_name = "routing/card_object_delete.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.queryset, pk=pk)
        return render(request, self.template_name, {
            "object": obj, "model": self.queryset.model, "verbose_name": obj._meta.verbose_name, "verb": self.verb,
            "consequence": self.consequence, "return_url": routing_tab_url(obj.customer_id)})

    def get_success_url(self, obj: Any) -> str:
        return routing_tab_url(obj.customer_id)


class IngressRouteDeleteView(_RoutingTabDeleteView):
    queryset = IngressRoute.objects.select_related("customer")
    consequence = ("Calls that used this route (its tech prefix, or the customer's calls if it was the only one) are "
                   "no longer accepted. The deletion is kept in the customer's audit log.")


class CliRuleDeleteView(_RoutingTabDeleteView):
    queryset = CliRule.objects.select_related("customer")
    consequence = ("The switch stops applying it; if it was the customer's last rule in its direction, every CLI "
                   "passes. The deletion is kept in the customer's audit log.")


#
# Simulate Call: the customer card's Latest Calls tab, the global Simulate page, a simulation's result page
#

CALLS_PER_PAGE = 50


def customer_ip(customer: Customer) -> str:
    """The Customer IP the Simulate dialog starts with: of the customer's "sends" IP-auth entries, in the Auth tab's
    order, the first exact address, else the first host of the first network (a call comes from one address)."""
    networks = [ipaddress.ip_network(ip, strict=False) for ip in
                customer.ip_auths.filter(direction=Direction.SENDS).order_by("ip", "id").values_list("ip", flat=True)]
    exact = next((network for network in networks if network.num_addresses == 1), None)
    if exact is not None:
        return str(exact.network_address)
    return str(next(networks[0].hosts(), networks[0].network_address)) if networks else ""


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
    page = Paginator(calls.select_related("customer", "created_by"), CALLS_PER_PAGE).get_page(request.GET.get("page"))
    return {"page": page, "calls": page.object_list}


class LatestCallsTabView(CustomerCardView):
    """The customer's calls, newest first: today the simulations kept for it (live calls come with the switch). A
    POST runs a simulation from the Simulate dialog; with errors, the tab comes back with the dialog open."""

    tab = "Latest Calls"
    template_name = "routing/latest_calls_tab.html"
    form: SimulateForm | None = None  # the POSTed form with its errors

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        form = self.form or SimulateForm(initial={"ip": customer_ip(customer), **_initial(request.GET)})
        # ?simulate opens the dialog without JavaScript (the Simulate button's link).
        return {**_calls_page(request, customer.simulated_calls.all()), "form": form,
                "dialog_open": self.form is not None or "simulate" in request.GET}

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
                                                    **_calls_page(request, SimulatedCall.objects.all())})


class SimulationView(generic.ObjectView):
    """One simulation as it was decided: the result JSON laid out, with names and links for the ids it holds."""

    queryset = SimulatedCall.objects.select_related("customer", "created_by")
    template_name = "routing/simulation.html"

    def get_extra_context(self, request: HttpRequest, obj: SimulatedCall) -> dict[str, Any]:
        result = obj.result
        route = result["ingress_route"]
        card_ids = {item["card_id"] for item in result["egress"]} | ({route["rate_card_id"]} if route else set())
        cards = RateCard.objects.in_bulk(card_ids)  # a card deleted since shows as its id
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
