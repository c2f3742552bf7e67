from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from trunkline.core.api.exceptions import as_api_error
from trunkline.core.api.viewsets import BaseModelViewSet, BulkDestroyMixin
from trunkline.customers.api.serializers import (
    ContactResetPasswordSerializer,
    ContactSerializer,
    CustomerSerializer,
    MessageDeliverySerializer,
    MessageSerializer,
    NumberBlockSerializer,
    with_delivery_counts,
)
from trunkline.customers.filtersets import (
    ContactFilterSet,
    CustomerFilterSet,
    MessageDeliveryFilterSet,
    MessageFilterSet,
    NumberBlockFilterSet,
)
from trunkline.customers.models import Contact, Customer, Message, MessageDelivery, NumberBlock
from trunkline.customers.services import contact_reset_password, number_block_release


class CustomerViewSet(BaseModelViewSet):
    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet
    ordering_fields = ("id", "name", "status", "currency", "balance", "debit_limit", "minimum_payment", "tax_rate",
                       "channels", "cps", "country", "city", "region", "postcode", "address_line1", "paypal_email",
                       "website", "portal_access", "email_verification", "mobile_verification",
                       "approved_clis_only", "created", "updated")
    import_required_columns = ("name", "currency")


class ContactViewSet(BaseModelViewSet):
    """Contacts of customers. Writes go through contact_save(): password strength, the notes check, and the
    emailed password of auto_generate_password (no email, no contact)."""

    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    filterset_class = ContactFilterSet
    ordering_fields = ("id", "customer", "name", "email", "phone", "mobile", "contact_type", "email_verified",
                       "mobile_verified", "created", "updated")  # never the password hash
    import_required_columns = ("customer", "name", "email")

    @extend_schema(request=ContactResetPasswordSerializer,
                   responses={200: inline_serializer("ContactPasswordReset", {
                       "detail": serializers.CharField(), "contact": ContactSerializer()})})
    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request: Request, pk: str | None = None) -> Response:
        """The key icon: {"auto_generate": true} emails a generated password; {"password": "..."} sets one."""
        contact = self.get_object()
        serializer = ContactResetPasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        auto_generate = serializer.validated_data["auto_generate"]
        try:
            contact_reset_password(contact=contact, password=serializer.validated_data.get("password", ""),
                                   auto_generate=auto_generate)
        except DjangoValidationError as error:
            raise as_api_error(error) from error
        detail = (f"A new password was emailed to {contact.email}." if auto_generate
                  else "The password was changed.")
        return Response({"detail": detail, "contact": self.get_serializer(contact).data})


class NumberBlockViewSet(BulkDestroyMixin, mixins.CreateModelMixin, mixins.ListModelMixin,
                         mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Internal number blocks. POST {"customer": id} assigns the next free block of the Settings range; DELETE
    releases it. A block is never edited: release it and assign another."""

    queryset = NumberBlock.objects.all()
    serializer_class = NumberBlockSerializer
    filterset_class = NumberBlockFilterSet
    ordering_fields = ("id", "customer", "start", "end", "created", "updated")

    def perform_destroy(self, instance: NumberBlock) -> None:
        number_block_release(block=instance)


class MessageViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet):
    """Send Email & SMS. POST queues one delivery per recipient and a job that sends them; GET shows the counts
    per delivery status and the job's progress. A sent message is a record: never edited or deleted."""

    queryset = with_delivery_counts(Message.objects.select_related("job", "created_by"))
    serializer_class = MessageSerializer
    filterset_class = MessageFilterSet
    ordering_fields = ("id", "channel", "subject", "created_by", "created", "updated")


class MessageDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """The delivery log: one row per recipient of a message (queued, sending, sent, or failed with the error)."""

    queryset = MessageDelivery.objects.select_related("message")
    serializer_class = MessageDeliverySerializer
    filterset_class = MessageDeliveryFilterSet
    ordering_fields = ("id", "message", "customer", "contact", "recipient", "status", "provider_id", "created",
                       "sent_at")
