from decimal import Decimal
from typing import Any

from django import forms

from trunkline.core.forms import BulkEditForm, NoScientificNotationMixin, TagsField, display_decimal
from trunkline.core.validators import COUNTRY_CHOICES, CURRENCY_CHOICES, normalize_ip_list, normalize_tags
from trunkline.customers.choices import CustomerStatus, MessageChannel
from trunkline.customers.models import Contact, Customer


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


class IpListField(forms.CharField):
    """The IP whitelist typed one per line or comma-separated; a list in the model."""

    widget = forms.Textarea(attrs={"rows": 3, "class": "mono"})

    def prepare_value(self, value: Any) -> str:
        return "\n".join(value) if isinstance(value, list) else value or ""

    def to_python(self, value: Any) -> list[str]:
        return normalize_ip_list(value)


# Shown or hidden by trunkline.js as the box is ticked: typing a password makes sense only when none is generated.
_TYPED_PASSWORD = {"data-show-if": "!auto_generate_password", "autocomplete": "new-password"}


class PasswordChoiceMixin(forms.Form):
    """Auto Generate Password (emailed to the contact) or a password typed twice. The service checks its strength
    and that the notes do not hold it; this form only checks that both typings agree."""

    auto_generate_password = forms.BooleanField(
        label="Auto Generate Password", required=False, initial=True,
        help_text="A new password is generated and emailed to the contact. Untick to type one.")
    password = forms.CharField(required=False, strip=False, widget=forms.PasswordInput(attrs=_TYPED_PASSWORD),
                               help_text="At least 10 characters, not a common password.")
    password_confirm = forms.CharField(label="Password again", required=False, strip=False,
                                       widget=forms.PasswordInput(attrs=_TYPED_PASSWORD))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("auto_generate_password") and data.get("password") != data.get("password_confirm"):
            self.add_error("password_confirm", "The two passwords differ; type the same password twice.")
        return data

    def chosen_password(self) -> tuple[str, bool]:
        """(typed password, auto-generate?) as the services take them."""
        auto = bool(self.cleaned_data.get("auto_generate_password"))
        return ("" if auto else self.cleaned_data.get("password", "")), auto


class ContactForm(PasswordChoiceMixin, forms.ModelForm):
    """Add or edit a contact. The password is chosen on add only; afterwards the key icon resets it."""

    ip_whitelist = IpListField(label="IP whitelist", required=False,
                               help_text="IPs or networks (CIDR) the contact may log into the portal from, one per "
                                         "line or comma-separated. Empty = any.")

    class Meta:
        model = Contact
        fields = ("customer", "name", "email", "phone", "mobile", "contact_type", "public_notes", "private_notes",
                  "email_verified", "mobile_verified", "ip_whitelist")
        widgets = {
            "public_notes": forms.Textarea(attrs={"rows": 3}),
            "private_notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"email": "Email (portal login)"}
        help_texts = {
            "public_notes": "Shown to the customer in the portal. Do not put passwords here.",
            "private_notes": "Shown in the control panel only. Do not put passwords here.",
            "email_verified": "Normally the contact verifies it in the portal.",
            "mobile_verified": "Normally the contact verifies it in the portal.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fixed = self.instance.customer_id
        if fixed:
            # Added from a card (the view sets it) or being edited: the customer is settled. One option keeps the
            # page small.
            self.fields["customer"].disabled = True
            self.fields["customer"].queryset = Customer.objects.filter(pk=fixed)
            self.fields["customer"].empty_label = None
        if self.instance.pk:
            for name in ("auto_generate_password", "password", "password_confirm"):
                del self.fields[name]
        password = (("Password", ("auto_generate_password",)), ("", ("password", "password_confirm")))
        self.fieldsets = (("Contact", (
            ("", ("customer", "name", "email", "phone", "mobile", "contact_type")),
            *(() if self.instance.pk else password),
            ("Notes", ("public_notes", "private_notes")),
            ("Verification and portal access", ("email_verified", "mobile_verified", "ip_whitelist")),
        )),)


class ContactPasswordForm(PasswordChoiceMixin):
    """The key icon: a new password, generated and emailed, or typed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["auto_generate_password"].label = "Auto Generate & Email Password"
        self.fields["auto_generate_password"].help_text = "Untick to type the new password yourself."


class SendMessageForm(forms.Form):
    """Send Email & SMS to the selected customers' contacts; the service validates the message itself."""

    channel = forms.ChoiceField(choices=MessageChannel.choices, initial=MessageChannel.EMAIL,
                                widget=forms.RadioSelect)
    subject = forms.CharField(required=False, max_length=200,
                              widget=forms.TextInput(attrs={"data-show-if": "channel=email"}))
    body = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 8}))
