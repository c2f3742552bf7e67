import django_filters
from django.db import models
from django.db.models import F

from trunkline.core.filtersets import BaseFilterSet, NumberInFilter
from trunkline.core.validators import CURRENCY_CHOICES
from trunkline.customers.filtersets import CustomerInFilter
from trunkline.routing.choices import (
    CliDirection,
    ProviderStatus,
    RateCardKind,
    RateStatus,
    Recording,
    RoutingStrategy,
    UseDid,
)
from trunkline.routing.models import CliRule, IngressRoute, Provider, Rate, RateCard, RateRevision


class ProviderFilterSet(BaseFilterSet):
    search_fields = ("name", "tech_prefix", "notes")

    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    status = django_filters.MultipleChoiceFilter(choices=ProviderStatus.choices)

    class Meta:
        model = Provider
        fields = {"channels": ["exact", "gte", "lte"], "cps": ["exact", "gte", "lte"], "tech_prefix": ["exact"]}


class RateCardFilterSet(BaseFilterSet):
    search_fields = ("name", "notes")

    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    kind = django_filters.MultipleChoiceFilter(choices=RateCardKind.choices)
    currency = django_filters.MultipleChoiceFilter(choices=CURRENCY_CHOICES)
    strategy = django_filters.MultipleChoiceFilter(choices=RoutingStrategy.choices)
    provider = NumberInFilter(field_name="provider", label="Provider IDs")
    egress_card = NumberInFilter(field_name="egress_cards", label="Has egress card IDs", distinct=True)

    class Meta:
        model = RateCard
        fields = ()


class RateRevisionFilterSet(BaseFilterSet):
    search_fields = ("note",)

    rate_card = NumberInFilter(field_name="card", label="Rate card IDs")
    active = django_filters.BooleanFilter(method="filter_active", label="Active")

    class Meta:
        model = RateRevision
        fields = {"number": ["exact"], "source": ["exact"], "date_live": ["gte", "lte"]}

    def filter_active(self, queryset: models.QuerySet, name: str, value: bool | None) -> models.QuerySet:
        if value is None:
            return queryset
        active = queryset.filter(card__active_revision=F("pk"))
        return active if value else queryset.exclude(pk__in=active.values("pk"))


class RateFilterSet(BaseFilterSet):
    """Rows of every revision unless narrowed: `?rate_card=3&active=true` is the card's live deck."""

    search_fields = ("prefix", "name")
    # Rows carry no timestamps (their revision has them).
    created__gte = None
    created__lte = None
    updated__gte = None
    updated__lte = None

    rate_card = NumberInFilter(field_name="revision__card", label="Rate card IDs")
    revision = NumberInFilter(field_name="revision", label="Revision IDs")
    prefix = django_filters.CharFilter(label="Prefix")
    prefix__startswith = django_filters.CharFilter(field_name="prefix", lookup_expr="startswith",
                                                   label="Prefix starts with")
    status = django_filters.MultipleChoiceFilter(choices=RateStatus.choices)
    active = django_filters.BooleanFilter(method="filter_active", label="On the active revision")

    class Meta:
        model = Rate
        fields = {"rate": ["exact", "gte", "lte"], "connection_fee": ["exact", "gte", "lte"]}

    def filter_active(self, queryset: models.QuerySet, name: str, value: bool | None) -> models.QuerySet:
        if value is None:
            return queryset
        condition = {"revision__card__active_revision": F("revision")}
        return queryset.filter(**condition) if value else queryset.exclude(**condition)



def _contains(label: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(lookup_expr="icontains", label=f"{label} contains")


class _SearchByCustomerName:
    """`q` also finds the rows of customers whose name matches ("acme" lists Acme's routes)."""

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        if not value.strip():
            return queryset
        return super().search(queryset, name, value) | queryset.filter(customer__name__icontains=value.strip())


class IngressRouteFilterSet(_SearchByCustomerName, BaseFilterSet):
    search_fields = ("tech_prefix", "dial_string", "public_notes", "private_notes")

    customer = CustomerInFilter()
    rate_card = NumberInFilter(field_name="rate_card", label="Rate card IDs")
    tech_prefix = django_filters.CharFilter(label="Tech prefix")
    tech_prefix__startswith = django_filters.CharFilter(field_name="tech_prefix", lookup_expr="startswith",
                                                        label="Tech prefix starts with")
    dial_string = _contains("Dial string")
    recording = django_filters.MultipleChoiceFilter(choices=Recording.choices)
    strategy = django_filters.MultipleChoiceFilter(choices=RoutingStrategy.choices)
    lock = NumberInFilter(field_name="lock", label="Locks provider card IDs", distinct=True)
    exclude = NumberInFilter(field_name="exclude", label="Excludes provider card IDs", distinct=True)
    public_notes = _contains("Public notes")
    private_notes = _contains("Private notes")

    class Meta:
        model = IngressRoute
        fields = {
            "enabled": ["exact"],
            "channels": ["exact", "gte", "lte"],
            "cps": ["exact", "gte", "lte"],
            "max_duration": ["exact", "gte", "lte"],
            "profit_assurance": ["exact"],
            "capped_rate": ["exact", "gte", "lte", "isnull"],
            "provider_capped_rate": ["exact", "gte", "lte", "isnull"],
            "block_connect_cost": ["exact"],
        }


class CliRuleFilterSet(_SearchByCustomerName, BaseFilterSet):
    search_fields = ("cli", "pai", "rewrite_cli", "rewrite_pai", "dialed_number_match", "notes")

    customer = CustomerInFilter()
    cli = _contains("CLI")
    pai = _contains("P-Asserted-ID")
    rewrite_cli = _contains("Rewrite CLI")
    rewrite_pai = _contains("Rewrite P-Asserted-ID")
    direction = django_filters.MultipleChoiceFilter(choices=CliDirection.choices)
    dialed_number_match = _contains("Dialed number match")
    use_did = django_filters.MultipleChoiceFilter(choices=UseDid.choices)
    notes = _contains("Notes")

    class Meta:
        model = CliRule
        fields = {"forced": ["exact"]}
