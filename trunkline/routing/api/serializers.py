from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from trunkline.core.api.exceptions import as_api_error
from trunkline.core.api.serializers import BaseModelSerializer
from trunkline.core.validators import reject_control_characters
from trunkline.customers.models import Customer
from trunkline.routing.choices import CliDirection, Transport
from trunkline.routing.models import DEFAULT_SIP_PORT, CliRule, IngressRoute, Provider, Rate, RateCard, RateRevision
from trunkline.routing.ratefile import COLUMNS, MappingError, RateValues, parse_columns
from trunkline.routing.services.ratecards import rate_card_edit, rate_card_save
from trunkline.routing.services.routes import check_route_cards, cli_rule_save, ingress_route_save
from trunkline.switch.regex import MAX_SUBJECT_LENGTH

#
# Providers
#


class GatewaySerializer(serializers.Serializer):
    """Documents one gateway; the model's validator checks the list (so the API and imports agree)."""

    host = serializers.CharField(help_text="IP address or host name.")
    port = serializers.IntegerField(default=DEFAULT_SIP_PORT, min_value=1, max_value=65535)
    transport = serializers.ChoiceField(choices=Transport.choices, default=Transport.UDP)


@extend_schema_field(GatewaySerializer(many=True))
class GatewayListField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        # The model's validator never sees {}: Django skips validators for empty values, so an empty object
        # was stored and answered where the schema promises a list.
        if not isinstance(value, list):
            raise serializers.ValidationError("Give a list of gateways, each {host, port, transport}.")
        return value


class ProviderSerializer(BaseModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:provider-detail")
    gateways = GatewayListField(required=False, help_text=Provider._meta.get_field("gateways").help_text)

    class Meta:
        model = Provider
        fields = ("id", "url", "name", "status", "gateways", "channels", "cps", "tech_prefix", "notes", "created",
                  "updated")
        read_only_fields = ("created", "updated")


#
# Rate cards and revisions
#


class RateCardSerializer(BaseModelSerializer):
    """Saved through rate_card_save(): egress cards must be provider cards in the card's currency."""

    url = serializers.HyperlinkedIdentityField(view_name="api:ratecard-detail")
    egress_cards = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=RateCard.objects.all(),
        help_text="Customer cards only: the provider cards (same currency) that may carry its calls.")
    # Methods, not dotted sources with a default: on a PATCH, DRF skips a field whose source path breaks at
    # None (a card without an active revision) and the answer lacked both.
    active_revision_number = serializers.SerializerMethodField()
    row_count = serializers.SerializerMethodField(help_text="Rows of the active revision.")

    class Meta:
        model = RateCard
        fields = ("id", "url", "name", "kind", "currency", "provider", "egress_cards", "strategy",
                  "billing_precision", "rounding_method", "duration_rounding", "active_revision",
                  "active_revision_number", "row_count", "notes", "created", "updated")
        read_only_fields = ("active_revision", "created", "updated")

    def get_active_revision_number(self, card: RateCard) -> int | None:
        return card.active_revision.number if card.active_revision else None

    def get_row_count(self, card: RateCard) -> int | None:
        return card.active_revision.row_count if card.active_revision else None

    def create(self, validated_data: dict[str, Any]) -> RateCard:
        egress = validated_data.pop("egress_cards", None)
        return self._save(RateCard(**validated_data), egress)

    def update(self, instance: RateCard, validated_data: dict[str, Any]) -> RateCard:
        egress = validated_data.pop("egress_cards", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, egress)

    @staticmethod
    def _save(card: RateCard, egress: list[RateCard] | None) -> RateCard:
        try:
            return rate_card_save(card=card, egress_cards=egress)
        except DjangoValidationError as error:
            raise as_api_error(error) from error


class RateRevisionSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:raterevision-detail")
    rate_card = serializers.PrimaryKeyRelatedField(source="card", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = RateRevision
        fields = ("id", "url", "rate_card", "number", "source", "note", "row_count", "active", "date_live",
                  "activated_at", "created")
        read_only_fields = fields


class RevisionActivateSerializer(serializers.Serializer):
    date_live = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                          help_text="A future time schedules the activation; empty = now.")


class ColumnsField(serializers.Field):
    """The column mapping: "prefix,name,rate" or ["prefix", "name", "rate"]; "-" skips a column."""

    def to_internal_value(self, data: Any) -> tuple[str, ...]:
        if not isinstance(data, str | list):
            raise serializers.ValidationError("Give the columns as a comma-separated string or a list.")
        try:
            return parse_columns(data)
        except MappingError as error:
            raise serializers.ValidationError(str(error)) from error

    def to_representation(self, value: tuple[str, ...]) -> str:
        return ",".join(value)


@extend_schema_field({"type": "string", "example": ",".join(COLUMNS)})
class DocumentedColumnsField(ColumnsField):
    pass


class RateImportSerializer(serializers.Serializer):
    """Options of a deck import, as query parameters, form fields or JSON keys (the CSV in `file` or `csv`)."""

    file = serializers.FileField(required=False, help_text="The CSV file (multipart upload).")
    csv = serializers.CharField(required=False, trim_whitespace=False, help_text="The CSV as text (JSON body).")
    start_row = serializers.IntegerField(min_value=1, default=2,
                                         help_text="First row to read, counted as the file counts rows (1 = the "
                                                   "first line). The default 2 skips one header line.")
    columns = DocumentedColumnsField(required=False, help_text=(
        f"Field of each column, by position, comma-separated: any of {', '.join(COLUMNS)}; '-' skips a column. "
        f"prefix and rate are required. Default: {','.join(COLUMNS)} (the export's layout)."))
    activate = serializers.BooleanField(default=True, help_text="Make the new revision active when the whole "
                                                                "file is valid.")
    date_live = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                          help_text="Schedule the activation at this time (UTC) instead.")
    dry_run = serializers.BooleanField(default=False, help_text="Only validate; write nothing.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200,
                                 validators=[reject_control_characters])

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "file" not in attrs and "csv" not in attrs:
            raise serializers.ValidationError({"file": ["Send the CSV: a text/csv body, a 'file' upload or a 'csv' "
                                                        "field."]})
        return attrs


class RateDiffSerializer(serializers.Serializer):
    """How many prefixes a deck adds, changes, removes and leaves as they are in the active revision."""

    added = serializers.IntegerField()
    changed = serializers.IntegerField()
    removed = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class RateImportResultSerializer(serializers.Serializer):
    detail = serializers.CharField()
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField()
    activated = serializers.BooleanField()
    revision = RateRevisionSerializer(allow_null=True)
    difference = RateDiffSerializer(allow_null=True, help_text="A dry run's comparison with the active revision "
                                                               "(null when importing).")


#
# Rate rows
#


class RateSerializer(BaseModelSerializer):
    """A row. Writing one makes a new revision of its card (rate_card_edit), so the answer is the row of that
    new, active revision, with a new id. Rows of inactive revisions are history and cannot be changed."""

    url = serializers.HyperlinkedIdentityField(view_name="api:rate-detail")
    rate_card = serializers.PrimaryKeyRelatedField(queryset=RateCard.objects.all(), required=False,
                                                   help_text="On create: the card whose active revision gets "
                                                             "the row.")

    clean_exclude = ("revision",)

    class Meta:
        model = Rate
        fields = ("id", "url", "rate_card", "revision", "prefix", "name", "rate", "connection_fee", "mcd", "pulse",
                  "grace", "status")
        read_only_fields = ("revision",)
        validators: list = []  # (revision, prefix) is checked against the active revision below

    def to_representation(self, instance: Rate) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["rate_card"] = instance.revision.card_id
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = attrs.pop("rate_card", None)
        attrs = super().validate(attrs)
        if self.instance is None:
            if given is None:
                raise serializers.ValidationError({"rate_card": ["Name the card the row goes on."]})
            card = given
        else:
            card = self.instance.revision.card
            if given is not None and given != card:
                raise serializers.ValidationError({"rate_card": ["A row cannot move to another card."]})
            if card.active_revision_id != self.instance.revision_id:
                raise serializers.ValidationError({"revision": [
                    f"This row is on revision {self.instance.revision.number}, which is not active; rows of "
                    f"inactive revisions are history. Change the row of the active revision."]})
        prefix = attrs.get("prefix", getattr(self.instance, "prefix", None))
        if (self.instance is None or prefix != self.instance.prefix) and card.active_revision_id and \
                Rate.objects.filter(revision_id=card.active_revision_id, prefix=prefix).exists():
            raise serializers.ValidationError({"prefix": [f"Prefix {prefix} is already on the active revision; "
                                                          f"change that row instead."]})
        return {**attrs, "rate_card": card}

    def values(self) -> RateValues:
        """The row as the edit service takes it: the given fields over the stored (or default) ones."""
        data = self.validated_data
        base = self.instance or Rate()
        return RateValues(*(data.get(name, getattr(base, name)) for name in RateValues._fields))

    def create(self, validated_data: dict[str, Any]) -> Rate:
        return self._edit(validated_data["rate_card"], [self.values()], [])

    def update(self, instance: Rate, validated_data: dict[str, Any]) -> Rate:
        values = self.values()
        deletes = [instance.prefix] if values.prefix != instance.prefix else []
        return self._edit(validated_data["rate_card"], [values], deletes)

    def _edit(self, card: RateCard, upserts: list[RateValues], deletes: list[str]) -> Rate:
        try:
            revision = rate_card_edit(card=card, upserts=upserts, deletes=deletes)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return Rate.objects.select_related("revision").get(revision=revision, prefix=upserts[0].prefix)


#
# Ingress routes and CLI rules
#


class IngressRouteSerializer(BaseModelSerializer):
    """Saved through ingress_route_save(): the card is a customer card in the customer's currency; lock and
    exclude name egress cards of that card, never the same card in both."""

    url = serializers.HyperlinkedIdentityField(view_name="api:ingressroute-detail")
    lock = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=RateCard.objects.all(),
        help_text="Provider cards (egress cards of the route's card) that alone may carry the calls; empty = all.")
    exclude = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=RateCard.objects.all(),
        help_text="Provider cards (egress cards of the route's card) that never carry the calls.")

    class Meta:
        model = IngressRoute
        fields = ("id", "url", "customer", "rate_card", "tech_prefix", "dial_string", "enabled", "channels", "cps",
                  "max_duration", "recording", "profit_assurance", "capped_rate", "provider_capped_rate",
                  "block_connect_cost", "lock", "exclude", "strategy", "weights", "public_notes", "private_notes",
                  "created", "updated")
        read_only_fields = ("created", "updated")
        # A regular expression may hold spaces; keep what was typed.
        extra_kwargs = {"dial_string": {"trim_whitespace": False}}
        validators: list = []  # the model's clean() names a duplicate tech prefix on its field

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        route = self.instance
        # Checked here, before any write, so a bulk edit reports every bad object and writes none.
        rate_card = attrs.get("rate_card", getattr(route, "rate_card", None))
        lock = attrs["lock"] if "lock" in attrs else list(route.lock.all()) if route else []
        exclude = attrs["exclude"] if "exclude" in attrs else list(route.exclude.all()) if route else []
        weights = attrs.get("weights", route.weights if route else {})
        try:
            check_route_cards(rate_card=rate_card, lock=lock, exclude=exclude, weights=weights)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return attrs

    def create(self, validated_data: dict[str, Any]) -> IngressRoute:
        lock, exclude = validated_data.pop("lock", None), validated_data.pop("exclude", None)
        return self._save(IngressRoute(**validated_data), lock, exclude)

    def update(self, instance: IngressRoute, validated_data: dict[str, Any]) -> IngressRoute:
        lock, exclude = validated_data.pop("lock", None), validated_data.pop("exclude", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, lock, exclude)

    @staticmethod
    def _save(route: IngressRoute, lock: list[RateCard] | None, exclude: list[RateCard] | None) -> IngressRoute:
        try:
            return ingress_route_save(route=route, lock=lock, exclude=exclude)
        except DjangoValidationError as error:
            raise as_api_error(error) from error


class TechPrefixSerializer(serializers.Serializer):
    tech_prefix = serializers.CharField(help_text="Unused by the customer's routes; not reserved until saved.")


class CliRuleSerializer(BaseModelSerializer):
    """A CLI rule; the model checks it, and the customer's whole rule set, with the switch's own CliRuleSet."""

    url = serializers.HyperlinkedIdentityField(view_name="api:clirule-detail")

    class Meta:
        model = CliRule
        fields = ("id", "url", "customer", "cli", "pai", "rewrite_cli", "rewrite_pai", "forced", "direction",
                  "dialed_number_match", "use_did", "notes", "created", "updated")
        read_only_fields = ("created", "updated")
        # Patterns and replacements may hold spaces; keep what was typed.
        extra_kwargs = {name: {"trim_whitespace": False}
                        for name in ("cli", "pai", "rewrite_cli", "rewrite_pai", "dialed_number_match")}

    def create(self, validated_data: dict[str, Any]) -> CliRule:
        return self._save(CliRule(**validated_data))

    def update(self, instance: CliRule, validated_data: dict[str, Any]) -> CliRule:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)

    @staticmethod
    def _save(rule: CliRule) -> CliRule:
        try:
            return cli_rule_save(rule=rule)
        except DjangoValidationError as error:
            raise as_api_error(error) from error


class CliTestSerializer(serializers.Serializer):
    """A call presented to a customer's saved CLI rules."""

    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    cli = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=MAX_SUBJECT_LENGTH)
    pai = serializers.CharField(required=False, allow_null=True, default=None, trim_whitespace=False,
                                max_length=MAX_SUBJECT_LENGTH,
                                help_text="The P-Asserted-ID; null or absent = the call has none.")
    dialed = serializers.CharField(allow_blank=True, default="", trim_whitespace=False, max_length=MAX_SUBJECT_LENGTH,
                                   help_text="The dialled number as received, tech prefix included.")
    direction = serializers.ChoiceField(choices=CliDirection.choices, default=CliDirection.OUTBOUND)
    seed = serializers.IntegerField(required=False, allow_null=True, default=None,
                                    help_text="Seeds the pick among several forced rules, for a repeatable answer; "
                                              "null = random.")


class CliTestResultSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    cli = serializers.CharField(help_text="The CLI as the call leaves: rewritten or forced, else as received.")
    pai = serializers.CharField(allow_null=True)
    forced = serializers.BooleanField(help_text="The CLI was replaced by a forced rule's.")
    rule = serializers.IntegerField(allow_null=True, help_text="The rule that matched or was forced.")
    code = serializers.IntegerField(allow_null=True, help_text="The SIP code of a rejection.")
    reason = serializers.CharField(allow_null=True, help_text="The SIP reason of a rejection.")
    trace = serializers.CharField(help_text="The line the call trace shows for this step.")
