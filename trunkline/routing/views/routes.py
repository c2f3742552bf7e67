"""The customer card's Routing tab: ingress routes, CLI rules and the CLI Testing box."""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from trunkline.core.views.owned import OwnedObjectDeleteView, OwnedObjectEditView
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView
from trunkline.routing.forms import GENERATE_TECH_PREFIX, CliRuleForm, CliTestForm, IngressRouteForm
from trunkline.routing.models import CliRule, IngressRoute
from trunkline.routing.selectors import cli_rules, cli_rules_evaluate, ingress_routes
from trunkline.routing.services.routes import (
    cli_rule_delete,
    cli_rule_save,
    generate_tech_prefix,
    ingress_route_save,
)
from trunkline.routing.sharing import check_cli_rule_change
from trunkline.switch.cli import REJECT_CODE, REJECT_REASON
from trunkline.switch.regex import PatternError

# The examples of the mission page's "Advanced CLI Match & Manipulation" table: (CLI, pattern, replace, meaning).
CLI_EXAMPLES = (
    ("123456789", "^1234", "", "Allows only numbers starting with 1234 to pass"),
    ("123456789", "789$", "", "Allows only numbers ending with 789 to pass"),
    ("12345678912", "^[0-9]{11,12}$", "", "Allows only numbers with 11 or 12 digits to pass"),
    ("+123456789", r"^\+([0-9]+)$", r"\1", "Remove leading +"),
    ("01782123456", "^0([1-9]+)$", r"44\1", "Remove leading 0 and replace with 44"),
)


class RoutingTabView(CustomerCardView):
    tab = "routing"
    template_name = "routing/routing_tab.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        form = CliTestForm(request.GET if "test_cli" in request.GET else None)
        context: dict[str, Any] = {
            "routes": ingress_routes(customer),
            "cli_rules": cli_rules(customer),
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


class IngressRouteEditView(OwnedObjectEditView):
    queryset = IngressRoute.objects.select_related("customer", "rate_card")
    owner_model = Customer
    tab = "routing"
    form = IngressRouteForm

    def post(self, request: HttpRequest, owner: int, pk: int | None = None) -> HttpResponse:  # type: ignore[override]
        if GENERATE_TECH_PREFIX in request.POST:
            self.owner_pk = owner
            return self.generate(request, pk)
        return super().post(request, owner, pk)

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
        try:
            initial["tech_prefix"] = generate_tech_prefix(customer=obj.customer)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return self.render_form(request, obj, IngressRouteForm(instance=obj, initial=initial))

    def save_form(self, request: HttpRequest, form: IngressRouteForm) -> IngressRoute:
        return ingress_route_save(route=form.save(commit=False), lock=list(form.cleaned_data["lock"]),
                                  exclude=list(form.cleaned_data["exclude"]))


class CliRuleEditView(OwnedObjectEditView):
    queryset = CliRule.objects.select_related("customer")
    owner_model = Customer
    tab = "routing"
    form = CliRuleForm

    def save_form(self, request: HttpRequest, form: CliRuleForm) -> CliRule:
        return cli_rule_save(rule=form.save(commit=False))


class IngressRouteDeleteView(OwnedObjectDeleteView):
    queryset = IngressRoute.objects.select_related("customer")
    owner_model = Customer
    tab = "routing"
    consequence = ("Calls that used this route (its tech prefix, or the customer's calls if it was the only one) are "
                   "no longer accepted. The deletion is kept in the customer's audit log.")


class CliRuleDeleteView(OwnedObjectDeleteView):
    queryset = CliRule.objects.select_related("customer")
    owner_model = Customer
    tab = "routing"
    consequence = ("The switch stops applying it; if it was the customer's last rule in its direction, every CLI "
                   "passes. The deletion is kept in the customer's audit log.")

    def refusal(self, request: HttpRequest, obj: CliRule) -> str | None:
        try:
            check_cli_rule_change(obj, deleting=True)
        except ValidationError as error:
            return " ".join(error.messages)
        return None

    def delete_object(self, obj: CliRule) -> None:
        cli_rule_delete(rule=obj)
