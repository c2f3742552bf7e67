from typing import Any

from django import forms

from trunkline.core.models import SystemSettings

SECRET_FIELDS = ("smtp_password", "sms_auth_token")


class SettingsForm(forms.ModelForm):
    """Setup > Settings. Secrets are never shown: a blank secret keeps the stored one; tick "clear" to remove it."""

    sms_api_url = forms.URLField(label="SMS API URL", required=False, assume_scheme="https",
                                 help_text=SystemSettings._meta.get_field("sms_api_url").help_text)
    clear_smtp_password = forms.BooleanField(required=False, label="Clear the stored SMTP password")
    clear_sms_auth_token = forms.BooleanField(required=False, label="Clear the stored SMS auth token")

    fieldsets = (
        ("Company", (("", ("company_name", "company_address")),)),
        ("Email", (
            ("Sender", ("email_from",)),
            ("SMTP server", ("smtp_host", "smtp_port", "smtp_security")),
            ("SMTP login", ("smtp_username", "smtp_password", "clear_smtp_password")),
        )),
        ("SMS", (
            ("Provider (Twilio-compatible)", ("sms_api_url", "sms_account_sid", "sms_from")),
            ("Secret", ("sms_auth_token", "clear_sms_auth_token")),
        )),
        ("Options", (("Internal number blocks", ("number_range_start", "number_block_size")),)),
    )

    class Meta:
        model = SystemSettings
        fields = ("company_name", "company_address", "email_from", "smtp_host", "smtp_port", "smtp_security",
                  "smtp_username", "smtp_password", "sms_api_url", "sms_account_sid", "sms_auth_token", "sms_from",
                  "number_range_start", "number_block_size")
        widgets = {
            "smtp_password": forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            "sms_auth_token": forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            "company_address": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "number_range_start": "First number of the first block, e.g. 1000.",
            "number_block_size": "Numbers per customer block, e.g. 1000: the first customer gets 1000–1999.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            stored = getattr(self.instance, name)
            self.fields[name].required = False
            self.fields[name].help_text = ("Stored; leave blank to keep it." if stored else "Not set.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in SECRET_FIELDS:
            if data.get(f"clear_{name}"):
                data[name] = ""
            elif not data.get(name):
                data[name] = self.initial.get(name, "")
        return data


class TestEmailForm(forms.Form):
    to = forms.EmailField(label="Send a test email to")


class TestSmsForm(forms.Form):
    to = forms.CharField(label="Send a test SMS to", help_text="E.164, such as +447911123456.")
