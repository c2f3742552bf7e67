from typing import Any

from django import forms
from django.db.models import Model, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import SuffixedMultiWidget
from rest_framework import filters, serializers
from rest_framework.request import Request
from rest_framework.settings import api_settings


def secret_fields(model: type[Model]) -> frozenset[str]:
    """The model's secrets (passwords, hashes, HA1, PINs): the fields the audit log masks."""
    return frozenset(getattr(model, "audit_masked_fields", ()))


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=field,-other` over the view's `ordering_fields` only: an explicit allow-list per resource.

    Sorting on a write-only secret is an oracle (sort beside a probe entry you wrote, read where yours lands,
    repeat): so the allow-list is explicit, never "any field", never holds a secret, and an ordering outside it
    answers 400 instead of being dropped silently (a client would take the unsorted page for a sorted one).
    """

    def allowed(self, view: Any, model: type[Model] | None) -> list[str]:
        # No ordering_fields, no ordering: a new resource must choose its list before it can be sorted.
        names = getattr(view, "ordering_fields", None) or ()
        secrets = secret_fields(model) if model is not None else frozenset()
        return [name for name in names if name not in secrets]  # a secret listed by mistake stays refused

    def get_valid_fields(self, queryset, view, context=None) -> list[tuple[str, str]]:
        return [(name, name) for name in self.allowed(view, queryset.model)]

    def get_ordering(self, request, queryset, view) -> list[str] | None:
        params = request.query_params.get(self.ordering_param, "").strip()
        if not params:
            return self.get_default_ordering(view)
        allowed = self.allowed(view, queryset.model)
        ordering = [term.strip() for term in params.split(",")]
        refused = [term for term in ordering if term.removeprefix("-") not in allowed]
        if refused:
            choices = ", ".join(allowed) if allowed else "nothing: this list has one fixed order"
            raise serializers.ValidationError({self.ordering_param: [
                f"Cannot order by {refused[0]!r}. Order by {choices} (a leading '-' for descending)."]})
        if {"pk", "-pk", "id", "-id"} & set(ordering):
            return ordering
        # A total order, as the board has: ties on ?ordering=status would otherwise come back in whatever order
        # the database likes, and limit/offset pages would repeat or skip rows.
        return [*ordering, "pk"]

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        queryset = getattr(view, "queryset", None)
        allowed = self.allowed(view, queryset.model if queryset is not None else None)
        if not allowed:
            return []
        return [{
            "name": self.ordering_param,
            "required": False,
            "in": "query",
            "description": f"Order by one or more of: {', '.join(allowed)}; comma-separated, a leading '-' for "
                           f"descending. Any other field answers 400.",
            "style": "form",
            "explode": False,
            "schema": {"type": "array", "items": {
                "type": "string", "enum": [term for name in allowed for term in (name, f"-{name}")]}},
        }]


def _parameter_names(name: str, widget: forms.Widget) -> list[str]:
    """The query parameters one filter reads: a range's two ends (`price_min`, `price_max`), else its name."""
    if isinstance(widget, SuffixedMultiWidget):
        return [widget.suffixed(name, suffix) for suffix in widget.suffixes]
    if isinstance(widget, forms.MultiWidget):
        return [f"{name}{suffix}" for suffix in widget.widgets_names]
    return [name]


def list_parameters(request: Request, queryset: QuerySet, view: Any, filterset_class: Any) -> tuple[set[str], set[str]]:
    """The query parameters a list takes: (its filters, the rest: paging, ordering, format, the view's own)."""
    filters_: set[str] = set()
    if filterset_class is not None:
        form = filterset_class(data=None, queryset=queryset, request=request).form
        filters_ = {param for name, field in form.fields.items() for param in _parameter_names(name, field.widget)}
    other = {api_settings.URL_FORMAT_OVERRIDE} - {None}
    paginator = getattr(view, "paginator", None)
    for attribute in ("limit_query_param", "offset_query_param", "page_query_param", "page_size_query_param",
                      "cursor_query_param"):
        other.add(getattr(paginator, attribute, None))
    for backend in getattr(view, "filter_backends", ()):
        other.add(getattr(backend, "ordering_param", None))
        other.add(getattr(backend, "search_param", None))
    other |= set(getattr(view, "list_query_params", ()))
    return filters_, other - {None}


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, except that a list refuses a query parameter it does not know (400 naming it):
    a misspelt filter (`?staus=active`) would otherwise be dropped and the whole, unfiltered list taken for the
    answer. Only lists are checked; a detail or an action reads its own parameters (`?revision=` of an export)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        if getattr(view, "action", None) == "list":
            filterset_class = self.get_filterset_class(view, queryset)
            known_filters, other = list_parameters(request, queryset, view, filterset_class)
            unknown = [name for name in request.query_params if name not in known_filters | other]
            if unknown:
                takes = ", ".join(sorted(known_filters)) or "no filter"
                raise serializers.ValidationError({name: [
                    f"Unknown query parameter {name!r}. This list filters by {takes}; it also takes "
                    f"{', '.join(sorted(other))}."] for name in unknown})
        return super().filter_queryset(request, queryset, view)
