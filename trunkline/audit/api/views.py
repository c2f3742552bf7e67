from rest_framework import serializers, viewsets

from trunkline.audit.filtersets import ObjectChangeFilterSet
from trunkline.audit.models import ObjectChange


class ObjectChangeSerializer(serializers.ModelSerializer):
    object_type = serializers.CharField(source="object_type.model")
    user = serializers.CharField(source="user_name")

    class Meta:
        model = ObjectChange
        fields = ("id", "time", "user", "source", "ip", "request_id", "action", "object_type", "object_id",
                  "object_repr", "prechange_data", "postchange_data")


class ObjectChangeViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log: every create, update and delete, newest first. Read only."""

    queryset = ObjectChange.objects.select_related("object_type")
    serializer_class = ObjectChangeSerializer
    filterset_class = ObjectChangeFilterSet
    ordering_fields = ("time", "id", "user_name", "action")
