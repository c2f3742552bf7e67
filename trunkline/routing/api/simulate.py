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
from trunkline.routing.simulate import simulate_and_record
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

    @extend_schema(request=SimulateSerializer, responses={200: dict})
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
