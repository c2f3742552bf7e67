"""GET /api/v1/calls/ (call records), GET /api/v1/dialogs/ (live calls), POST /api/v1/dialogs/end/ (End Calls)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from trunkline.cdrs.api.serializers import (
    CallRecordSerializer,
    DialogEndResultSerializer,
    DialogEndSerializer,
    DialogSerializer,
)
from trunkline.cdrs.filtersets import CallRecordFilterSet, DialogFilterSet
from trunkline.cdrs.models import CallRecord
from trunkline.cdrs.selectors import live_dialogs
from trunkline.cdrs.services.dialogs import dialogs_end
from trunkline.core.api.exceptions import as_api_error
from trunkline.core.api.schema import ErrorSerializer


class CallRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Call records, newest first: one per call the switch decided, merged from its spool by the worker."""

    queryset = CallRecord.objects.select_related("customer", "provider").order_by("-attempted_at", "-id")
    serializer_class = CallRecordSerializer
    filterset_class = CallRecordFilterSet
    ordering_fields = ("id", "attempted_at", "answered_at", "ended_at", "customer", "sip_code", "state", "duration",
                       "pdd_ms", "cli", "dst")


class DialogViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Live calls (routed, ringing or answered, not past the switch's expiry), oldest first; End Calls."""

    queryset = CallRecord.objects.none()  # the live set is read per request (its expiry is against now)
    serializer_class = DialogSerializer
    filterset_class = DialogFilterSet
    ordering_fields = ("id", "attempted_at", "answered_at", "customer", "state", "cli", "dst")

    def get_queryset(self) -> QuerySet[CallRecord]:
        return live_dialogs()

    @extend_schema(request=DialogEndSerializer, responses={
        200: DialogEndResultSerializer,
        400: OpenApiResponse(ErrorSerializer, description="An id is unknown, no longer live, or its dialog was "
                                                          "not reported by the edge: nothing was sent."),
    })
    @action(detail=False, methods=["post"], url_path="end", filter_backends=[], pagination_class=None,
            parser_classes=[JSONParser])
    def end(self, request: Request) -> Response:
        """End live calls through Kamailio (JSON-RPC dlg.end_dlg); they then end with release reason "MI
        Termination". Operators and admins only. Every id is checked first: one that cannot be ended is a 400
        naming it, and then no dialog is ended."""
        serializer = DialogEndSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = dialogs_end(ids=serializer.validated_data["ids"])
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return Response(DialogEndResultSerializer(result).data)
