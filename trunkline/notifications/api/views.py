from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trunkline.core.api.serializers import BaseModelSerializer
from trunkline.core.locking import lock_rows
from trunkline.core.models import SystemSettings
from trunkline.core.validators import normalize_e164, validate_e164
from trunkline.notifications.forms import SECRET_FIELDS
from trunkline.notifications.services import settings_send_test_email, settings_send_test_sms
from trunkline.notifications.transport import DeliveryError


class SettingsSerializer(BaseModelSerializer):
    smtp_password_set = serializers.SerializerMethodField()
    sms_auth_token_set = serializers.SerializerMethodField()

    class Meta:
        model = SystemSettings
        fields = ("company_name", "company_address", "email_from", "smtp_host", "smtp_port", "smtp_security",
                  "smtp_username", "smtp_password", "smtp_password_set", "sms_api_url", "sms_account_sid",
                  "sms_auth_token", "sms_auth_token_set", "sms_from", "number_range_start", "number_block_size",
                  "updated")
        read_only_fields = ("updated",)
        # Secrets go in, never out.
        extra_kwargs = {**{name: {"write_only": True} for name in SECRET_FIELDS},
                        "smtp_port": {"min_value": 1, "max_value": 65535},
                        # null until the settings are first saved
                        "updated": {"allow_null": True}}

    def get_smtp_password_set(self, obj: SystemSettings) -> bool:
        return bool(obj.smtp_password)

    def get_sms_auth_token_set(self, obj: SystemSettings) -> bool:
        return bool(obj.sms_auth_token)


class SettingsView(APIView):
    """Setup > Settings (admins only). Secrets (smtp_password, sms_auth_token) are write-only."""

    admin_only = True
    serializer_class = SettingsSerializer

    def get(self, request: Request) -> Response:
        return Response(SettingsSerializer(SystemSettings.load()).data)

    def patch(self, request: Request) -> Response:
        with transaction.atomic():  # read, validated and saved on the locked row
            lock_rows(SystemSettings, [1])
            serializer = SettingsSerializer(SystemSettings.load(), data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            serializer.save()
        return Response(serializer.data)


class _TestView(APIView):
    admin_only = True
    channel = ""

    def send(self, to: str) -> str:
        raise NotImplementedError

    @extend_schema(request=inline_serializer("TestMessage", {"to": serializers.CharField()}),
                   responses={200: dict, 400: dict})
    def post(self, request: Request) -> Response:
        to = str(request.data.get("to", "")).strip()
        if not to:
            raise serializers.ValidationError({"to": ["Give the address or number to send the test to."]})
        try:
            reference = self.send(to)
        except ValidationError as error:
            raise serializers.ValidationError({"non_field_errors": error.messages}) from error
        except DeliveryError as error:
            raise serializers.ValidationError({"to": [f"The test {self.channel} was not sent: {error}"]}) from error
        return Response({"detail": f"Test {self.channel} sent to {to}.", "reference": reference})


class SettingsTestEmailView(_TestView):
    """Send a test email with the saved settings."""

    channel = "email"

    def send(self, to: str) -> str:
        try:
            serializers.EmailField().run_validation(to)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({"to": error.detail}) from error
        return settings_send_test_email(to=to)


class SettingsTestSmsView(_TestView):
    """Send a test SMS with the saved settings."""

    channel = "SMS"

    def send(self, to: str) -> str:
        number = normalize_e164(to)  # "+44 7911 123456" is sent as +447911123456, as contacts' mobiles are stored
        try:
            validate_e164(number)
        except ValidationError as error:
            raise serializers.ValidationError({"to": error.messages}) from error
        return settings_send_test_sms(to=number)
