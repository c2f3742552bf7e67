from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Prefetch, ProtectedError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from trunkline.core.api.exceptions import BulkValidationError, as_api_error
from trunkline.core.api.viewsets import BaseModelViewSet, CSVTextParser, bulk_error_detail, csv_upload
from trunkline.core.bulk_import import ImportFileError, decode_upload
from trunkline.core.integers import ascii_int
from trunkline.customers.models import Customer
from trunkline.routing.api.serializers import (
    CliRuleSerializer,
    CliTestResultSerializer,
    CliTestSerializer,
    IngressRouteSerializer,
    ProviderSerializer,
    RateCardSerializer,
    RateDiffSerializer,
    RateImportResultSerializer,
    RateImportSerializer,
    RateRevisionSerializer,
    RateSerializer,
    RevisionActivateSerializer,
    TechPrefixSerializer,
)
from trunkline.routing.filtersets import (
    CliRuleFilterSet,
    IngressRouteFilterSet,
    ProviderFilterSet,
    RateCardFilterSet,
    RateFilterSet,
    RateRevisionFilterSet,
)
from trunkline.routing.models import CliRule, IngressRoute, Provider, Rate, RateCard, RateRevision
from trunkline.routing.ratefile import RateValues
from trunkline.routing.selectors import cli_rules_evaluate, rate_csv_lines
from trunkline.routing.services.ratecards import (
    rate_card_delete,
    rate_card_edit,
    rate_card_import,
    rate_card_rollback,
    rate_revision_activate,
)
from trunkline.routing.services.routes import cli_rule_delete, generate_tech_prefix
from trunkline.switch.cli import REJECT_CODE, REJECT_REASON


class ProviderViewSet(BaseModelViewSet):
    queryset = Provider.objects.all()
    serializer_class = ProviderSerializer
    filterset_class = ProviderFilterSet
    ordering_fields = ("id", "name", "status", "channels", "cps", "tech_prefix", "created", "updated")
    import_required_columns = ("name",)

    def perform_destroy(self, instance: Provider) -> None:
        try:
            with transaction.atomic():
                instance.delete()
        except ProtectedError as error:
            cards = ", ".join(sorted(str(card) for card in error.protected_objects))
            raise serializers.ValidationError({"id": [f"{instance} still has rate cards ({cards}); delete them "
                                                      f"first."]}) from error


class RateCardViewSet(BaseModelViewSet):
    queryset = RateCard.objects.select_related("active_revision").prefetch_related("egress_cards")
    serializer_class = RateCardSerializer
    filterset_class = RateCardFilterSet
    ordering_fields = ("id", "name", "kind", "currency", "provider", "strategy", "created", "updated")
    import_required_columns = ("name", "kind", "currency")

    def perform_destroy(self, instance: RateCard) -> None:
        try:
            rate_card_delete(card=instance)
        except ProtectedError as error:
            raise serializers.ValidationError({"id": [error.args[0]]}) from error

    @extend_schema(
        operation_id="rate_cards_import_rates",  # beside the generic rate_cards_import_create of card CSVs
        request={"text/csv": {"type": "string"}, "multipart/form-data": RateImportSerializer,
                 "application/json": RateImportSerializer},
        parameters=[OpenApiParameter(name, type_, description=RateImportSerializer().fields[name].help_text)
                    for name, type_ in (("start_row", int), ("columns", str), ("activate", bool),
                                        ("date_live", OpenApiTypes.DATETIME), ("dry_run", bool), ("note", str))],
        responses={200: RateImportResultSerializer, 400: OpenApiResponse(description=(
            '{"detail": ..., "errors": {"row 7": {"prefix": ["Prefix 44 is on rows 3 and 7; ..."]}}}: rows '
            "numbered as the file counts them; nothing written, nothing activated."))},
    )
    @action(detail=True, methods=["post"], url_path="import", url_name="import-rates",
            parser_classes=[CSVTextParser, MultiPartParser, FormParser, JSONParser])
    def import_rates(self, request: Request, pk: str | None = None) -> Response:
        """Import a rate deck (CSV) as a new revision: a start row and a column mapping say where the rows are.

        Options come as query parameters (with a text/csv body) or as form/JSON fields beside the file. Every
        row is checked first; any error and nothing is written or activated.
        """
        card = self.get_object()
        source, _ = csv_upload(request)
        try:
            text = source if isinstance(source, str) else decode_upload(source.read())
        except ImportFileError as error:
            raise serializers.ValidationError({"file": [str(error)]}) from error
        options = RateImportSerializer(data=_import_options(request, text))
        options.is_valid(raise_exception=True)
        data = options.validated_data
        try:
            result = rate_card_import(card=card, text=text, start_row=data["start_row"], columns=data.get("columns"),
                                      activate=data["activate"], date_live=data["date_live"],
                                      dry_run=data["dry_run"], note=data["note"])
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        if result.errors:
            raise BulkValidationError(result.summary, result.errors)
        return Response({
            "detail": result.summary,
            "dry_run": result.dry_run,
            "rows": len(result.parsed.rows),
            "activated": result.activated,
            "revision": RateRevisionSerializer(result.revision, context=self.get_serializer_context()).data
            if result.revision else None,
            "difference": RateDiffSerializer(result.diff).data if result.diff else None,
        })

    @extend_schema(parameters=[OpenApiParameter("revision", int, description="Revision number; default: the "
                                                                             "active one.")],
                   responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        """The rows of a revision as CSV, in the layout the import reads by default."""
        card = self.get_object()
        number = request.query_params.get("revision")
        if number is None:
            revision = card.active_revision
            if revision is None:
                raise serializers.ValidationError({"revision": ["The card has no active revision; name one."]})
        else:
            revision = card.revisions.filter(number=number).first() if ascii_int(number) is not None else None
            if revision is None:
                raise serializers.ValidationError({"revision": [f"The card has no revision {number}."]})
        response = StreamingHttpResponse(rate_csv_lines(revision=revision), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="rate-card-{card.pk}-r{revision.number}.csv"'
        return response

    @extend_schema(request=None, responses={200: RateRevisionSerializer})
    @action(detail=True, methods=["post"], url_path="rollback")
    def rollback(self, request: Request, pk: str | None = None) -> Response:
        """Make the revision that was live before the active one active again."""
        try:
            revision = rate_card_rollback(card=self.get_object())
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return Response(RateRevisionSerializer(revision, context=self.get_serializer_context()).data)


def _import_options(request: Request, text: str) -> dict[str, Any]:
    """Query parameters, overridden by body fields; the CSV (file, body or field) as `csv` text, when sent."""
    options: dict[str, Any] = request.query_params.dict()
    body = request.data
    if hasattr(body, "dict"):  # a form: one value per field
        options.update(body.dict())
    elif isinstance(body, dict):
        options.update(body)
    if options.pop("file", None) is not None or "file" in request.FILES or "csv" in options:
        options["csv"] = text
    return options


class RateRevisionViewSet(viewsets.ReadOnlyModelViewSet):
    """A card's revisions; POST .../activate/ makes one active now or at a future date_live."""

    queryset = RateRevision.objects.select_related("card")
    serializer_class = RateRevisionSerializer
    filterset_class = RateRevisionFilterSet
    ordering_fields = ("id", "number", "source", "row_count", "date_live", "activated_at", "created")

    @extend_schema(request=RevisionActivateSerializer, responses={200: RateRevisionSerializer})
    @action(detail=True, methods=["post"], url_path="activate")
    def activate(self, request: Request, pk: str | None = None) -> Response:
        revision = self.get_object()
        options = RevisionActivateSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        try:
            rate_revision_activate(revision=revision, date_live=options.validated_data["date_live"])
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        revision = self.get_queryset().get(pk=revision.pk)
        return Response(self.get_serializer(revision).data)


class RateViewSet(BaseModelViewSet):
    """Rate rows. Every write (one row or a bulk edit or delete) makes one new active revision per card,
    copied from the active one; decks are imported through /rate-cards/{id}/import/."""

    queryset = Rate.objects.select_related("revision__card")
    serializer_class = RateSerializer
    filterset_class = RateFilterSet
    ordering_fields = ("id", "revision", "prefix", "name", "rate", "connection_fee", "mcd", "pulse", "grace", "status")
    # Row-by-row CSV import would make a revision per row: decks go through the card's import.
    bulk_import = None
    import_status = None

    def perform_destroy(self, instance: Rate) -> None:
        self._edit({instance.revision.card: ([], [instance])})

    @transaction.atomic  # _bulk_objects locks the rows (SELECT ... FOR UPDATE needs a transaction)
    def bulk_update(self, request: Request, *args: Any, partial: bool = False, **kwargs: Any) -> Response:
        items, objects = self._bulk_objects(request)
        errors: dict[str, Any] = {}
        validated: list[RateSerializer] = []
        for index, item in enumerate(items):
            data = {key: value for key, value in item.items() if key != "id"}
            serializer = self.get_serializer(objects[item["id"]], data=data, partial=partial)
            if serializer.is_valid():
                validated.append(serializer)
            else:
                errors[str(index)] = serializer.errors
        if errors:
            raise BulkValidationError(bulk_error_detail(errors, items), errors)
        changes: dict[RateCard, tuple[list[RateValues], list[Rate]]] = defaultdict(lambda: ([], []))
        for serializer in validated:
            values = serializer.values()
            upserts, deletes = changes[serializer.instance.revision.card]
            upserts.append(values)
            if values.prefix != serializer.instance.prefix:
                deletes.append(serializer.instance)
        revisions = self._edit(changes)
        rows = [Rate.objects.select_related("revision").get(revision=revisions[s.instance.revision.card_id],
                                                            prefix=s.values().prefix) for s in validated]
        return Response([self.get_serializer(row).data for row in rows])

    @transaction.atomic  # as bulk_update
    def bulk_destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        items, objects = self._bulk_objects(request)
        changes: dict[RateCard, tuple[list[RateValues], list[Rate]]] = defaultdict(lambda: ([], []))
        for item in items:
            row = objects[item["id"]]
            changes[row.revision.card][1].append(row)
        self._edit(changes)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def _edit(changes: dict[RateCard, tuple[list[RateValues], list[Rate]]]) -> dict[int, RateRevision]:
        """One new revision per card; rows must be on their card's active revision."""
        for card, (_, deleted) in changes.items():
            stale = [row for row in deleted if row.revision_id != card.active_revision_id]
            if stale:
                raise serializers.ValidationError({"id": [
                    f"Row {stale[0].pk} is on revision {stale[0].revision.number} of {card}, which is not active; "
                    f"rows of inactive revisions are history."]})
        try:
            with transaction.atomic():
                return {card.pk: rate_card_edit(card=card, upserts=upserts, deletes=[row.prefix for row in deleted])
                        for card, (upserts, deleted) in changes.items()}
        except DjangoValidationError as error:
            raise as_api_error(error) from error


class IngressRouteViewSet(BaseModelViewSet):
    # The lists are shown as ids: fetch no more than that.
    queryset = IngressRoute.objects.select_related("customer", "rate_card").prefetch_related(
        Prefetch("lock", queryset=RateCard.objects.only("pk")),
        Prefetch("exclude", queryset=RateCard.objects.only("pk")))
    serializer_class = IngressRouteSerializer
    filterset_class = IngressRouteFilterSet
    ordering_fields = ("id", "customer", "rate_card", "tech_prefix", "enabled", "channels", "cps", "max_duration",
                       "recording", "profit_assurance", "capped_rate", "provider_capped_rate", "strategy", "created",
                       "updated")
    import_required_columns = ("customer", "rate_card")

    @extend_schema(request=None, parameters=[OpenApiParameter("customer", int, required=True)],
                   responses={200: TechPrefixSerializer})
    @action(detail=False, methods=["post"], url_path="generate-tech-prefix", url_name="generate-tech-prefix")
    def new_tech_prefix(self, request: Request) -> Response:
        """A random tech prefix that none of the customer's routes uses (nor starts, nor extends)."""
        value = request.query_params.get("customer", "")
        customer = Customer.objects.filter(pk=value).first() if ascii_int(value) is not None else None
        if customer is None:
            raise serializers.ValidationError({"customer": [f"No customer with id {value!r}." if value else
                                                            "Name the customer: ?customer=<id>."]})
        try:
            return Response({"tech_prefix": generate_tech_prefix(customer=customer)})
        except DjangoValidationError as error:
            raise as_api_error(error) from error


class CliRuleViewSet(BaseModelViewSet):
    queryset = CliRule.objects.select_related("customer")
    serializer_class = CliRuleSerializer
    filterset_class = CliRuleFilterSet
    ordering_fields = ("id", "customer", "cli", "pai", "direction", "forced", "use_did", "created", "updated")
    import_required_columns = ("customer",)

    def perform_destroy(self, instance: CliRule) -> None:
        try:
            cli_rule_delete(rule=instance)
        except DjangoValidationError as error:
            raise as_api_error(error) from error

    # Testing writes nothing, so every signed-in role may use it.
    @extend_schema(request=CliTestSerializer, responses={200: CliTestResultSerializer})
    @action(detail=False, methods=["post"], url_path="test", permission_classes=[IsAuthenticated])
    def evaluate(self, request: Request) -> Response:
        """What the switch does with a call's CLI and P-Asserted-ID under the customer's saved rules."""
        serializer = CliTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = cli_rules_evaluate(customer_id=data["customer"].pk, cli=data["cli"], pai=data["pai"],
                                    dialed=data["dialed"], direction=data["direction"], seed=data["seed"])
        return Response({"allowed": result.allowed, "cli": result.cli, "pai": result.pai, "forced": result.forced,
                         "rule": result.rule.id if result.rule else None,
                         "code": None if result.allowed else REJECT_CODE,
                         "reason": None if result.allowed else REJECT_REASON, "trace": str(result.trace)})
