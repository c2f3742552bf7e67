import django_filters

from trunkline.audit.models import ObjectChange


class ObjectChangeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="object_repr", lookup_expr="icontains", label="Object")
    object_type = django_filters.CharFilter(field_name="object_type__model", lookup_expr="iexact",
                                            label="Object type", help_text="The model's name, such as customer.")
    object_id = django_filters.NumberFilter()
    user = django_filters.CharFilter(field_name="user_name", label="User")
    action = django_filters.MultipleChoiceFilter(choices=ObjectChange.Action.choices)
    source = django_filters.CharFilter()
    request_id = django_filters.UUIDFilter()
    time__gte = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="gte", label="After")
    time__lte = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="lte", label="Before")

    popout_exclude = ("q",)

    class Meta:
        model = ObjectChange
        fields = ()

    @property
    def popout_fields(self):
        return [self.form[name] for name in self.form.fields if name not in self.popout_exclude]
