"""POST /api/v1/simulate/ (the Simulate Call dialog), GET /api/v1/simulations/ (the runs it kept) and
GET /api/v1/routing-snapshot/ (when the switch's routing file was published)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trunkline.customers.models import Customer
from trunkline.routing.models import SimulatedCall
from trunkline.routing.services.simulations import simulate_and_record
from trunkline.routing.snapshot import snapshot_publication


class SimulateSerializer(serializers.Serializer):
    dst = serializers.CharField(max_length=64)
    cli = serializers.CharField(max_length=64, allow_blank=True)
    ip = serializers.IPAddressField()
    user = serializers.CharField(max_length=64, required=False, allow_blank=True)
    pai = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(), required=False, allow_null=True,
        help_text="The customer the simulation is asked for: the run is listed on its Latest Calls when the decision "
                  "identifies no customer (an unknown IP, say).")


# What POST /simulate/ answers (routing.services.simulations._result with the run's call id), for the OpenAPI
# schema: the view returns the kept dict as it is.


class SimulateInputSerializer(serializers.Serializer):
    dst = serializers.CharField()
    cli = serializers.CharField()
    ip = serializers.CharField()
    user = serializers.CharField(allow_null=True)
    pai = serializers.CharField(allow_null=True)


class SimulateNamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SimulateAuthSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=("ip", "sip_user"))
    id = serializers.IntegerField()
    ip = serializers.CharField(required=False, help_text="kind ip: the entry's address or network.")
    username = serializers.CharField(required=False, help_text="kind sip_user: its username.")


class SimulateRouteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tech_prefix = serializers.CharField()
    rate_card_id = serializers.IntegerField()
    strategy = serializers.CharField()


class SimulateNumbersBeforeSerializer(serializers.Serializer):
    dst = serializers.CharField()
    cli = serializers.CharField()
    pai = serializers.CharField(allow_null=True)


class SimulateNumbersAfterSerializer(serializers.Serializer):
    dst = serializers.CharField(allow_null=True)
    cli = serializers.CharField(allow_null=True)
    pai = serializers.CharField(allow_null=True)


class SimulateNumbersSerializer(serializers.Serializer):
    before = SimulateNumbersBeforeSerializer()
    after = SimulateNumbersAfterSerializer(allow_null=True, help_text="After rewrites, CLI rules and tech-prefix "
                                                               "stripping; null when no route was reached.")


class SimulateRateSerializer(serializers.Serializer):
    prefix = serializers.CharField()
    name = serializers.CharField()
    rate = serializers.CharField(help_text="Per minute, a decimal in the card's currency.")
    connection_fee = serializers.CharField(help_text="A decimal.")
    mcd = serializers.IntegerField()
    pulse = serializers.IntegerField()
    grace = serializers.IntegerField()


class SimulateEgressSerializer(serializers.Serializer):
    provider = SimulateNamedSerializer()
    gateway = serializers.ListField(child=serializers.CharField(), help_text="host:port;transport=...")
    card_id = serializers.IntegerField()
    prefix = serializers.CharField()
    cost = serializers.CharField(help_text="The provider's rate per minute, a decimal.")
    margin = serializers.CharField(help_text="Customer rate minus cost, a decimal (negative at a loss).")


class SimulateResultSerializer(serializers.Serializer):
    call_id = serializers.CharField(help_text="SIM and the run's number: the call on Latest Calls.")
    routed = serializers.BooleanField()
    code = serializers.IntegerField(help_text="200 when routed; else the SIP reject code.")
    reason = serializers.CharField()
    input = SimulateInputSerializer()
    customer = SimulateNamedSerializer(allow_null=True, help_text="The customer identified; null when none was.")
    auth = SimulateAuthSerializer(allow_null=True)
    ingress_route = SimulateRouteSerializer(allow_null=True)
    numbers = SimulateNumbersSerializer()
    rate = SimulateRateSerializer(allow_null=True, help_text="The customer card's row that rated the call.")
    egress = SimulateEgressSerializer(many=True, help_text="Providers in the order the switch would try them.")
    max_duration = serializers.IntegerField(allow_null=True, help_text="Seconds; null = no limit.")
    recording = serializers.BooleanField()
    trace = serializers.ListField(child=serializers.CharField(), help_text="Each step of the decision.")


class SimulatedCallSerializer(serializers.ModelSerializer):
    call_id = serializers.CharField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = SimulatedCall
        fields = ("id", "call_id", "customer", "inputs", "result", "created_by", "created")


class SimulateView(APIView):
    """Decide a call as the switch would, against the current data. It changes no configuration, but it keeps the
    run (a SIM call on Latest Calls): a write, so operators and admins only; viewers read /simulations/."""

    serializer_class = SimulateSerializer

    @extend_schema(request=SimulateSerializer, responses={200: SimulateResultSerializer})
    def post(self, request: Request) -> Response:
        serializer = SimulateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(simulate_and_record(created_by=request.user, dst=data["dst"], cli=data["cli"], ip=data["ip"],
                                            user=data.get("user") or None, pai=data.get("pai") or None,
                                            asked_for=data.get("customer")).answer)


class SimulatedCallViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Simulations kept, newest first; `?customer=N` gives one customer's (its Latest Calls tab)."""

    queryset = SimulatedCall.objects.select_related("created_by")
    serializer_class = SimulatedCallSerializer
    filterset_fields = ("customer",)
    ordering_fields = ("id", "customer", "created")


class PublicationSerializer(serializers.Serializer):
    published_at = serializers.DateTimeField(allow_null=True, help_text="When the file was last written; null = never.")
    pending = serializers.BooleanField(help_text="Changes made since are queued for the worker's next publication.")
    failed = serializers.CharField(help_text="The error of the last publish job when it failed; empty otherwise.")


class RoutingSnapshotView(APIView):
    """What the switch nodes load: for monitoring that configuration changes reach them."""

    permission_classes = [IsAuthenticated]
    serializer_class = PublicationSerializer

    @extend_schema(responses={200: PublicationSerializer})
    def get(self, request: Request) -> Response:
        return Response(PublicationSerializer(snapshot_publication()).data)
