from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Count, Q, QuerySet
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from trunkline.core.api.exceptions import as_api_error
from trunkline.core.api.fields import IPListField, TagListField
from trunkline.core.api.serializers import BaseModelSerializer
from trunkline.core.models import Job
from trunkline.customers.choices import DeliveryStatus
from trunkline.customers.models import Contact, Customer, Message, MessageDelivery, NumberBlock
from trunkline.customers.services import (
    check_contact_password,
    contact_save,
    message_send,
    number_block_assign,
)

EMAIL_TAKEN = "Another contact already has this email; it is the portal login, so it must be unique."
PASSWORD_NEEDED = "Give a password, or set auto_generate_password to email a generated one to the contact."
PASSWORD_OR_GENERATE = "Give a password or ask for a generated one, not both."
NO_BULK_PASSWORDS = "Passwords are set one contact at a time (POST .../reset-password/), never in a bulk edit."
NO_IMPORTED_EMAILS = ("Auto-generated passwords are not sent from an import (a later bad row would undo contacts "
                      "whose password email already went out); give a password column, or create these contacts "
                      "one at a time.")


class CustomerSerializer(BaseModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:customer-detail")
    tags = TagListField(required=False)

    # A plain create (Customer.save() only remembers the currency): a 200,000-row import inserts in batches.
    import_bulk_create = True

    class Meta:
        model = Customer
        fields = ("id", "url", "name", "paypal_email", "website", "status", "debit_limit", "minimum_payment",
                  "tax_rate", "currency", "portal_access", "address_line1", "address_line2", "city", "region",
                  "postcode", "country", "channels", "cps", "tags", "vars", "email_verification",
                  "mobile_verification", "approved_clis_only", "notes", "balance", "created", "updated")
        read_only_fields = ("balance", "created", "updated")


#
# Contacts
#


class ContactSerializer(BaseModelSerializer):
    """A contact; the password goes in (typed, or generated and emailed by contact_save) and never comes out."""

    url = serializers.HyperlinkedIdentityField(view_name="api:contact-detail")
    ip_whitelist = IPListField(required=False, help_text="IPs or networks (CIDR) the contact may log in from; "
                                                         "empty = any.")
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                     style={"input_type": "password"},
                                     help_text="Write-only. Checked for length and strength; stored as a hash.")
    auto_generate_password = serializers.BooleanField(
        write_only=True, required=False,
        help_text="Write-only. Generate a password and email it to the contact; if the email cannot be sent, "
                  "nothing is saved.")

    # The hash is set and checked by contact_save(), never by the generic model validation.
    clean_exclude = ("password",)

    class Meta:
        model = Contact
        fields = ("id", "url", "customer", "name", "email", "phone", "mobile", "contact_type", "public_notes",
                  "private_notes", "email_verified", "mobile_verified", "ip_whitelist", "password",
                  "auto_generate_password", "created", "updated")
        read_only_fields = ("created", "updated")
        extra_kwargs = {
            # Case-insensitive: the model stores emails lowercased, so Alice@ and alice@ are one login.
            "email": {"validators": [UniqueValidator(queryset=Contact.objects.all(), lookup="iexact",
                                                     message=EMAIL_TAKEN)]},
            # As typed ("+44 7911 123456"): the model normalises to E.164 first, then validates.
            "phone": {"validators": [], "max_length": 32},
            "mobile": {"validators": [], "max_length": 32},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password: str = attrs.pop("password", "")
        auto_generate: bool = attrs.pop("auto_generate_password", False)
        action = getattr(self.context.get("view"), "action", None)
        if action in ("bulk_update", "bulk_partial_update") and (password or auto_generate):
            raise serializers.ValidationError({"password": [NO_BULK_PASSWORDS]})
        if action == "bulk_import" and auto_generate:
            raise serializers.ValidationError({"auto_generate_password": [NO_IMPORTED_EMAILS]})
        if password and auto_generate:
            raise serializers.ValidationError({"password": [PASSWORD_OR_GENERATE]})
        if self.instance is None and not password and not auto_generate:
            raise serializers.ValidationError({"password": [PASSWORD_NEEDED]})
        attrs = super().validate(attrs)
        if password:
            # Checked here too (contact_save checks again) so bulk imports report it by row before writing anything.
            notes = {name: attrs.get(name, getattr(self.instance, name, "")) for name in ("public_notes",
                                                                                         "private_notes")}
            try:
                check_contact_password(Contact(**notes), password)
            except DjangoValidationError as error:
                raise as_api_error(error) from error
        return {**attrs, "password": password, "auto_generate_password": auto_generate}

    def create(self, validated_data: dict[str, Any]) -> Contact:
        password = validated_data.pop("password", "")
        auto_generate = validated_data.pop("auto_generate_password", False)
        return self._save(Contact(**validated_data), password, auto_generate)

    def update(self, instance: Contact, validated_data: dict[str, Any]) -> Contact:
        password = validated_data.pop("password", "")
        auto_generate = validated_data.pop("auto_generate_password", False)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, password, auto_generate)

    @staticmethod
    def _save(contact: Contact, password: str, auto_generate: bool) -> Contact:
        try:
            return contact_save(contact=contact, password=password, auto_generate_password=auto_generate)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        except IntegrityError as error:
            # The email is the one unique column: another request took it between validation and save.
            raise serializers.ValidationError({"email": [EMAIL_TAKEN]}) from error


class ContactResetPasswordSerializer(serializers.Serializer):
    auto_generate = serializers.BooleanField(required=False, default=False,
                                             help_text="Generate a password and email it to the contact.")
    password = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, write_only=True,
                                     style={"input_type": "password"}, help_text="The new password, typed.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("auto_generate") and attrs.get("password"):
            raise serializers.ValidationError({"password": [PASSWORD_OR_GENERATE]})
        return attrs


#
# Internal number blocks
#


class NumberBlockSerializer(BaseModelSerializer):
    """Only `customer` is given: number_block_assign() picks the next free block of the Settings range."""

    url = serializers.HyperlinkedIdentityField(view_name="api:numberblock-detail")
    size = serializers.IntegerField(read_only=True)

    clean_exclude = ("start", "end")

    class Meta:
        model = NumberBlock
        fields = ("id", "url", "customer", "start", "end", "size", "created", "updated")
        read_only_fields = ("start", "end", "created", "updated")

    def create(self, validated_data: dict[str, Any]) -> NumberBlock:
        try:
            return number_block_assign(customer=validated_data["customer"])
        except DjangoValidationError as error:
            raise as_api_error(error) from error


#
# Messages and their deliveries
#


def with_delivery_counts(queryset: QuerySet[Message]) -> QuerySet[Message]:
    counts = {f"deliveries_{status}": Count("deliveries", filter=Q(deliveries__status=status))
              for status in DeliveryStatus.values}
    return queryset.annotate(deliveries_total=Count("deliveries"), **counts)


class DeliveryCountsSerializer(serializers.Serializer):
    """Read from the counts with_delivery_counts() annotates."""

    total = serializers.IntegerField(source="deliveries_total")
    queued = serializers.IntegerField(source="deliveries_queued")
    sending = serializers.IntegerField(source="deliveries_sending")
    sent = serializers.IntegerField(source="deliveries_sent")
    failed = serializers.IntegerField(source="deliveries_failed")


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ("id", "status", "attempts", "progress_done", "progress_total", "last_error", "created", "finished")


class MessageSerializer(serializers.ModelSerializer):
    """POST queues the message for every contact of the given customers (message_send); a job sends it."""

    url = serializers.HyperlinkedIdentityField(view_name="api:message-detail")
    customers = serializers.PrimaryKeyRelatedField(
        many=True, write_only=True, queryset=Customer.objects.all(),
        help_text="Email goes to every contact email of these customers, SMS to every contact mobile.")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    job = JobSerializer(read_only=True)
    delivery_counts = DeliveryCountsSerializer(source="*", read_only=True)

    class Meta:
        model = Message
        fields = ("id", "url", "channel", "subject", "body", "customers", "created_by", "job", "delivery_counts",
                  "created", "updated")
        read_only_fields = ("created", "updated")
        # message_send() says what is missing ("An email needs a subject."), not the generic blank message; the
        # body is kept as typed (line breaks and indentation are part of the message).
        extra_kwargs = {
            "subject": {"required": False, "allow_blank": True,
                        "help_text": "One line (no control characters); may use the placeholders of the body."},
            "body": {"allow_blank": True, "trim_whitespace": False,
                     "help_text": "The placeholders {{ customer.name }}, {{ contact.name }} and {{ company }} are "
                                  "filled per recipient with plain text; any other {{ ... }} or {% ... %} is "
                                  "refused."},
        }

    def create(self, validated_data: dict[str, Any]) -> Message:
        request = self.context.get("request")
        try:
            message = message_send(customers=validated_data["customers"], channel=validated_data["channel"],
                                   subject=validated_data.get("subject", ""), body=validated_data["body"],
                                   user=getattr(request, "user", None))
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        return with_delivery_counts(Message.objects.select_related("job", "created_by")).get(pk=message.pk)


class MessageDeliverySerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="message.channel", read_only=True)

    class Meta:
        model = MessageDelivery
        fields = ("id", "message", "channel", "customer", "contact", "recipient", "subject", "body", "status",
                  "error", "provider_id", "created", "sent_at")
        read_only_fields = fields
