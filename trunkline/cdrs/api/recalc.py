"""POST /api/v1/cdrs/recalc/ (Recalc CDR, run by the worker), GET /api/v1/recalc-runs/ (the runs and their outcome)
and POST /api/v1/cdrs/import/ (CDRs from a CSV file with a column mapping)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trunkline.cdrs.models import RecalcOperation, RecalcRun
from trunkline.cdrs.services.csv_import import COLUMNS, MappingError, cdrs_import_csv
from trunkline.cdrs.services.recalc import recalc_request
from trunkline.core.api.exceptions import BulkValidationError, as_api_error
from trunkline.core.api.schema import ErrorSerializer
from trunkline.core.api.viewsets import csv_upload
from trunkline.core.bulk_import import ImportFileError

MAX_ID = 2**63 - 1  # the database's largest id: a larger one overflowed its integer (500)


class RecalcRequestSerializer(serializers.Serializer):
    operation = serializers.ChoiceField(choices=RecalcOperation.choices)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                        help_text="Scope: this customer's CDRs.")
    provider = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                        help_text="Scope: the CDRs of this provider.")
    cdr_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                    help_text="Scope: these CDRs.")
    date = serializers.DateField(required=False, help_text="The UTC day (or give start and end).")
    start = serializers.DateTimeField(required=False, help_text="Period start (UTC), with end (excluded).")
    end = serializers.DateTimeField(required=False)
    release_reasons = serializers.ListField(child=serializers.CharField(max_length=32), required=False,
                                            help_text="Re-rate operations: only CDRs with one of these release "
                                                      "reasons; none = all.")
    min_duration = serializers.IntegerField(required=False, min_value=1,
                                            help_text="Adjust Call Duration: calls at least this long (s)...")
    new_duration = serializers.IntegerField(required=False, min_value=0, help_text="...get this duration (s).")


class RecalcRunSerializer(serializers.ModelSerializer):
    customer = serializers.PrimaryKeyRelatedField(read_only=True)
    provider = serializers.PrimaryKeyRelatedField(read_only=True)
    job = serializers.PrimaryKeyRelatedField(read_only=True, help_text="GET /api/v1/jobs/{job}/ shows its progress.")
    status = serializers.SerializerMethodField(help_text="queued, running, done or failed (the job's).")
    progress_done = serializers.SerializerMethodField()
    progress_total = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = RecalcRun
        fields = ("id", "operation", "customer", "provider", "cdr_ids", "date", "start", "end", "release_reasons",
                  "min_duration", "new_duration", "job", "status", "progress_done", "progress_total", "cdrs_seen",
                  "cdrs_changed", "ledger_difference", "summary", "created_by", "created", "finished")

    def get_status(self, run: RecalcRun) -> str:
        if run.finished is not None:
            return "done"
        return run.job.status if run.job else "failed"

    def get_progress_done(self, run: RecalcRun) -> int:
        return run.job.progress_done if run.job else 0

    def get_progress_total(self, run: RecalcRun) -> int:
        return run.job.progress_total if run.job else 0


class RecalcView(APIView):
    """Recalc CDR (domain.md §5.4), operators and admins: the run is queued for the worker and answered at once
    (202); its progress is the job's (GET /api/v1/jobs/{job}/) and its outcome the run's (GET
    /api/v1/recalc-runs/{id}/). Re-rating writes the difference to the ledger (entries of kind "rerate"), never a
    second charge."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=RecalcRequestSerializer, responses={
        202: RecalcRunSerializer,
        400: OpenApiResponse(ErrorSerializer, description="An input is wrong for the operation (the field is "
                                                          "named); nothing is queued."),
    })
    def post(self, request: Request) -> Response:
        serializer = RecalcRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            run = recalc_request(operation=data["operation"], customer_id=data.get("customer"),
                                 provider_id=data.get("provider"), cdr_ids=data.get("cdr_ids"),
                                 date=data.get("date"), start=data.get("start"), end=data.get("end"),
                                 release_reasons=data.get("release_reasons", ()),
                                 min_duration=data.get("min_duration"), new_duration=data.get("new_duration"),
                                 actor=request.user)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        run = RecalcRun.objects.select_related("job", "created_by").get(pk=run.pk)
        return Response(RecalcRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RecalcRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Recalc runs, newest first: what was asked, how far the worker is, and the outcome."""

    queryset = RecalcRun.objects.select_related("job", "created_by").order_by("-id")
    serializer_class = RecalcRunSerializer
    filterset_fields = ("customer", "provider", "operation")
    ordering_fields = ("id", "created", "finished")


class CdrImportOptionsSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="The CSV file (multipart upload).")
    csv = serializers.CharField(required=False, trim_whitespace=False, help_text="The CSV as text.")
    columns = serializers.CharField(required=False, allow_blank=True, help_text=(
        f"Field of each column, by position, comma-separated: any of {', '.join(COLUMNS)}; '-' skips a column. "
        f"Default: {','.join(COLUMNS)}."))
    start_row = serializers.IntegerField(min_value=1, default=2, help_text="First row to read, counted as the "
                                                                           "file counts rows (2 skips a header).")


class CdrImportResultSerializer(serializers.Serializer):
    detail = serializers.CharField(source="summary")
    rows = serializers.IntegerField()
    new = serializers.IntegerField()
    duplicates = serializers.IntegerField()


class CdrImportView(APIView):
    """CDRs from a CSV file (operators and admins), rated, charged and counted as POST /api/v1/cdrs/ingest/ does
    them: a column mapping and a start row say where the fields are. Every row is checked; any error and nothing is
    written (400: errors by row, then by field). Within the upload limit (413 beyond it)."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request={"multipart/form-data": CdrImportOptionsSerializer}, responses={
        200: CdrImportResultSerializer,
        400: OpenApiResponse(ErrorSerializer, description='{"detail": ..., "errors": {"row 7": {"start": '
                                                          '["..."]}}}; nothing written.'),
        413: OpenApiResponse(ErrorSerializer, description="Over the upload limit."),
    })
    def post(self, request: Request) -> Response:
        source, _ = csv_upload(request)
        options = CdrImportOptionsSerializer(data=_options(request))
        options.is_valid(raise_exception=True)
        data = options.validated_data
        if isinstance(source, str) and not source.strip():
            raise serializers.ValidationError({"file": ["Send the CSV: a 'file' upload or a 'csv' field."]})
        try:
            result = cdrs_import_csv(source=source, columns=data.get("columns") or None,
                                     start_row=data["start_row"], actor=request.user)
        except MappingError as error:
            raise serializers.ValidationError({"columns": [str(error)]}) from error
        except ImportFileError as error:
            raise serializers.ValidationError({"file": [str(error)]}) from error
        if result.error_rows:
            raise BulkValidationError(result.summary, result.errors)
        return Response(CdrImportResultSerializer(result).data)


def _options(request: Request) -> dict[str, Any]:
    """The form or JSON fields but the file (read already by csv_upload)."""
    body = request.data
    fields = body.dict() if hasattr(body, "dict") else dict(body) if isinstance(body, dict) else {}
    fields.pop("file", None)
    fields.pop("csv", None)
    return fields
