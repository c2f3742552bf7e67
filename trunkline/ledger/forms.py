from decimal import Decimal, InvalidOperation

from django import forms

from trunkline.core.money import MONEY_PLACES, SCIENTIFIC_NOTATION_MESSAGE, is_scientific_notation
from trunkline.ledger.services import REASON_MAX_LENGTH


class AdjustBalanceForm(forms.Form):
    """The card's Adjust balance: only the shape here; customer_adjust_balance() checks the rest by field."""

    amount = forms.CharField(max_length=40, help_text=f"25.50 credits the customer, -10 debits it; at most "
                                                      f"{MONEY_PLACES} decimals.",
                             widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off",
                                                           "placeholder": "e.g. 25.50 or -10"}))
    reason = forms.CharField(max_length=REASON_MAX_LENGTH, help_text="Shown in the ledger and the audit log.",
                             widget=forms.TextInput(attrs={"placeholder": "e.g. Bank transfer received 6 Dec"}))

    def clean_amount(self) -> Decimal:
        text = self.cleaned_data["amount"].strip().replace(",", "")
        if is_scientific_notation(text):
            raise forms.ValidationError(SCIENTIFIC_NOTATION_MESSAGE.format(value=text))
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError("Give a number such as 25.50 or -10.") from None
        if not amount.is_finite():
            raise forms.ValidationError("Give a number such as 25.50 or -10.")
        return amount
