import django_filters
from django import forms
from django.apps import apps

from trunkline.audit.models import ObjectChange
from trunkline.core.filtersets import DateTimeFilter, IntegerFilter, PopoutMixin
from trunkline.core.models import ChangeLoggedModel


def logged_model_choices() -> list[tuple[str, str]]:
    """Every change-logged model, by the name the API filter takes (customer, contact, user, ...)."""
    models = [m for m in apps.get_models() if issubclass(m, ChangeLoggedModel)]
    return sorted((m._meta.model_name, str(m._meta.verbose_name).capitalize()) for m in models)


class ObjectChangeFilterSet(PopoutMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="object_repr", lookup_expr="icontains", label="Object")
    # Free text for the API (any case); a drop-down of the logged models in the Filters popout.
    object_type = django_filters.CharFilter(field_name="object_type__model", lookup_expr="iexact",
                                            label="Object type", help_text="The model's name, such as customer.",
                                            widget=forms.Select(choices=lambda: [("", "Any"),
                                                                                 *logged_model_choices()]))
    object_id = IntegerFilter(label="Object ID")
    user = django_filters.CharFilter(field_name="user_name", label="User")
    action = django_filters.MultipleChoiceFilter(choices=ObjectChange.Action.choices)
    source = django_filters.CharFilter()
    request_id = django_filters.UUIDFilter()
    time__gte = DateTimeFilter(field_name="time", lookup_expr="gte", label="After")
    time__lte = DateTimeFilter(field_name="time", lookup_expr="lte", label="Before")

    popout_exclude = ("q",)
    popout_order = ("object_type", "object_id", "user", "action", "time__gte", "time__lte")

    class Meta:
        model = ObjectChange
        fields = ()
