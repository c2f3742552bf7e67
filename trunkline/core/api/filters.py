from rest_framework import filters


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=field` or `-field` on any concrete field of the model, unless the view narrows it."""

    def get_valid_fields(self, queryset, view, context=None):
        if getattr(view, "ordering_fields", None):
            return super().get_valid_fields(queryset, view, context or {})
        return [(field.name, field.verbose_name) for field in queryset.model._meta.concrete_fields]

    def get_ordering(self, request, queryset, view) -> list[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or {"pk", "-pk", "id", "-id"} & set(ordering):
            return ordering
        # A total order, as the board has: ties on ?ordering=status would otherwise come back in whatever order
        # the database likes, and limit/offset pages would repeat or skip rows.
        return [*ordering, "pk"]
