import django_filters

from trunkline.core.filtersets import BaseFilterSet, TagFilter
from trunkline.core.validators import COUNTRY_CHOICES, CURRENCY_CHOICES
from trunkline.customers.choices import CustomerStatus
from trunkline.customers.models import Customer


class CustomerFilterSet(BaseFilterSet):
    search_fields = ("name", "paypal_email", "website", "tags", "address_line1", "address_line2", "city", "region",
                     "postcode", "country")
    popout_exclude = ("q", "id", "status")
    popout_order = ("name", "currency", "country", "tag", "city", "region", "debit_limit__gte", "balance__gte",
                    "channels__gte", "cps__gte", "portal_access", "email_verification", "mobile_verification",
                    "approved_clis_only")

    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    paypal_email = django_filters.CharFilter(lookup_expr="icontains", label="PayPal email contains")
    website = django_filters.CharFilter(lookup_expr="icontains", label="Website contains")
    status = django_filters.MultipleChoiceFilter(choices=CustomerStatus.choices)
    currency = django_filters.MultipleChoiceFilter(choices=CURRENCY_CHOICES)
    country = django_filters.MultipleChoiceFilter(choices=COUNTRY_CHOICES)
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
