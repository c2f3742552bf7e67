from typing import Any

from django import forms

from trunkline.core.forms import BulkEditForm, NoScientificNotationMixin
from trunkline.core.validators import CURRENCY_CHOICES
from trunkline.routing.choices import ProviderStatus, RateCardKind, Transport
from trunkline.routing.models import DEFAULT_SIP_PORT, Provider, RateCard
from trunkline.routing.ratefile import COLUMNS


class GatewaysField(forms.CharField):
    """The gateways typed one per line as host[:port][/transport]; the model's validator checks each."""

    widget = forms.Textarea(attrs={"rows": 4, "class": "mono", "placeholder": "198.51.100.7:5060/udp"})

    def prepare_value(self, value: Any) -> str:
        if not isinstance(value, list):
            return value or ""
        return "\n".join(f"{gw.get('host')}:{gw.get('port', DEFAULT_SIP_PORT)}/{gw.get('transport', 'udp')}"
                         for gw in value if isinstance(gw, dict))

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        gateways = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            address, _, transport = line.partition("/")
            host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
            if port and not port.isdigit():
                raise forms.ValidationError(f"Line {number}: the port '{port}' is not a number.")
            gateways.append({"host": host.strip(), "port": int(port) if port else DEFAULT_SIP_PORT,
                             "transport": (transport.strip() or Transport.UDP).lower()})
        return gateways


class ProviderForm(forms.ModelForm):
    gateways = GatewaysField(
        required=False,
        help_text="One gateway per line: host:port/transport, e.g. 198.51.100.7:5060/udp or sip.example.net/tls. "
                  "The port defaults to 5060 and the transport to udp.")

    fieldsets = (("Provider", (
        ("", ("name", "status", "tech_prefix")),
        ("Gateways", ("gateways",)),
        ("Capacity", ("channels", "cps")),
        ("Notes", ("notes",)),
    )),)

    class Meta:
        model = Provider
        fields = ("name", "status", "gateways", "channels", "cps", "tech_prefix", "notes")
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


class RateCardForm(forms.ModelForm):
    currency = forms.ChoiceField(choices=[("", "—"), *CURRENCY_CHOICES])

    fieldsets = (("Rate card", (
        ("", ("name", "kind", "currency", "provider")),
        ("Routing (customer cards)", ("egress_cards", "strategy")),
        ("Notes", ("notes",)),
    )),)

    class Meta:
        model = RateCard
        fields = ("name", "kind", "currency", "provider", "egress_cards", "strategy", "notes")
        widgets = {"notes": forms.Textarea(attrs={"rows": 3}),
                   "egress_cards": forms.SelectMultiple(attrs={"size": 6})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["egress_cards"].queryset = RateCard.objects.filter(kind=RateCardKind.PROVIDER).order_by("name")
        self.fields["egress_cards"].help_text = ("Customer cards: the provider cards that may carry its calls (same "
                                                 "currency). Ctrl-click to pick several.")
        if self.instance.pk:
            # Set once (the model refuses a change): shown, not offered.
            for name in ("kind", "currency"):
                self.fields[name].disabled = True


class RateImportForm(NoScientificNotationMixin, forms.Form):
    """Options of a rate deck import; the service (ratefile) checks the file and the mapping."""

    file = forms.FileField(required=False, help_text="A CSV file; or paste the rows below instead.")
    csv = forms.CharField(label="CSV text", required=False, strip=False,
                          widget=forms.Textarea(attrs={"rows": 8, "class": "mono",
                                                       "placeholder": "prefix,name,rate,connection_fee,mcd,pulse,"
                                                                      "grace,status\n44,UK,0.012,0,1,1,0,active"}))
    start_row = forms.IntegerField(min_value=1, initial=2,
                                   help_text="The first row read, as the file counts rows: 2 skips one header line.")
    columns = forms.CharField(initial=",".join(COLUMNS), widget=forms.TextInput(attrs={"class": "mono"}),
                              help_text=f"The field of each CSV column, left to right, comma-separated: "
                                        f"{', '.join(COLUMNS)}; '-' skips a column. prefix and rate are required.")
    note = forms.CharField(required=False, max_length=200, help_text="Kept on the new revision.")
    date_live = forms.DateTimeField(label="Date live (UTC)", required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                    help_text="Empty = active at once; a future date schedules the activation.")

    fieldsets = (("Import", (
        ("File", ("file", "csv")),
        ("Layout", ("start_row", "columns")),
        ("Revision", ("note", "date_live")),
    )),)


class RevisionScheduleForm(forms.Form):
    date_live = forms.DateTimeField(label="Date live (UTC)",
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class ProviderBulkEditForm(BulkEditForm):
    status = forms.ChoiceField(choices=[("", "— no change —"), *ProviderStatus.choices], required=False)
    channels = forms.IntegerField(min_value=0, required=False, help_text="0 = unlimited")
    cps = forms.IntegerField(min_value=0, required=False, label="CPS", help_text="0 = unlimited")

    def apply(self, obj: Provider) -> None:
        for name in ("status", "channels", "cps"):
            if self.cleaned_data.get(name) not in (None, ""):
                setattr(obj, name, self.cleaned_data[name])
