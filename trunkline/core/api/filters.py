from typing import Any

from django.db.models import Model
from rest_framework import filters, serializers


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
