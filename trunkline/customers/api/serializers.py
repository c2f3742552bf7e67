from rest_framework import serializers

from trunkline.core.api.fields import TagListField
from trunkline.core.api.serializers import BaseModelSerializer
from trunkline.customers.models import Customer


class CustomerSerializer(BaseModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:customer-detail")
    tags = TagListField(required=False)

    class Meta:
        model = Customer
        fields = ("id", "url", "name", "paypal_email", "website", "status", "debit_limit", "minimum_payment",
                  "tax_rate", "currency", "portal_access", "address_line1", "address_line2", "city", "region",
                  "postcode", "country", "channels", "cps", "tags", "vars", "email_verification",
                  "mobile_verification", "approved_clis_only", "notes", "balance", "created", "updated")
        read_only_fields = ("balance", "created", "updated")
