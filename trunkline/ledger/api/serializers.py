from rest_framework import serializers

from trunkline.core.api.fields import DecimalField
from trunkline.core.money import MONEY_MAX_DIGITS, MONEY_PLACES
from trunkline.ledger.models import LedgerEntry
from trunkline.ledger.services import REASON_MAX_LENGTH


class LedgerEntrySerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                              help_text="The operator who posted it; null for calls and the system.")

    class Meta:
        model = LedgerEntry
        fields = ("id", "customer", "kind", "amount", "balance_after", "cdr_id", "reference", "reason", "created_by",
                  "created_at")
        read_only_fields = fields


class AdjustBalanceSerializer(serializers.Serializer):
    """Only the shape here (a number, a text); the service checks the rest and names the field it refuses."""

    amount = DecimalField(max_digits=None, decimal_places=None,
                          help_text=f"Signed, at most {MONEY_PLACES} decimals: 25.50 credits the customer, -10 debits "
                                    f"it. Not 0.")
    # Blank passes here so that the service's message, and the amount's error beside it, come back together.
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH, allow_blank=True,
                                   help_text="Why: shown in the ledger and the audit log.")


class AdjustBalanceResultSerializer(serializers.Serializer):
    entry = LedgerEntrySerializer()
    balance = serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES,
                                       help_text="The customer's balance after the adjustment.")
