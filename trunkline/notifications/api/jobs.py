"""GET /api/v1/jobs/: the background job queue (operators and admins); POST {id}/retry/ queues a failed job again."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from trunkline.core.api.permissions import RolePermission
from trunkline.core.models import Job
from trunkline.notifications.jobs import retry_job


class OperatorsOnly(BasePermission):
    """Jobs carry import payloads and raw errors: not for viewers, like the page under Setup."""

    message = "Only operators and admins may see or retry background jobs."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.can_write)


class BackgroundJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ("id", "kind", "status", "attempts", "progress_done", "progress_total", "last_error", "run_after",
                  "created", "finished")


class JobFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Job.Status.choices)
    kind = django_filters.CharFilter(help_text="The job's kind, such as routing.publish_snapshot.")

    class Meta:
        model = Job
        fields = ()


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Background jobs, newest first: `?status=failed` lists those the worker gave up on, with their last error."""

    queryset = Job.objects.order_by("-id")
    serializer_class = BackgroundJobSerializer
    filterset_class = JobFilterSet
    permission_classes = [RolePermission, OperatorsOnly]
    ordering_fields = ("id", "created", "finished", "attempts")

    @extend_schema(request=None, responses=BackgroundJobSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Queue a failed job again with its attempts reset; logged in the audit log under the operator."""
        job = retry_job(self.get_object().pk)
        return Response(BackgroundJobSerializer(job).data)
