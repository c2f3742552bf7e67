"""GET /api/v1/ledger/ (a customer's money movements) and POST /api/v1/customers/{id}/adjust-balance/."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trunkline.core.api.exceptions import as_api_error
from trunkline.core.api.schema import ErrorSerializer
from trunkline.core.integers import ascii_int
from trunkline.customers.models import Customer
from trunkline.ledger.api.serializers import (
    AdjustBalanceResultSerializer,
    AdjustBalanceSerializer,
    LedgerEntrySerializer,
)
from trunkline.ledger.filtersets import LedgerEntryFilterSet
from trunkline.ledger.models import LedgerEntry
from trunkline.ledger.services import customer_adjust_balance


class LedgerEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """Ledger entries, newest first: every movement of a customer's balance (call charges, re-rate differences,
    adjustments, opening balances). Append-only: nothing here is edited or deleted."""

    queryset = LedgerEntry.objects.select_related("created_by").order_by("-id")
    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerEntryFilterSet
    ordering_fields = ("id", "customer", "kind", "amount", "balance_after", "cdr_id", "created_at")


class AdjustBalanceView(APIView):
    """Credit (amount > 0) or debit (amount < 0) a customer's balance with a reason, until payments arrive.
    Operators and admins; written to the ledger and the audit log."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=AdjustBalanceSerializer, responses={
        201: AdjustBalanceResultSerializer,
        400: OpenApiResponse(ErrorSerializer, description="A bad amount or a missing reason, by field; nothing "
                                                          "was written."),
        404: OpenApiResponse(ErrorSerializer, description="No such customer."),
    })
    def post(self, request: Request, pk: str) -> Response:
        number = ascii_int(pk)
        customer = Customer.objects.filter(pk=number).first() if number is not None else None
        if customer is None:
            raise exceptions.NotFound(f"No customer with id {pk}.")
        serializer = AdjustBalanceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            entry = customer_adjust_balance(customer_id=customer.pk, actor=request.user, **serializer.validated_data)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        result = AdjustBalanceResultSerializer({"entry": entry, "balance": entry.balance_after})
        return Response(result.data, status=status.HTTP_201_CREATED)
