from typing import Any

import django_filters
from django.db import models
from django.db.models import Q

from trunkline.core.filtersets import BaseFilterSet, DateTimeFilter, IntegerFilter, NumberInFilter, TagFilter, json_text
from trunkline.core.integers import ascii_int
from trunkline.core.validators import COUNTRY_CHOICES, CURRENCY_CHOICES
from trunkline.customers.choices import ContactType, CustomerStatus, DeliveryStatus, MessageChannel
from trunkline.customers.models import Contact, Customer, Message, MessageDelivery, NumberBlock


class CustomerFilterSet(BaseFilterSet):
    # distinct=False on the choice filters: customers join nothing, and DISTINCT would make the database
    # de-duplicate every column of every matching row for the page and its count.
    search_fields = ("name", "paypal_email", "website", "tags", "address_line1", "address_line2", "city", "region",
                     "postcode", "country")
    popout_exclude = ("q", "id", "status")
    popout_order = ("name", "currency", "country", "tag", "city", "region", "debit_limit__gte", "balance__gte",
                    "channels__gte", "cps__gte", "portal_access", "email_verification", "mobile_verification",
                    "approved_clis_only")

    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    paypal_email = django_filters.CharFilter(lookup_expr="icontains", label="PayPal email contains")
    website = django_filters.CharFilter(lookup_expr="icontains", label="Website contains")
    status = django_filters.MultipleChoiceFilter(choices=CustomerStatus.choices, distinct=False)
    currency = django_filters.MultipleChoiceFilter(choices=CURRENCY_CHOICES, distinct=False)
    country = django_filters.MultipleChoiceFilter(choices=COUNTRY_CHOICES, distinct=False)
    address_line1 = django_filters.CharFilter(lookup_expr="icontains", label="Address line 1 contains")
    address_line2 = django_filters.CharFilter(lookup_expr="icontains", label="Address line 2 contains")
    city = django_filters.CharFilter(lookup_expr="icontains", label="City contains")
    region = django_filters.CharFilter(lookup_expr="icontains", label="Region contains")
    postcode = django_filters.CharFilter(lookup_expr="icontains", label="Postcode contains")
    tag = TagFilter(field_name="tags", label="Tag")
    vars = django_filters.CharFilter(lookup_expr="icontains", label="Vars (TOML) contain")
    notes = django_filters.CharFilter(lookup_expr="icontains", label="Private notes contain")

    class Meta:
        model = Customer
        fields = {
            "debit_limit": ["exact", "gte", "lte"],
            "minimum_payment": ["exact", "gte", "lte"],
            "tax_rate": ["exact", "gte", "lte"],
            "balance": ["exact", "gte", "lte"],
            "channels": ["exact", "gte", "lte"],
            "cps": ["exact", "gte", "lte"],
            "portal_access": ["exact"],
            "email_verification": ["exact"],
            "mobile_verification": ["exact"],
            "approved_clis_only": ["exact"],
        }


class CustomerInFilter(NumberInFilter):
    """`?customer=3` or `?customer=3,7`: ids, never a select of every customer (there may be 100k)."""

    def __init__(self, field_name: str = "customer", label: str = "Customer IDs", **kwargs: Any) -> None:
        super().__init__(field_name=field_name, label=label, **kwargs)


class ContactFilterSet(BaseFilterSet):
    search_fields = ("name", "email", "phone", "mobile", "public_notes", "private_notes")

    customer = CustomerInFilter()
    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    email = django_filters.CharFilter(lookup_expr="icontains", label="Email contains")
    phone = django_filters.CharFilter(lookup_expr="icontains", label="Phone contains")
    mobile = django_filters.CharFilter(lookup_expr="icontains", label="Mobile contains")
    contact_type = django_filters.MultipleChoiceFilter(choices=ContactType.choices)
    public_notes = django_filters.CharFilter(lookup_expr="icontains", label="Public notes contain")
    private_notes = django_filters.CharFilter(lookup_expr="icontains", label="Private notes contain")
    ip_whitelist = django_filters.CharFilter(method="filter_ip", label="IP whitelist contains")

    class Meta:
        model = Contact
        fields = {"email_verified": ["exact"], "mobile_verified": ["exact"]}

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        # Also by the customer's name: "acme" finds Acme's contacts.
        if not value.strip():
            return queryset
        return super().search(queryset, name, value) | queryset.filter(customer__name__icontains=value.strip())

    def filter_ip(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        return queryset.filter(ip_whitelist__icontains=json_text(value.strip())) if value.strip() else queryset


class NumberBlockFilterSet(BaseFilterSet):
    customer = CustomerInFilter()
    number = IntegerFilter(method="filter_number", label="Holds number")

    class Meta:
        model = NumberBlock
        fields = {"start": ["exact", "gte", "lte"], "end": ["exact", "gte", "lte"]}

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        # A number finds the block holding it ("who has extension 2345?"); text finds blocks by customer name.
        value = value.strip()
        if not value:
            return queryset
        condition = Q(customer__name__icontains=value)
        number = ascii_int(value)
        if number is not None:
            condition |= Q(start__lte=number, end__gte=number)
        return queryset.filter(condition)

    def filter_number(self, queryset: models.QuerySet, name: str, value) -> models.QuerySet:
        return queryset if value is None else queryset.filter(start__lte=value, end__gte=value)


class MessageFilterSet(BaseFilterSet):
    search_fields = ("subject", "body")

    customer = CustomerInFilter(method="filter_customer")
    channel = django_filters.MultipleChoiceFilter(choices=MessageChannel.choices)
    created_by = NumberInFilter(field_name="created_by", label="Sent by (user IDs)")

    class Meta:
        model = Message
        fields = ()

    def filter_customer(self, queryset: models.QuerySet, name: str, value: list) -> models.QuerySet:
        # A subquery, not a join: joining the deliveries would multiply the delivery counts the API annotates.
        if not value:
            return queryset
        return queryset.filter(pk__in=MessageDelivery.objects.filter(customer__in=value).values("message"))


class MessageDeliveryFilterSet(BaseFilterSet):
    search_fields = ("recipient", "subject", "body", "error")
    # A delivery is never edited, so it has no `updated`: drop the inherited range filters on it.
    updated__gte = None
    updated__lte = None

    customer = CustomerInFilter()
    message = NumberInFilter(field_name="message", label="Message IDs")
    contact = NumberInFilter(field_name="contact", label="Contact IDs")
    channel = django_filters.MultipleChoiceFilter(field_name="message__channel", choices=MessageChannel.choices)
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    recipient = django_filters.CharFilter(lookup_expr="icontains", label="Recipient contains")
    error = django_filters.CharFilter(lookup_expr="icontains", label="Error contains")
    sent_at__gte = DateTimeFilter(field_name="sent_at", lookup_expr="gte", label="Sent after")
    sent_at__lte = DateTimeFilter(field_name="sent_at", lookup_expr="lte", label="Sent before")

    class Meta:
        model = MessageDelivery
        fields = ("provider_id",)
