from typing import Any

from django import forms
from django.utils.html import format_html

from trunkline.core.forms import BulkEditForm, NoScientificNotationMixin
from trunkline.core.integers import ascii_int
from trunkline.core.validators import CURRENCY_CHOICES, reject_control_characters
from trunkline.customers.models import Customer
from trunkline.routing.choices import CliDirection, ProviderStatus, RateCardKind, Transport
from trunkline.routing.models import DEFAULT_SIP_PORT, MAX_WEIGHT, CliRule, IngressRoute, Provider, RateCard
from trunkline.routing.ratefile import COLUMNS
from trunkline.switch.regex import MAX_SUBJECT_LENGTH


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
            if port and ascii_int(port) is None:
                raise forms.ValidationError(f"Line {number}: the port '{port}' is not a number.")
            gateways.append({"host": host.strip(), "port": int(port) if port else DEFAULT_SIP_PORT,
                             "transport": (transport.strip() or Transport.UDP).lower()})
        return gateways


class WeightsField(forms.CharField):
    """A route's weights typed one per line as `card name: weight`, stored as {"<card id>": weight}. The form
    sets `cards`: the provider cards a name may refer to (the route card's egress cards)."""

    # "narrow": a few short lines, so the box sits in the grid beside Lock and Exclude rather than on a row of its own.
    widget = forms.Textarea(attrs={"rows": 4, "class": "mono narrow", "placeholder": "Carrier A: 3\nCarrier B: 1"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cards: list[RateCard] = []

    def prepare_value(self, value: Any) -> str:
        if not isinstance(value, dict):
            return value or ""
        names = {str(card.pk): card.name for card in self.cards}
        return "\n".join(f"{names.get(key, f'#{key}')}: {weight}" for key, weight in value.items())

    def to_python(self, value: Any) -> dict[str, int]:
        if isinstance(value, dict):
            return value
        by_name = {card.name.casefold(): card for card in self.cards}
        weights: dict[str, int] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, weight = (part.strip() for part in line.rpartition(":"))
            card = by_name.get(name.casefold())
            if not colon:
                raise forms.ValidationError(f"Line {number}: write the card's name, a colon and the weight, "
                                            f"as in 'Carrier A: 3'.")
            if card is None:
                raise forms.ValidationError(f"Line {number}: '{name}' is not one of the offered provider cards.")
            weight_value = ascii_int(weight)
            if weight_value is None or weight_value > MAX_WEIGHT:
                raise forms.ValidationError(f"Line {number}: the weight '{weight}' is not a whole number from 0 "
                                            f"to {MAX_WEIGHT}.")
            if str(card.pk) in weights:
                raise forms.ValidationError(f"Line {number}: {card} is weighted twice.")
            weights[str(card.pk)] = weight_value
        return weights


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


BILLING_TERMS = ("billing_precision", "rounding_method", "duration_rounding")


class RateCardForm(forms.ModelForm):
    currency = forms.ChoiceField(choices=[("", "—"), *CURRENCY_CHOICES])

    fieldsets = (("Rate card", (
        ("", ("name", "kind", "currency", "provider")),
        ("Routing (customer cards)", ("egress_cards", "strategy")),
        ("Billing", BILLING_TERMS),
        ("Notes", ("notes",)),
    )),)

    class Meta:
        model = RateCard
        fields = ("name", "kind", "currency", "provider", "egress_cards", "strategy", *BILLING_TERMS, "notes")
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
        for name in BILLING_TERMS:
            self.fields[name].required = False  # left out: the card keeps its terms (the defaults on a new card)

    def _clean_term(self, name: str) -> Any:
        value = self.cleaned_data.get(name)
        return getattr(self.instance, name) if value in (None, "") else value

    def clean_billing_precision(self) -> Any:
        return self._clean_term("billing_precision")

    def clean_rounding_method(self) -> Any:
        return self._clean_term("rounding_method")

    def clean_duration_rounding(self) -> Any:
        return self._clean_term("duration_rounding")


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
    note = forms.CharField(required=False, max_length=200, validators=[reject_control_characters],
                           help_text="Kept on the new revision.")
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


#
# The customer card's Routing tab
#

GENERATE_TECH_PREFIX = "_generate_tech_prefix"


class TechPrefixInput(forms.TextInput):
    """The tech prefix box with its Generate button: the button posts the form back, and the view fills the box
    with a prefix from services.generate_tech_prefix() without saving anything."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> str:
        box = super().render(name, value, attrs, renderer)
        return format_html('<div class="input-with-button">{}<button type="submit" class="btn" name="{}" value="1" '
                           'title="Fill in a random tech prefix that no route of this customer uses">Generate'
                           '</button></div>', box, GENERATE_TECH_PREFIX)


class _CustomerFixedForm(forms.ModelForm):
    """The customer is fixed: added from the card (?customer=<pk>) or being edited."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.customer_id:
            self.fields["customer"].disabled = True
            self.fields["customer"].queryset = Customer.objects.filter(pk=self.instance.customer_id)
            self.fields["customer"].empty_label = None


class IngressRouteForm(NoScientificNotationMixin, _CustomerFixedForm):
    weights = WeightsField(required=False, help_text=f"Weighted strategy only: one provider card per line as "
                                                     f"name: weight (0-{MAX_WEIGHT}). Calls are shared in "
                                                     f"proportion, then fail over; a card not listed weighs 1.")
    fieldsets = (
        ("Basic", (("", ("customer", "rate_card", "tech_prefix", "dial_string", "enabled")),)),
        ("Capacity", (("", ("channels", "cps", "max_duration", "recording")),)),
        ("Price", (
            ("Caps", ("capped_rate", "provider_capped_rate")),
            ("Checks", ("profit_assurance", "block_connect_cost")),
            ("Providers", ("strategy", "lock", "exclude", "weights")),
        )),
        ("Notes", (("", ("public_notes", "private_notes")),)),
    )

    class Meta:
        model = IngressRoute
        fields = ("customer", "rate_card", "tech_prefix", "dial_string", "enabled", "channels", "cps", "max_duration",
                  "recording", "capped_rate", "provider_capped_rate", "profit_assurance", "block_connect_cost",
                  "lock", "exclude", "strategy", "weights", "public_notes", "private_notes")
        labels = {"cps": "CPS", "max_duration": "Max duration (s)", "capped_rate": "Capped rate (per minute)",
                  "provider_capped_rate": "Provider capped rate (per minute)"}
        # One line each, so the two check boxes sit level.
        help_texts = {"profit_assurance": "Drop providers that cost more than the sale.",
                      "block_connect_cost": "Refuse calls whose rate has a connection fee."}
        widgets = {"tech_prefix": TechPrefixInput(attrs={"class": "mono", "placeholder": "e.g. 1234#"}),
                   "dial_string": forms.TextInput(attrs={"class": "mono", "placeholder": "e.g. ^44"}),
                   "lock": forms.SelectMultiple(attrs={"size": 5}),
                   "exclude": forms.SelectMultiple(attrs={"size": 5}),
                   "public_notes": forms.Textarea(attrs={"rows": 3}),
                   "private_notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        customer = self.instance.customer if self.instance.customer_id else None
        cards = RateCard.objects.filter(kind=RateCardKind.CUSTOMER).order_by("name")
        if customer is not None:
            cards = cards.filter(currency=customer.currency)
            self.fields["rate_card"].help_text = f"A customer card in {customer.currency}, the customer's currency."
        self.fields["rate_card"].queryset = cards
        # Lock and exclude narrow the card's egress provider cards: only those are offered.
        card = self._chosen_card(cards)
        if card is not None:
            egress = card.egress_cards.order_by("name")
            scope = f"the egress provider cards of {card}"
        else:
            egress = RateCard.objects.filter(kind=RateCardKind.PROVIDER, customer_cards__in=cards).distinct() \
                .order_by("name")
            scope = "the egress provider cards of the customer cards (pick the rate card first)"
        for name, meaning in (("lock", "Only these carry the calls; none = any of them."),
                              ("exclude", "These never carry the calls.")):
            self.fields[name].queryset = egress
            self.fields[name].help_text = f"{meaning} Offered: {scope}. Ctrl-click to pick several."
        self.fields["weights"].cards = list(egress)

    def _chosen_card(self, cards: Any) -> RateCard | None:
        value = self.data.get("rate_card") if self.is_bound else self.initial.get("rate_card")
        if value in (None, ""):
            return self.instance.rate_card if self.instance.rate_card_id else None
        if isinstance(value, RateCard):
            return value
        return cards.filter(pk=value).first() if ascii_int(value) is not None else None


class CliRuleForm(_CustomerFixedForm):
    fieldsets = (
        ("CLI rule", (
            ("Match", ("customer", "direction", "cli", "pai", "dialed_number_match")),
            ("Manipulation", ("rewrite_cli", "rewrite_pai", "forced", "use_did")),
            ("Notes", ("notes",)),
        )),
    )

    class Meta:
        model = CliRule
        fields = ("customer", "direction", "cli", "pai", "dialed_number_match", "rewrite_cli", "rewrite_pai",
                  "forced", "use_did", "notes")
        labels = {"forced": "Force CLI"}
        widgets = {name: forms.TextInput(attrs={"class": "mono", "placeholder": example}) for name, example in (
            ("cli", "e.g. ^0([1-9]+)$ or 442079460000"), ("pai", "e.g. ^44"), ("dialed_number_match", "e.g. ^4821#"),
            ("rewrite_cli", "e.g. 44\\1"), ("rewrite_pai", "e.g. $1"))} | {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("cli", "pai", "dialed_number_match", "rewrite_cli", "rewrite_pai"):
            self.fields[name].strip = False  # patterns may hold spaces: keep what was typed, as the API does


class CliTestForm(forms.Form):
    """A call presented to the customer's saved CLI rules (the Testing box)."""

    cli = forms.CharField(label="CLI", required=False, strip=False, max_length=MAX_SUBJECT_LENGTH,
                          widget=forms.TextInput(attrs={"class": "mono"}))
    pai = forms.CharField(label="P-Asserted-ID", required=False, strip=False, max_length=MAX_SUBJECT_LENGTH,
                          widget=forms.TextInput(attrs={"class": "mono"}), help_text="Empty = the call has none.")
    dialed = forms.CharField(label="Dialled number", required=False, strip=False, max_length=MAX_SUBJECT_LENGTH,
                             widget=forms.TextInput(attrs={"class": "mono"}),
                             help_text="As received, tech prefix included.")
    direction = forms.ChoiceField(choices=CliDirection.choices, initial=CliDirection.OUTBOUND)


class SimulateForm(forms.Form):
    """A call presented to Simulate Call, as the customer's switch would send it; lengths as the API's. Each error
    names its field, so it reads on its own."""

    dst = forms.CharField(label="Dialled number", max_length=64,
                          error_messages={"required": "Enter the dialled number."},
                          widget=forms.TextInput(attrs={"class": "mono", "placeholder": "e.g. 447700900123"}),
                          help_text="As the customer sends it, tech prefix included.")
    cli = forms.CharField(label="CLI", max_length=64, error_messages={"required": "Enter the CLI."},
                          widget=forms.TextInput(attrs={"class": "mono", "placeholder": "e.g. 12025550143"}))
    ip = forms.GenericIPAddressField(
        label="Customer IP", widget=forms.TextInput(attrs={"class": "mono", "placeholder": "e.g. 203.0.113.10"}),
        error_messages={"required": "Enter the customer IP.",
                        "invalid": "The customer IP must be an IPv4 or IPv6 address, such as 203.0.113.10."},
        help_text="The address the call comes from.")
    user = forms.CharField(label="SIP user", max_length=64, required=False,
                           widget=forms.TextInput(attrs={"class": "mono"}),
                           help_text="Optional: the call authenticates as this SIP user.")
    pai = forms.CharField(label="P-Asserted-ID", max_length=64, required=False,
                          widget=forms.TextInput(attrs={"class": "mono"}), help_text="Optional: empty = none.")
