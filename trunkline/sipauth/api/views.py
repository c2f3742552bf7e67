from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from trunkline.core.api.exceptions import as_api_error
from trunkline.core.api.viewsets import BaseModelViewSet
from trunkline.sipauth.api.serializers import (
    IpAuthSerializer,
    ParameterRewriteSerializer,
    RewritePreviewResultSerializer,
    RewritePreviewSerializer,
    SipUserSerializer,
    VoicemailPinSerializer,
)
from trunkline.sipauth.filtersets import IpAuthFilterSet, ParameterRewriteFilterSet, SipUserFilterSet
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser
from trunkline.sipauth.services import sip_user_reset_voicemail_pin
from trunkline.switch.rewrite import preview


class IpAuthViewSet(BaseModelViewSet):
    queryset = IpAuth.objects.select_related("customer")
    serializer_class = IpAuthSerializer
    filterset_class = IpAuthFilterSet
    ordering_fields = ("id", "customer", "ip", "direction", "channels", "cps", "manufacturer", "version", "protocol",
                       "port", "cli_prefix", "tech_prefix", "strip_digits", "bandwidth", "username", "force_nat",
                       "intercept_reinvite", "cli_authentication", "created", "updated")  # never the password
    import_required_columns = ("customer", "ip")


class SipUserViewSet(BaseModelViewSet):
    queryset = SipUser.objects.select_related("customer")
    serializer_class = SipUserSerializer
    filterset_class = SipUserFilterSet
    ordering_fields = ("id", "customer", "username", "channels", "cps", "nat_ping", "voicemail_enabled",
                       "voicemail_email", "created", "updated")  # never ha1 nor voicemail_pin
    import_required_columns = ("customer", "username", "password")
    bulk_lock_related = ("customer",)  # sip_user_save() locks it for the channel capacity check

    @extend_schema(request=None, responses={200: VoicemailPinSerializer})
    @action(detail=True, methods=["post"], url_path="reset-voicemail-pin")
    def reset_voicemail_pin(self, request: Request, pk: str | None = None) -> Response:
        """Generate a new numeric voicemail PIN. It is in this response only: Trunkline keeps a hash."""
        user = self.get_object()
        try:
            pin = sip_user_reset_voicemail_pin(user=user)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return Response({"detail": f"A new voicemail PIN was set for {user.username}; it is not shown again.",
                         "pin": pin})


class ParameterRewriteViewSet(BaseModelViewSet):
    queryset = ParameterRewrite.objects.select_related("ip_auth", "sip_user")
    serializer_class = ParameterRewriteSerializer
    filterset_class = ParameterRewriteFilterSet
    ordering_fields = ("id", "ip_auth", "sip_user", "type", "match", "replace", "order", "created", "updated")
    import_required_columns = ("type",)

    # The Testing box writes nothing, so every signed-in role may use it.
    @extend_schema(request=RewritePreviewSerializer, responses={200: RewritePreviewResultSerializer})
    @action(detail=False, methods=["post"], url_path="test", permission_classes=[IsAuthenticated])
    def preview(self, request: Request) -> Response:
        """What a destination and a CLI become, rule by rule, run by the switch's own rewrite code."""
        serializer = RewritePreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = preview(serializer.contract_rules(), destination=serializer.validated_data["destination"],
                         cli=serializer.validated_data["cli"])
        steps = [{"rule": step.rule.id, "type": str(step.rule.type), "match": step.rule.match,
                  "replace": step.rule.replace, "order": step.rule.order, "matched": step.matched,
                  "before": step.before, "after": step.after, "message": step.trace.message}
                 for step in result.steps]
        return Response({"destination": result.destination, "cli": result.cli, "steps": steps})
