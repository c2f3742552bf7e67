from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.db.models import Model
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FileUploadParser, FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from trunkline.core.api.exceptions import BulkValidationError
from trunkline.core.api.schema import BulkAutoSchema, ErrorSerializer
from trunkline.core.bulk_import import (
    BACKGROUND_IMPORT_ROWS,
    IMPORT_JOB,
    ImportFileError,
    Source,
    import_csv,
    import_start,
)
from trunkline.core.integers import DB_INT_MAX, DB_INT_MIN, ascii_int
from trunkline.core.locking import lock_rows
from trunkline.core.models import Job
from trunkline.core.uploads import (
    Spooled,
    UploadTooLarge,
    count_lines,
    declared_too_large,
    spool,
    too_large_message,
    upload_limit,
)


class UploadTooLargeError(BulkValidationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE

    def __init__(self) -> None:
        super().__init__(too_large_message(), {"file": [too_large_message()]})


class CSVTextParser(FileUploadParser):
    """A text/csv body, copied to a temporary file as it arrives (never whole in memory); 413 past the upload
    limit."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:  # an empty body
            return {"csv": ""}
        try:
            return {"csv": spool(stream)}
        except UploadTooLarge as error:
            raise UploadTooLargeError from error


def csv_upload(request: Request) -> tuple[Source, int]:
    """The CSV of an import request (a text/csv body, a multipart `file`, or `csv` text in a form or JSON body) and
    how many lines it has; UploadTooLargeError past the upload limit, checked before the body is read where the
    request says its length."""
    if declared_too_large(request.META):
        raise UploadTooLargeError
    try:
        data = request.data
    except RequestDataTooBig as error:  # a form field over DATA_UPLOAD_MAX_MEMORY_SIZE (the same limit)
        raise UploadTooLargeError from error
    upload = data.get("file") if hasattr(data, "get") else None
    value = upload if upload is not None and hasattr(upload, "read") else (
        data.get("csv", "") if hasattr(data, "get") else "")
    if hasattr(value, "read"):
        try:
            value = spool(value)
        except UploadTooLarge as error:
            raise UploadTooLargeError from error
    if isinstance(value, Spooled):
        return value.file, value.lines
    text = str(value)
    if len(text) > upload_limit():
        raise UploadTooLargeError
    return text, count_lines(text)


class ImportOutcomeSerializer(serializers.Serializer):
    detail = serializers.CharField(source="summary")
    dry_run = serializers.BooleanField()
    written = serializers.BooleanField(help_text="True once every row is written; false for a dry run or errors.")
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    error_rows = serializers.IntegerField(help_text="Rows with errors; the first 100 are listed in `errors`.")
    errors = serializers.DictField(child=serializers.DictField(child=serializers.ListField(
        child=serializers.CharField())), help_text='{"row 7": {"name": ["..."]}}')


class ImportJobSerializer(serializers.Serializer):
    job = serializers.IntegerField(source="pk")
    status = serializers.ChoiceField(choices=Job.Status.choices)
    dry_run = serializers.BooleanField(source="payload.dry_run")
    rows = serializers.IntegerField(source="payload.rows", help_text="Rows in the file, as counted when queued.")
    progress_done = serializers.IntegerField(help_text="Steps done: rows checked, then rows checked plus written.")
    progress_total = serializers.IntegerField()
    last_error = serializers.CharField(help_text="Why the job stopped, if it did; empty otherwise.")
    finished = serializers.DateTimeField(allow_null=True)
    result = ImportOutcomeSerializer(source="payload.result", allow_null=True, default=None,
                                     help_text="The outcome once the worker is done; null until then.")


class ImportQueuedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    dry_run = serializers.BooleanField()
    job = serializers.IntegerField()
    url = serializers.URLField(help_text="GET it for the progress and, once done, the outcome.")


class ImportResponseSerializer(serializers.Serializer):
    detail = serializers.CharField()
    dry_run = serializers.BooleanField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class BulkDestroyMixin:
    """NetBox-style bulk delete: DELETE on the list URL with [{"id": ...}, ...]. All or nothing; each object goes
    through perform_destroy(), so a viewset that deletes through a service does so in bulk too.

    Bulk requests lock their rows in primary-key order before reading them (core.locking): two requests naming the
    same rows in opposite orders take turns instead of deadlocking."""

    schema = BulkAutoSchema()
    # Foreign keys whose rows saving one of these objects locks (a SIP user's save locks its customer): a bulk
    # request locks them up front, in key order too, or two requests would take them in their items' orders.
    bulk_lock_related: tuple[str, ...] = ()

    def _bulk_objects(self, request: Request) -> tuple[list[dict[str, Any]], dict[int, Model]]:
        items = request.data
        if not isinstance(items, list) or not items:
            raise serializers.ValidationError({"non_field_errors": ["Send a non-empty list of objects, each with an "
                                                                    "'id'."]})
        errors: dict[str, Any] = {}
        ids: list[int] = []
        for index, item in enumerate(items):
            object_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(object_id, int) or isinstance(object_id, bool):
                errors[str(index)] = {"id": ["Each object needs an integer 'id'."]}
            elif not DB_INT_MIN <= object_id <= DB_INT_MAX:  # no row has it, and SQLite's driver cannot take it
                errors[str(index)] = {"id": [f"No {self.get_queryset().model._meta.verbose_name} with id "
                                             f"{object_id}."]}
            else:
                ids.append(object_id)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError({"id": ["The same id appears more than once."]})
        model = self.get_queryset().model
        lock_rows(model, ids)
        objects = {obj.pk: obj for obj in self.get_queryset().filter(pk__in=ids)}
        for name in self.bulk_lock_related:
            field = model._meta.get_field(name)
            lock_rows(field.related_model, {getattr(obj, field.attname) for obj in objects.values()} - {None})
        for index, item in enumerate(items):
            if isinstance(item, dict) and item.get("id") in ids and item["id"] not in objects:
                errors[str(index)] = {"id": [f"No {self.get_queryset().model._meta.verbose_name} with id "
                                             f"{item['id']}."]}
        if errors:
            raise BulkValidationError(bulk_error_detail(errors, items), errors)
        return items, objects

    def perform_destroy(self, instance: Model) -> None:
        with transaction.atomic():
            instance.delete()

    def bulk_destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            items, objects = self._bulk_objects(request)
            for item in items:
                self.perform_destroy(objects[item["id"]])
        return Response(status=status.HTTP_204_NO_CONTENT)


class BaseModelViewSet(BulkDestroyMixin, viewsets.ModelViewSet):
    """CRUD plus NetBox-style bulk edit (PATCH/PUT on the list URL) and bulk delete (DELETE on the list URL).

    Bulk requests are all or nothing: every object is validated before any is written.
    """

    import_required_columns: tuple[str, ...] = ()

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """PUT/PATCH of one object: read, validated and written inside one transaction on the locked row, so a
        concurrent change of another field is neither overwritten nor logged as reverted."""
        with transaction.atomic():
            stale = self.get_object()  # the lookup, the 404 and the object permissions, as DRF does them
            lock_rows(type(stale), [stale.pk])
            instance = self.get_object()  # read again behind the lock: the state this change starts from
            serializer = self.get_serializer(instance, data=request.data, partial=kwargs.pop("partial", False))
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
        if getattr(instance, "_prefetched_objects_cache", None):
            instance._prefetched_objects_cache = {}  # as DRF does: a prefetch done before the write is stale
        return Response(serializer.data)

    # Bulk edit

    def bulk_update(self, request: Request, *args: Any, partial: bool = False, **kwargs: Any) -> Response:
        # One transaction from the locks to the last write: every object is validated against its locked row.
        with transaction.atomic():
            validated = self._bulk_write(request, partial)
        return Response([serializer.data for serializer in validated])

    def _bulk_write(self, request: Request, partial: bool) -> list[serializers.BaseSerializer]:
        items, objects = self._bulk_objects(request)
        validated = []
        errors: dict[str, Any] = {}
        for index, item in enumerate(items):
            data = {key: value for key, value in item.items() if key != "id"}
            serializer = self.get_serializer(objects[item["id"]], data=data, partial=partial)
            if serializer.is_valid():
                validated.append(serializer)
            else:
                errors[str(index)] = serializer.errors
        if not errors:
            _check_unique_within_request(validated, errors)
        if errors:
            raise BulkValidationError(bulk_error_detail(errors, items), errors)
        try:
            with transaction.atomic():
                for serializer in validated:
                    serializer.save()
        except IntegrityError as error:
            # A constraint the validators cannot see (or a concurrent write): a 400, never a 500, nothing written.
            raise BulkValidationError("The database refused the change; nothing was changed.",
                                      {"non_field_errors": [str(error)]}) from error
        return validated

    def bulk_partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.bulk_update(request, *args, partial=True, **kwargs)

    # CSV import

    @extend_schema(
        request={"text/csv": {"type": "string"}, "multipart/form-data": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}}},
        parameters=[OpenApiParameter("dry_run", bool, description="Only validate; write nothing.")],
        responses={
            200: ImportResponseSerializer,
            202: OpenApiResponse(ImportQueuedSerializer, description=(
                f"A file of {BACKGROUND_IMPORT_ROWS:,} lines or more is imported by the worker: poll `url` (also "
                f"the Location header) for its progress and outcome.")),
            400: OpenApiResponse(ErrorSerializer, description=(
                '{"detail": ..., "errors": {"row 7": {"name": ["..."]}}}: rows numbered as a spreadsheet shows them '
                "(header = row 1); the first 100 rows with errors are listed; nothing written.")),
            413: OpenApiResponse(ErrorSerializer, description=(
                'The file is over TRUNKLINE_UPLOAD_LIMIT: {"detail": "The upload is larger than the limit of 50 MB.", '
                '"errors": {"file": [...]}}.')),
        },
    )
    @action(detail=False, methods=["post"], url_path="import",
            parser_classes=[CSVTextParser, MultiPartParser, FormParser, JSONParser])
    def bulk_import(self, request: Request) -> Response:
        """Import a CSV whose headers are API field names; a row with `id` updates. One bad row: nothing written."""
        source, lines = csv_upload(request)
        dry_run = request.query_params.get("dry_run", "").lower() in {"1", "true", "yes"}
        options = {"serializer_class": self.get_serializer_class(), "source": source, "dry_run": dry_run,
                   "required_columns": self.import_required_columns}
        if lines >= BACKGROUND_IMPORT_ROWS:
            job = import_start(**options, rows=max(lines - 1, 0), user=request.user)
            url = reverse(f"api:{self.basename}-import-status", args=[job.pk], request=request)
            return Response({"detail": f"The file has {lines:,} lines: the worker imports it. GET the url for its "
                                       f"progress and outcome.", "dry_run": dry_run, "job": job.pk, "url": url},
                            status=status.HTTP_202_ACCEPTED, headers={"Location": url})
        try:
            result = import_csv(**options, context=self.get_serializer_context())
        except ImportFileError as error:
            raise serializers.ValidationError({"file": [str(error)]}) from error
        if result.errors:
            raise BulkValidationError(result.summary, result.errors)
        return Response({
            "detail": result.summary,
            "dry_run": dry_run,
            "created": result.created,
            "updated": result.updated,
        })

    @extend_schema(responses={200: ImportJobSerializer,
                              404: OpenApiResponse(ErrorSerializer, description="No such import.")})
    @action(detail=False, methods=["get"], url_path=r"import/(?P<job_id>[0-9]+)", url_name="import-status")
    def import_status(self, request: Request, job_id: str) -> Response:
        """A CSV import the worker runs: its progress and, once finished, its outcome (as the import answers)."""
        if not request.user.can_write:  # the outcome quotes the file's cells: for those who may import
            raise exceptions.PermissionDenied("Only operators and admins may follow an import.")
        model = self.get_queryset().model
        pk = ascii_int(job_id)
        job = Job.objects.filter(pk=pk, kind=IMPORT_JOB, payload__model=model._meta.label_lower).first() \
            if pk is not None else None
        if job is None:
            raise exceptions.NotFound(f"No import {job_id} of {model._meta.verbose_name_plural}.")
        return Response(ImportJobSerializer(job).data)


def _check_unique_within_request(validated: list[serializers.BaseSerializer], errors: dict[str, Any]) -> None:
    """Each object's unique fields were checked against the database, not against each other: two objects of
    one request given the same name would pass, then fail in the database as an IntegrityError (a 500)."""
    if not validated:
        return
    model = validated[0].Meta.model
    unique = [f.name for f in model._meta.concrete_fields if f.unique and not f.primary_key]
    claimed: dict[tuple[str, Any], int] = {}
    for index, serializer in enumerate(validated):
        for name in unique:
            if name not in serializer.validated_data:
                continue
            value = serializer.validated_data[name]
            if (name, value) in claimed:
                errors.setdefault(str(index), {}).setdefault(name, []).append(
                    f"'{value}' is also given to object {claimed[(name, value)]}.")
            else:
                claimed[(name, value)] = index


def bulk_error_detail(errors: dict[str, Any], items: list) -> str:
    first = min(errors, key=int)
    count = len(errors)
    item = items[int(first)]
    label = f"id {item['id']}" if isinstance(item, dict) and "id" in item else f"index {first}"
    return f"{count} object{'s' if count != 1 else ''} invalid (first: object {first}, {label}); nothing was changed."
