from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from trunkline.contracts import snapshot
from trunkline.core.api.exceptions import as_api_error
from trunkline.core.api.fields import IPListField, TagListField
from trunkline.core.api.serializers import BaseModelSerializer
from trunkline.sipauth.choices import RewriteType
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser, check_rewrite
from trunkline.sipauth.services import check_sip_password, ip_auth_save, sip_user_save
from trunkline.switch.regex import MAX_SUBJECT_LENGTH, MAX_TESTED_RULES

DUPLICATE_USER = "Duplicate User Detected: another SIP user already has this username."
NO_BULK_PASSWORDS = "SIP passwords are set one user at a time, never in a bulk edit."


class IpAuthSerializer(BaseModelSerializer):
    """An IP-auth entry. Writes go through ip_auth_save(): an IP shared with another customer is refused unless
    tech prefixes or CLI authentication tell the customers apart, and reported in `warnings` when allowed."""

    url = serializers.HyperlinkedIdentityField(view_name="api:ipauth-detail")
    codecs = TagListField(required=False, help_text="Allowed codecs; empty = all. \"PCMA, G729\" is two.")
    warnings = serializers.SerializerMethodField(
        help_text="On the response to a create or update: other customers sharing this IP and what tells them "
                  "apart.")

    class Meta:
        model = IpAuth
        fields = ("id", "url", "customer", "ip", "direction", "channels", "cps", "codecs", "manufacturer", "version",
                  "protocol", "port", "dial_pattern", "cli_prefix", "tech_prefix", "strip_digits", "bandwidth",
                  "force_from", "username", "password", "force_nat", "intercept_reinvite", "cli_authentication",
                  "warnings", "created", "updated")
        read_only_fields = ("created", "updated")
        extra_kwargs = {
            "password": {"write_only": True, "trim_whitespace": False, "style": {"input_type": "password"},
                         "help_text": "Write-only. Presented when Trunkline registers to the customer's switch."},
            # As typed ("192.0.2.7/24"): the model normalises, then validates.
            "ip": {"validators": []},
        }

    def get_warnings(self, obj: IpAuth) -> list[str]:
        return getattr(obj, "shared_ip_warnings", [])

    def create(self, validated_data: dict[str, Any]) -> IpAuth:
        return self._save(IpAuth(**validated_data))

    def update(self, instance: IpAuth, validated_data: dict[str, Any]) -> IpAuth:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)

    @staticmethod
    def _save(entry: IpAuth) -> IpAuth:
        try:
            entry.shared_ip_warnings = ip_auth_save(entry=entry)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return entry


class SipUserSerializer(BaseModelSerializer):
    """A SIP user. Writes go through sip_user_save(): the password becomes the digest HA1 (never stored or
    returned), the username must fit the customer's number blocks, and channels its remaining capacity."""

    url = serializers.HyperlinkedIdentityField(view_name="api:sipuser-detail")
    ip_whitelist = IPListField(required=False, help_text="IPs or networks (CIDR) the user may call from; "
                                                         "empty = any.")
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                     max_length=128, style={"input_type": "password"},
                                     help_text="Write-only; stored only as the digest HA1. Needed on create and "
                                               "whenever the username changes.")
    voicemail_pin_set = serializers.SerializerMethodField(help_text="Whether a voicemail PIN has been generated.")

    # Set by sip_user_save() from the password, never by the generic model validation.
    clean_exclude = ("ha1",)

    class Meta:
        model = SipUser
        fields = ("id", "url", "customer", "username", "password", "channels", "cps", "ip_whitelist", "nat_ping",
                  "voicemail_enabled", "voicemail_email", "voicemail_pin_set", "created", "updated")
        read_only_fields = ("created", "updated")
        extra_kwargs = {"username": {"validators": [UniqueValidator(queryset=SipUser.objects.all(),
                                                                    message=DUPLICATE_USER)]}}

    def get_voicemail_pin_set(self, obj: SipUser) -> bool:
        return bool(obj.voicemail_pin)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password: str = attrs.pop("password", "")
        action = getattr(self.context.get("view"), "action", None)
        if password and action in ("bulk_update", "bulk_partial_update"):
            raise serializers.ValidationError({"password": [NO_BULK_PASSWORDS]})
        attrs = super().validate(attrs)
        # Checked here too (sip_user_save checks again) so an import reports it by row before writing anything.
        username = attrs.get("username", getattr(self.instance, "username", ""))
        try:
            check_sip_password(pk=getattr(self.instance, "pk", None), username=username, password=password)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return {**attrs, "password": password}

    def create(self, validated_data: dict[str, Any]) -> SipUser:
        password = validated_data.pop("password", "")
        return self._save(SipUser(**validated_data), password)

    def update(self, instance: SipUser, validated_data: dict[str, Any]) -> SipUser:
        password = validated_data.pop("password", "")
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, password)

    @staticmethod
    def _save(user: SipUser, password: str) -> SipUser:
        try:
            return sip_user_save(user=user, password=password)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        except IntegrityError as error:
            # The username is the one unique column: another request took it between validation and save.
            raise serializers.ValidationError({"username": [DUPLICATE_USER]}) from error


class VoicemailPinSerializer(serializers.Serializer):
    detail = serializers.CharField()
    pin = serializers.CharField(help_text="Shown once; only a hash is kept.")


class ParameterRewriteSerializer(BaseModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:parameterrewrite-detail")

    class Meta:
        model = ParameterRewrite
        fields = ("id", "url", "ip_auth", "sip_user", "type", "match", "replace", "order", "created", "updated")
        read_only_fields = ("created", "updated")
        # Spaces can be part of a regular expression; keep what was typed.
        extra_kwargs = {"match": {"trim_whitespace": False}, "replace": {"trim_whitespace": False}}


class RewriteRuleSerializer(serializers.Serializer):
    """An unsaved rule typed into the Testing box; checked exactly as a saved one."""

    type = serializers.ChoiceField(choices=RewriteType.choices)
    match = serializers.CharField(allow_blank=True, max_length=200, trim_whitespace=False)
    replace = serializers.CharField(allow_blank=True, max_length=200, trim_whitespace=False, default="")
    order = serializers.IntegerField(min_value=0, default=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            check_rewrite(attrs["match"], attrs["replace"])
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return attrs


class RewritePreviewSerializer(serializers.Serializer):
    """The Testing box: the saved rules of one IP-auth entry or SIP user, or a list of rules, and an input."""

    ip_auth = serializers.PrimaryKeyRelatedField(queryset=IpAuth.objects.all(), required=False)
    sip_user = serializers.PrimaryKeyRelatedField(queryset=SipUser.objects.all(), required=False)
    rules = RewriteRuleSerializer(many=True, required=False, max_length=MAX_TESTED_RULES)
    destination = serializers.CharField(allow_blank=True, default="", max_length=MAX_SUBJECT_LENGTH)
    cli = serializers.CharField(allow_blank=True, default="", max_length=MAX_SUBJECT_LENGTH)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("ip_auth", "sip_user", "rules") if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError({"non_field_errors": [
                "Give exactly one of ip_auth, sip_user (their saved rules) or rules (a list to try)."]})
        return attrs

    def contract_rules(self) -> list[snapshot.ParameterRewrite]:
        data = self.validated_data
        owner = data.get("ip_auth") or data.get("sip_user")
        if owner is not None:
            return [rule.to_contract() for rule in owner.parameter_rewrites.all()]
        # Unsaved rules are numbered by their position (1, 2, ...) so the steps can name them; which entry they
        # would belong to does not change what they do.
        return [snapshot.ParameterRewrite(id=index, auth_kind=snapshot.AuthKind.IP, auth_id=0,
                                          type=snapshot.RewriteType(rule["type"]), match=rule["match"],
                                          replace=rule["replace"], order=rule["order"])
                for index, rule in enumerate(data["rules"], start=1)]


class RewriteStepSerializer(serializers.Serializer):
    rule = serializers.IntegerField(help_text="The rule's id; for a list of rules, its position (1, 2, ...).")
    type = serializers.CharField()
    match = serializers.CharField()
    replace = serializers.CharField()
    order = serializers.IntegerField()
    matched = serializers.BooleanField()
    before = serializers.CharField()
    after = serializers.CharField()
    message = serializers.CharField(help_text="The line the call trace shows for this step.")


class RewritePreviewResultSerializer(serializers.Serializer):
    destination = serializers.CharField(help_text="The destination after every rule.")
    cli = serializers.CharField(help_text="The CLI after every rule.")
    steps = RewriteStepSerializer(many=True)
