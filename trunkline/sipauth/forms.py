from typing import Any

from django import forms

from trunkline.core.forms import TagsField
from trunkline.customers.forms import IpListField
from trunkline.customers.models import Customer
from trunkline.sipauth.choices import RewriteType
from trunkline.sipauth.models import IpAuth, SipUser
from trunkline.sipauth.selectors import stored_rules
from trunkline.switch.regex import MAX_SUBJECT_LENGTH

REWRITE_ARROW = "=>"
REWRITE_HELP = (f"One rule per line, applied top to bottom: <type>: <current> {REWRITE_ARROW} <new>, where type is "
                f"destination or cli. Current is a prefix (digits, +, #, *) or a regular expression; new may use $1, "
                f"\\1 and $<name>. Example: destination: 00 {REWRITE_ARROW} +  ·  cli: ^0(\\d+)$ {REWRITE_ARROW} 44$1")


class RewritesField(forms.CharField):
    """The Parameter Rewrite tab: the owner's rules as text lines, parsed into (type, match, replace); each rule is
    then checked by the model's full_clean() when saved, so what saves is what the switch can run."""

    widget = forms.Textarea(attrs={"rows": 6, "class": "mono"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, strip=False, label="Parameter rewrites", help_text=REWRITE_HELP, **kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list):
            return "\n".join(f"{kind}: {match} {REWRITE_ARROW} {replace}" for kind, match, replace in value)
        return value or ""

    def to_python(self, value: Any) -> list[tuple[str, str, str]]:
        rules = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            kind, colon, rest = line.partition(":")
            kind = kind.strip().lower()
            match, arrow, replace = rest.rpartition(REWRITE_ARROW)
            if not colon or not arrow or kind not in RewriteType.values:
                raise forms.ValidationError(f"Line {number}: write <type>: <current> {REWRITE_ARROW} <new>, type "
                                            f"destination or cli.")
            rules.append((kind, match.strip(), replace.strip()))
        return rules


class _AuthForm(forms.ModelForm):
    """Shared by both Auth forms: the customer is fixed (added from a card or being edited) and the password is
    write-only (never shown; blank keeps the stored one)."""

    rewrites = RewritesField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["rewrites"] = stored_rules(self.instance)
        if self.instance.customer_id:
            self.fields["customer"].disabled = True
            self.fields["customer"].queryset = Customer.objects.filter(pk=self.instance.customer_id)
            self.fields["customer"].empty_label = None


class IpAuthForm(_AuthForm):
    codecs = TagsField(help_text="Comma-separated, e.g. PCMA, PCMU, G729; empty = every codec.")
    password = forms.CharField(required=False, strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}), help_text="Write-only: leave blank to keep the stored password.")

    fieldsets = (
        ("Basic", (("", ("customer", "ip", "direction", "channels", "cps")),)),
        ("Advanced", (
            ("Codecs and equipment", ("codecs", "manufacturer", "version")),
            ("Signalling", ("protocol", "port", "dial_pattern")),
            ("Numbers", ("cli_prefix", "tech_prefix", "strip_digits", "bandwidth")),
            ("SIP registration", ("force_from", "username", "password")),
            ("Behaviour", ("force_nat", "intercept_reinvite", "cli_authentication")),
        )),
        ("Parameter Rewrite", (("", ("rewrites",)),)),
    )

    class Meta:
        model = IpAuth
        fields = ("customer", "ip", "direction", "channels", "cps", "codecs", "manufacturer", "version", "protocol",
                  "port", "dial_pattern", "cli_prefix", "tech_prefix", "strip_digits", "bandwidth", "force_from",
                  "username", "force_nat", "intercept_reinvite", "cli_authentication")
        labels = {"direction": "Ingress / egress"}
        help_texts = {"direction": "Seen from the customer's switch (PBX, dialer)."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.password:
            self.fields["password"].help_text = "A password is set. Write-only: leave blank to keep it."


class SipUserForm(_AuthForm):
    password = forms.CharField(required=False, strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}), help_text="Write-only: only its digest is stored. Needed for a new "
                                                           "user or a new username; blank keeps the stored one.")
    ip_whitelist = IpListField(label="IP whitelist", required=False,
                               help_text="IPs or networks the user may call from, one per line; empty = any.")

    fieldsets = (
        ("Basic", (("", ("customer", "username", "password", "channels", "cps", "ip_whitelist", "nat_ping")),)),
        ("Parameter Rewrite", (("", ("rewrites",)),)),
        ("Voice Mail", (("", ("voicemail_enabled", "voicemail_email")),)),
    )

    class Meta:
        model = SipUser
        fields = ("customer", "username", "channels", "cps", "ip_whitelist", "nat_ping", "voicemail_enabled",
                  "voicemail_email")
        labels = {"username": "SIP username"}


class RewriteTestForm(forms.Form):
    destination = forms.CharField(required=False, label="Destination number", max_length=MAX_SUBJECT_LENGTH)
    cli = forms.CharField(required=False, label="CLI", max_length=MAX_SUBJECT_LENGTH)

