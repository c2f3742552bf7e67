import django_filters
from django.db import models
from django.db.models import Q

from trunkline.core.filtersets import BaseFilterSet, NumberInFilter, TagFilter, json_text
from trunkline.customers.filtersets import CustomerInFilter
from trunkline.sipauth.choices import Direction, NatPing, Protocol, RewriteType
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser


def _contains(label: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(lookup_expr="icontains", label=f"{label} contains")


class _SearchByCustomerName:
    """`q` also finds the entries of customers whose name matches ("acme" lists Acme's entries)."""

    customer_name_path = "customer__name"

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        if not value.strip():
            return queryset
        return (super().search(queryset, name, value)
                | queryset.filter(**{f"{self.customer_name_path}__icontains": value.strip()}))


class IpAuthFilterSet(_SearchByCustomerName, BaseFilterSet):
    # Never the password: a filter on a secret would let anyone who may read the list guess it.
    search_fields = ("ip", "manufacturer", "version", "cli_prefix", "tech_prefix", "username", "force_from")

    customer = CustomerInFilter()
    ip = _contains("IP")
    direction = django_filters.MultipleChoiceFilter(choices=Direction.choices)
    protocol = django_filters.MultipleChoiceFilter(choices=Protocol.choices)
    codec = TagFilter(field_name="codecs", label="Codec")
    manufacturer = _contains("Manufacturer")
    version = _contains("Version")
    dial_pattern = _contains("Dial pattern")
    cli_prefix = django_filters.CharFilter(label="CLI prefix")
    tech_prefix = django_filters.CharFilter(label="Tech prefix")
    force_from = _contains("Force from")
    username = _contains("Username")

    class Meta:
        model = IpAuth
        fields = {
            "channels": ["exact", "gte", "lte"],
            "cps": ["exact", "gte", "lte"],
            "port": ["exact"],
            "strip_digits": ["exact", "gte", "lte"],
            "bandwidth": ["exact", "gte", "lte"],
            "force_nat": ["exact"],
            "intercept_reinvite": ["exact"],
            "cli_authentication": ["exact"],
        }


class SipUserFilterSet(_SearchByCustomerName, BaseFilterSet):
    search_fields = ("username", "voicemail_email")

    customer = CustomerInFilter()
    username = _contains("Username")
    nat_ping = django_filters.MultipleChoiceFilter(choices=NatPing.choices)
    voicemail_email = _contains("Voicemail email")
    ip_whitelist = django_filters.CharFilter(method="filter_ip", label="IP whitelist contains")

    class Meta:
        model = SipUser
        fields = {
            "channels": ["exact", "gte", "lte"],
            "cps": ["exact", "gte", "lte"],
            "voicemail_enabled": ["exact"],
        }

    def filter_ip(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        return queryset.filter(ip_whitelist__icontains=json_text(value.strip())) if value.strip() else queryset


class ParameterRewriteFilterSet(BaseFilterSet):
    search_fields = ("match", "replace")

    customer = CustomerInFilter(method="filter_customer")
    ip_auth = NumberInFilter(field_name="ip_auth", label="IP authentication IDs")
    sip_user = NumberInFilter(field_name="sip_user", label="SIP user IDs")
    type = django_filters.MultipleChoiceFilter(choices=RewriteType.choices)
    match = _contains("Match")
    replace = _contains("Replace")

    class Meta:
        model = ParameterRewrite
        fields = {"order": ["exact", "gte", "lte"]}

    def filter_customer(self, queryset: models.QuerySet, name: str, value: list) -> models.QuerySet:
        # A rule belongs to a customer through its IP-auth entry or its SIP user.
        if not value:
            return queryset
        return queryset.filter(Q(ip_auth__customer__in=value) | Q(sip_user__customer__in=value))
