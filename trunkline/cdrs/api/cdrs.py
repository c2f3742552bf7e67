"""GET /api/v1/cdrs/ and GET /api/v1/cdrs/{id}/: rated CDRs, read-only (ingest, import and recalc write them)."""

from __future__ import annotations

from rest_framework import serializers, viewsets

from trunkline.cdrs.cdr_filtersets import CdrFilterSet
from trunkline.cdrs.cdr_tables import ORDERING_FIELDS
from trunkline.cdrs.models import Cdr


class CdrSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    provider_name = serializers.CharField(source="provider.name", read_only=True, allow_null=True, default=None)
    connected = serializers.BooleanField(read_only=True, help_text="Answered (has an answer time).")

    class Meta:
        model = Cdr
        fields = ("id", "call_id", "leg", "source", "node", "customer", "customer_name", "ingress_route", "provider",
                  "provider_name", "source_ip", "sip_user", "cli", "dst", "tech_prefix", "start", "answer", "end",
                  "connected", "duration_ms", "duration", "pdd_ms", "ring_ms", "sip_code", "sip_reason",
                  "release_reason", "customer_card_id", "customer_revision_id", "customer_dest_code",
                  "customer_dest_name", "customer_rate", "customer_connect_fee", "customer_billed",
                  "customer_charge", "customer_tax", "customer_currency", "provider_card_id",
                  "provider_revision_id", "provider_dest_code", "provider_dest_name", "provider_rate",
                  "provider_connect_fee", "provider_billed", "provider_charge", "provider_currency", "profit",
                  "rating_error", "ledger_total", "rated_at", "created_at")
        read_only_fields = fields


class CdrViewSet(viewsets.ReadOnlyModelViewSet):
    """Rated CDRs, newest first (domain.md §5.1/§5.2): the customer side (sell) and the provider side (buy) of
    each leg, with the profit when both are in one currency. Times are UTC; amounts are decimal strings. Viewers
    may read."""

    queryset = Cdr.objects.select_related("customer", "provider").order_by("-start", "-id")
    serializer_class = CdrSerializer
    filterset_class = CdrFilterSet
    ordering_fields = ORDERING_FIELDS
    # Digits only: cdrs/ingest/, cdrs/recalc/ and cdrs/import/ are other views under the same prefix.
    lookup_value_regex = r"[0-9]+"
