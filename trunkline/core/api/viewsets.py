from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FileUploadParser, FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from trunkline.core.api.exceptions import BulkValidationError
from trunkline.core.api.schema import BulkAutoSchema
from trunkline.core.bulk_import import decode_upload, import_csv
from trunkline.core.integers import DB_INT_MAX, DB_INT_MIN
from trunkline.core.locking import lock_rows


class CSVTextParser(FileUploadParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"csv": stream.read()}


class BulkDestroyMixin:
    """NetBox-style bulk delete: DELETE on the list URL with [{"id": ...}, ...]. All or nothing; each object goes
    through perform_destroy(), so a viewset that deletes through a service does so in bulk too.

    Bulk requests lock their rows in primary-key order before reading them (core.locking): two requests naming the
    same rows in opposite orders take turns instead of deadlocking."""

    schema = BulkAutoSchema()

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
        lock_rows(self.get_queryset().model, ids)
        objects = {obj.pk: obj for obj in self.get_queryset().filter(pk__in=ids)}
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
        responses={200: dict, 400: dict},
    )
    @action(detail=False, methods=["post"], url_path="import",
            parser_classes=[CSVTextParser, MultiPartParser, FormParser, JSONParser])
    def bulk_import(self, request: Request) -> Response:
        """Import a CSV whose headers are API field names; a row with `id` updates. One bad row: nothing written."""
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        raw = upload.read() if upload is not None and hasattr(upload, "read") else request.data.get("csv", b"")
        text = decode_upload(raw) if isinstance(raw, bytes) else str(raw)
        dry_run = request.query_params.get("dry_run", "").lower() in {"1", "true", "yes"}
        result = import_csv(serializer_class=self.get_serializer_class(), text=text,
                            context=self.get_serializer_context(), required_columns=self.import_required_columns,
                            dry_run=dry_run)
        if result.errors:
            raise BulkValidationError(result.summary, result.errors)
        return Response({
            "detail": result.summary,
            "dry_run": dry_run,
            "created": result.created,
            "updated": result.updated,
        })


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
