"""The customer card's Auth tab: IP authentication and SIP users, their parameter rewrites and the Testing box."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse

from trunkline.core.views import generic
from trunkline.core.views.owned import OwnedObjectDeleteView, OwnedObjectEditView
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView
from trunkline.sipauth import selectors, services
from trunkline.sipauth.api.serializers import RewritePreviewSerializer
from trunkline.sipauth.forms import IpAuthForm, RewriteTestForm, SipUserForm
from trunkline.sipauth.models import IpAuth, SipUser
from trunkline.switch.regex import PatternError
from trunkline.switch.rewrite import preview


def auth_tab_url(customer_id: int) -> str:
    return reverse("sipauth:auth_tab", args=[customer_id])


class AuthTabView(CustomerCardView):
    tab = "auth"
    template_name = "sipauth/auth_tab.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        return {"ip_auths": selectors.ip_auths(customer), "sip_users": selectors.sip_users(customer)}


class IpAuthEditView(OwnedObjectEditView):
    queryset = IpAuth.objects.select_related("customer")
    owner_model = Customer
    tab = "auth"
    form = IpAuthForm

    def save_form(self, request: HttpRequest, form: IpAuthForm) -> IpAuth:
        entry = form.save(commit=False)
        if form.cleaned_data["password"]:
            entry.password = form.cleaned_data["password"]
        warnings = services.ip_auth_save(entry=entry)
        services.replace_rules(owner=entry, rules=form.cleaned_data["rewrites"])
        for warning in warnings:
            messages.warning(request, warning)
        return entry


class SipUserEditView(OwnedObjectEditView):
    queryset = SipUser.objects.select_related("customer")
    owner_model = Customer
    tab = "auth"
    form = SipUserForm

    def save_form(self, request: HttpRequest, form: SipUserForm) -> SipUser:
        user = services.sip_user_save(user=form.save(commit=False), password=form.cleaned_data["password"])
        services.replace_rules(owner=user, rules=form.cleaned_data["rewrites"])
        return user


class _AuthDeleteView(OwnedObjectDeleteView):
    owner_model = Customer
    tab = "auth"
    consequence = ("Calls are no longer accepted with it, and its parameter rewrites are deleted too. The "
                   "deletion is kept in the customer's audit log.")


class IpAuthDeleteView(_AuthDeleteView):
    queryset = IpAuth.objects.select_related("customer")


class SipUserDeleteView(_AuthDeleteView):
    queryset = SipUser.objects.select_related("customer")


class _RewriteTestView(generic.ObjectView):
    """The Testing box: what a destination and a CLI become through the entry's saved rules, rule by rule, run by
    the switch's own rewrite code (the same path as POST /api/v1/parameter-rewrites/test/). Writes nothing, so
    every role may use it."""

    template_name = "sipauth/rewrite_test.html"
    owner_field: str

    def get_extra_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        form = RewriteTestForm(request.GET or None)
        context: dict[str, Any] = {"form": form, "rules": selectors.rewrite_rules(obj),
                                   "crumbs": [("Customers", reverse("customers:customer_list")),
                                              (str(obj.customer), auth_tab_url(obj.customer_id))]}
        if form.is_valid():
            serializer = RewritePreviewSerializer(data={self.owner_field: obj.pk, **form.cleaned_data})
            serializer.is_valid(raise_exception=True)
            try:
                context["result"] = preview(serializer.contract_rules(), **form.cleaned_data)
            except PatternError as error:
                context["error"] = str(error)
        return context


class IpAuthRewriteTestView(_RewriteTestView):
    queryset = IpAuth.objects.select_related("customer")
    owner_field = "ip_auth"


class SipUserRewriteTestView(_RewriteTestView):
    queryset = SipUser.objects.select_related("customer")
    owner_field = "sip_user"
