from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from trunkline.cdrs.models import CallRecord
from trunkline.core.integers import DB_INT_MAX

MAX_END_IDS = 1000


class CallAttemptSerializer(serializers.Serializer):
    provider = serializers.IntegerField(allow_null=True)
    gateway = serializers.CharField(help_text="host:port; empty when the edge did not say.")
    branch = serializers.IntegerField(allow_null=True, help_text="0-based position in the egress order.")
    code = serializers.IntegerField(allow_null=True, help_text="The gateway's answer; null while it has none.")
    reason = serializers.CharField()


class CallRecordSerializer(serializers.ModelSerializer):
    attempts = CallAttemptSerializer(many=True, read_only=True, help_text="Gateways tried, in order.")
    planned = serializers.JSONField(read_only=True, help_text="The decision's egress order: [{provider, card, rate, "
                                                              "gateways}].")
    rate = serializers.JSONField(read_only=True, allow_null=True,
                                 help_text="The customer rate matched at decision (card, prefix, name, rate, "
                                           "connection_fee, grace, mcd, pulse; decimals as strings), or null.")

    class Meta:
        model = CallRecord
        fields = ("id", "call_id", "node", "state", "attempted_at", "answered_at", "ended_at", "customer",
                  "customer_name", "auth_kind", "auth_id", "source_ip", "source_port", "transport", "cli_in",
                  "dst_in", "cli", "dst", "pai", "tech_prefix", "ingress_route", "provider", "provider_name",
                  "sip_code", "sip_reason", "release_reason", "duration", "pdd_ms", "ring_ms", "attempts",
                  "planned", "rate", "max_duration", "recording", "expires_at", "end_requested_at", "updated_at")
        read_only_fields = fields


class DialogSerializer(serializers.ModelSerializer):
    started = serializers.DateTimeField(source="attempted_at", read_only=True)
    duration = serializers.SerializerMethodField(help_text="Seconds since the answer; null before it.")

    class Meta:
        model = CallRecord
        fields = ("id", "call_id", "customer", "customer_name", "cli", "dst", "provider", "provider_name", "state",
                  "started", "answered_at", "duration", "expires_at", "end_requested_at")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_duration(self, record: CallRecord) -> int | None:
        if record.answered_at is None:
            return None
        return max(0, int((timezone.now() - record.answered_at).total_seconds()))


class DialogEndSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=DB_INT_MAX), min_length=1,
                                max_length=MAX_END_IDS, help_text="Dialog ids (the `id` of GET /dialogs/).")

    def validate_ids(self, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


class DialogEndResultSerializer(serializers.Serializer):
    ended = serializers.ListField(child=serializers.IntegerField(), help_text="Ids Kamailio was asked to end.")
    errors = serializers.DictField(child=serializers.CharField(),
                                   help_text='{"<id>": "why Kamailio did not end it"}')

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {"ended": list(instance.ended), "errors": dict(instance.errors)}
