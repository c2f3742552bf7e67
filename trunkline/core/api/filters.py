from rest_framework import filters


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=field` or `-field` on any concrete field of the model, unless the view narrows it."""

    def get_valid_fields(self, queryset, view, context=None):
        if getattr(view, "ordering_fields", None):
            return super().get_valid_fields(queryset, view, context or {})
        return [(field.name, field.verbose_name) for field in queryset.model._meta.concrete_fields]
