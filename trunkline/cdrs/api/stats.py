"""GET /api/v1/stats/: a customer's or a provider's traffic per hour, day or month (the Stats charts' numbers), read
from the rollups through trunkline.cdrs.stats."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trunkline.cdrs import stats
from trunkline.cdrs.stats_charts import GRAINS, MAX_DAYS, range_error
from trunkline.core.integers import DB_INT_MAX
from trunkline.customers.models import Customer
from trunkline.routing.models import Provider

MONEY = {"max_digits": 24, "decimal_places": 6}


class StatsQuerySerializer(serializers.Serializer):
    customer = serializers.IntegerField(required=False, min_value=1, max_value=DB_INT_MAX,
                                        help_text="A customer's traffic.")
    provider = serializers.IntegerField(required=False, min_value=1, max_value=DB_INT_MAX,
                                        help_text="A provider's traffic (all customers), when no customer is given; "
                                                  "with a customer: that customer's calls through it.")
    grain = serializers.ChoiceField(choices=GRAINS, help_text="Bucket size (UTC).")
    start = serializers.DateTimeField(help_text="Inclusive, ISO 8601 (a time without a zone is UTC).")
    end = serializers.DateTimeField(help_text=f"Exclusive. At most {MAX_DAYS['hour']} days after start at hour grain, "
                                              f"{MAX_DAYS['day']} at day or month grain.")
    by_provider = serializers.BooleanField(default=False, help_text="One row per bucket and provider.")

    def validate_customer(self, value: int) -> int:
        if not Customer.objects.filter(pk=value).exists():
            raise serializers.ValidationError(f"No customer with id {value}.")
        return value

    def validate_provider(self, value: int) -> int:
        if not Provider.objects.filter(pk=value).exists():
            raise serializers.ValidationError(f"No provider with id {value}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("customer") is None and attrs.get("provider") is None:
            raise serializers.ValidationError({"customer": ["Give customer or provider."]})
        problem = range_error(attrs["grain"], attrs["start"], attrs["end"])
        if problem is not None:
            raise serializers.ValidationError({problem[0]: [problem[1]]})
        return attrs


class StatsBucketSerializer(serializers.Serializer):
    bucket = serializers.DateTimeField(help_text="The bucket's start (UTC).")
    provider_id = serializers.IntegerField(required=False, help_text="by_provider only; 0 = no provider.")
    attempts = serializers.IntegerField()
    connected = serializers.IntegerField()
    duration = serializers.IntegerField(help_text="Connected seconds.")
    customer_billed = serializers.IntegerField(help_text="Billed seconds, customer side.")
    pdd_ms = serializers.IntegerField(help_text="Sum of the PDDs (ms) of the calls with one.")
    pdd_calls = serializers.IntegerField()
    customer_charge = serializers.DecimalField(**MONEY)
    provider_charge = serializers.DecimalField(**MONEY)
    profit = serializers.DecimalField(**MONEY, help_text="customer_charge - provider_charge.")
    profit_pct = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True,
                                          help_text="profit / customer_charge x 100; null without a charge.")
    asr = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True,
                                   help_text="connected / attempts x 100 (2 places, half up); null without attempts.")
    acd = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                   help_text="duration / connected, seconds; null without connected calls.")
    pdd = serializers.IntegerField(allow_null=True, help_text="Average post-dial delay (ms) of the calls with one.")
    channel_breaches = serializers.IntegerField()
    cps_breaches = serializers.IntegerField()
    channels_peak = serializers.IntegerField(allow_null=True, help_text="Highest concurrent channels of an hour in "
                                                                        "the bucket; null with by_provider.")
    cps_peak = serializers.IntegerField(allow_null=True, help_text="Highest calls started in one second; null with "
                                                                   "by_provider.")


class StatsCodeSerializer(serializers.Serializer):
    bucket = serializers.DateTimeField()
    sip_code = serializers.IntegerField()
    calls = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    customer = serializers.IntegerField(allow_null=True)
    provider = serializers.IntegerField(allow_null=True)
    grain = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    by_provider = serializers.BooleanField()
    buckets = StatsBucketSerializer(many=True, help_text="Buckets with traffic only, oldest first.")
    codes = StatsCodeSerializer(many=True, help_text="Final SIP codes per bucket (the Codes charts).")


class StatsView(APIView):
    """The Stats charts' numbers for a customer or a provider, from the hourly rollups (never the CDRs)."""

    @extend_schema(parameters=[StatsQuerySerializer], responses={200: StatsSerializer}, operation_id="stats_retrieve")
    def get(self, request: Request) -> Response:
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        scope = {"customer_id": data.get("customer"), "provider_id": data.get("provider"), "start": data["start"],
                 "end": data["end"], "grain": data["grain"]}
        answer = {"customer": scope["customer_id"], "provider": scope["provider_id"], "grain": data["grain"],
                  "start": data["start"], "end": data["end"], "by_provider": data["by_provider"],
                  "buckets": stats.traffic(**scope, by_provider=data["by_provider"]), "codes": stats.codes(**scope)}
        return Response(StatsSerializer(answer).data)

