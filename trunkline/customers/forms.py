from decimal import Decimal

from django import forms

from trunkline.core.forms import BulkEditForm, NoScientificNotationMixin, TagsField, display_decimal
from trunkline.core.validators import COUNTRY_CHOICES, CURRENCY_CHOICES, normalize_tags
from trunkline.customers.choices import CustomerStatus
from trunkline.customers.models import Customer


class CustomerForm(NoScientificNotationMixin, forms.ModelForm):
    """The add / edit form; its fieldsets are the tabs of the edit dialog."""

    tags = TagsField()
    website = forms.URLField(required=False, assume_scheme="https")
    currency = forms.ChoiceField(choices=[("", "—"), *CURRENCY_CHOICES])
    country = forms.ChoiceField(choices=[("", "—"), *COUNTRY_CHOICES], required=False)

    # Tabs of the edit dialog, each a list of (section heading, fields).
    fieldsets = (
        ("Basic", (
            ("Account", ("name", "status", "currency", "portal_access")),
            ("Money and capacity", ("debit_limit", "minimum_payment", "tax_rate", "channels", "cps")),
            ("Contact and address", ("paypal_email", "website", "address_line1", "address_line2", "city", "region",
                                     "postcode", "country")),
        )),
        ("Config", (("", ("tags", "vars")),)),
        ("Verification", (("", ("email_verification", "mobile_verification", "approved_clis_only")),)),
        ("Notes", (("", ("notes",)),)),
    )

    class Meta:
        model = Customer
        fields = ("name", "paypal_email", "website", "status", "debit_limit", "minimum_payment", "tax_rate",
                  "currency", "portal_access", "address_line1", "address_line2", "city", "region", "postcode",
                  "country", "channels", "cps", "tags", "vars", "email_verification", "mobile_verification",
                  "approved_clis_only", "notes")
        widgets = {
            "vars": forms.Textarea(attrs={"rows": 10, "class": "mono"}),
            "notes": forms.Textarea(attrs={"rows": 5}),
        }
        help_texts = {
            "currency": "Cannot be changed once the customer exists.",
            "debit_limit": "How far below zero the balance may go (postpaid credit). 0 = prepaid.",
            "minimum_payment": "The smallest top-up the customer may make.",
            "tax_rate": "Percent, added on top of charges.",
            "vars": "TOML, read by scripts and features; for example a [cli] table with persist = true.",
            "status": "Only Active customers can pass calls. New signups start as Pending Approval.",
            "email_verification": "The customer must verify an email address in the portal before dialling.",
            "mobile_verification": "The customer must verify a mobile number in the portal before dialling.",
            "approved_clis_only": "The customer must prove each CLI in the portal before using it.",
            "notes": "Private: shown in the control panel only.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["currency"].disabled = True
        for name, field in self.fields.items():
            if isinstance(field, forms.DecimalField) and isinstance(self.initial.get(name), Decimal):
                self.initial[name] = display_decimal(self.initial[name])


class CustomerBulkEditForm(BulkEditForm):
    status = forms.ChoiceField(choices=[("", "— no change —"), *CustomerStatus.choices], required=False)
    channels = forms.IntegerField(min_value=0, required=False, help_text="0 = unlimited")
    cps = forms.IntegerField(min_value=0, required=False, label="CPS", help_text="0 = unlimited")
    debit_limit = forms.DecimalField(min_value=0, decimal_places=6, required=False)
    tax_rate = forms.DecimalField(min_value=0, max_value=100, decimal_places=4, required=False, label="Tax %")
    add_tags = forms.CharField(required=False, help_text="Comma-separated; added to each customer's tags.")
    remove_tags = forms.CharField(required=False, help_text="Comma-separated; removed where present.")
    portal_access = forms.NullBooleanField(required=False, widget=forms.Select(choices=[
        ("unknown", "— no change —"), ("true", "Yes"), ("false", "No")]))

    def apply(self, obj: Customer) -> None:
        data = self.cleaned_data
        for name in ("status", "channels", "cps", "debit_limit", "tax_rate", "portal_access"):
            if data.get(name) not in (None, ""):
                setattr(obj, name, data[name])
        tags = list(obj.tags)
        tags += [tag for tag in normalize_tags(data.get("add_tags")) if tag not in tags]
        remove = {tag.lower() for tag in normalize_tags(data.get("remove_tags"))}
        obj.tags = [tag for tag in tags if tag.lower() not in remove]
