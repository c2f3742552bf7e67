from typing import Any

from rest_framework import serializers, viewsets

from trunkline.audit.filtersets import ObjectChangeFilterSet
from trunkline.audit.models import ObjectChange


class ObjectChangeSerializer(serializers.ModelSerializer):
    object_type = serializers.CharField(source="object_type.model", help_text="The model's code, as the "
                                                                              "object_type filter takes it.")
    object_type_name = serializers.CharField(read_only=True, help_text='The model as people call it ("Rate card").')
    user = serializers.CharField(source="user_name")

    class Meta:
        model = ObjectChange
        fields = ("id", "time", "user", "source", "ip", "request_id", "action", "object_type", "object_type_name",
                  "object_id", "object_repr", "prechange_data", "postchange_data")

    def to_representation(self, instance: ObjectChange) -> dict[str, Any]:
        # Values of a model only admins read (Setup > Settings) are masked for everyone else.
        return super().to_representation(instance.seen_by(self.context["request"].user))


class ObjectChangeViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log: every create, update and delete, newest first. Read only."""

    queryset = ObjectChange.objects.select_related("object_type")
    serializer_class = ObjectChangeSerializer
    filterset_class = ObjectChangeFilterSet
    ordering_fields = ("time", "id", "user_name", "action")
