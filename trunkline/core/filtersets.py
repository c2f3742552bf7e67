from functools import reduce
from operator import or_

import django_filters
from django.db import models
from django.db.models import Q

from trunkline.core.models import User


class BaseFilterSet(django_filters.FilterSet):
    """`q` searches `search_fields`; `id` takes several values; created and updated take ranges."""

    search_fields: tuple[str, ...] = ()

    q = django_filters.CharFilter(method="search", label="Search")
    id = django_filters.BaseInFilter(field_name="id", label="IDs")
    created__gte = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte", label="Created after")
    created__lte = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lte", label="Created before")
    updated__gte = django_filters.IsoDateTimeFilter(field_name="updated", lookup_expr="gte", label="Updated after")
    updated__lte = django_filters.IsoDateTimeFilter(field_name="updated", lookup_expr="lte", label="Updated before")

    # Filters the Filters popout leaves out (the search box and the status drop-down already show them).
    popout_exclude: tuple[str, ...] = ("q", "id")

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(reduce(or_, (Q(**{f"{field}__icontains": value}) for field in self.search_fields)))

    @property
    def popout_fields(self):
        return [self.form[name] for name in self.form.fields if name not in self.popout_exclude]


class TagFilter(django_filters.CharFilter):
    """Objects carrying a tag (exact, case-insensitive), on a JSON list column, on SQLite and PostgreSQL alike."""

    def filter(self, qs: models.QuerySet, value: str) -> models.QuerySet:
        value = (value or "").strip()
        if not value:
            return qs
        # The JSON text of the list holds "tag" with its quotes; matching the quoted form avoids partial words.
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return qs.filter(**{f"{self.field_name}__icontains": quoted})


class UserFilterSet(BaseFilterSet):
    search_fields = ("username", "first_name", "last_name", "email")

    username = django_filters.CharFilter(lookup_expr="icontains", label="Username contains")
    email = django_filters.CharFilter(lookup_expr="icontains", label="Email contains")

    class Meta:
        model = User
        fields = {"role": ["exact"], "is_active": ["exact"]}
