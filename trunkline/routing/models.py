"""Providers (carriers), rate cards, their revisions, and the rate rows of each revision."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse

from trunkline.contracts import snapshot
from trunkline.core.integers import ascii_int
from trunkline.core.jobs import PUBLISH_ROUTING_SNAPSHOT
from trunkline.core.models import ChangeLoggedModel
from trunkline.core.money import MONEY_MAX_DIGITS, RATE_PLACES
from trunkline.core.validators import reject_control_characters, validate_currency
from trunkline.customers.models import BelongsToCustomer, Customer
from trunkline.routing.choices import (
    CliDirection,
    ProviderStatus,
    RateCardKind,
    RateStatus,
    Recording,
    RevisionSource,
    RoutingStrategy,
    Transport,
    UseDid,
)
from trunkline.routing.ratefile import NAME_MAX_LENGTH, PREFIX_MAX_LENGTH
from trunkline.sipauth.models import validate_regex, validate_tech_prefix
from trunkline.switch.cli import CliRuleSet
from trunkline.switch.regex import PatternError

ZERO = Decimal(0)
DEFAULT_SIP_PORT = 5060
HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?)*\.?$")
validate_digits = RegexValidator(r"^\d+$", "Digits only.", code="digits")


MAX_WEIGHT = 1000


def validate_weights(value: Any) -> None:
    """{"<provider card id>": weight}: how the weighted strategy shares a route's calls among its cards."""
    if not isinstance(value, dict):
        raise ValidationError('Give an object of provider card id to weight, e.g. {"12": 3, "14": 1}.')
    for key, weight in value.items():
        if ascii_int(key) is None:
            raise ValidationError(f"{key!r} is not a rate card id.")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            raise ValidationError(f"The weight of card {key} must be a whole number from 0 to {MAX_WEIGHT}; "
                                  f"got {weight!r}.")


def normalize_gateways(value: Any) -> Any:
    """Fill the defaults of each gateway (port 5060, UDP) so the stored list is complete; leave junk for the
    validator to name."""
    if not isinstance(value, list):
        return value
    gateways = []
    for item in value:
        if isinstance(item, dict):
            item = {"host": str(item.get("host", "")).strip(), "port": item.get("port") or DEFAULT_SIP_PORT,
                    "transport": str(item.get("transport") or Transport.UDP).lower()}
        gateways.append(item)
    return gateways


def validate_gateways(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of gateways, each {host, port, transport}.", code="gateways")
    seen = set()
    for index, gateway in enumerate(value, start=1):
        if not isinstance(gateway, dict) or set(gateway) - {"host", "port", "transport"}:
            raise ValidationError(f"Gateway {index}: give host, and optionally port and transport, nothing else.",
                                  code="gateways")
        host, port, transport = gateway.get("host", ""), gateway.get("port"), gateway.get("transport")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not HOSTNAME.match(host or ""):
                raise ValidationError(f"Gateway {index}: '{host}' is not an IP address or host name.",
                                      code="gateways") from None
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError(f"Gateway {index}: the port must be a number from 1 to 65535.", code="gateways")
        if transport not in Transport.values:
            raise ValidationError(f"Gateway {index}: the transport must be udp, tcp or tls.", code="gateways")
        if (host.lower(), port, transport) in seen:
            raise ValidationError(f"Gateway {index}: {host}:{port} ({transport}) is listed twice.", code="gateways")
        seen.add((host.lower(), port, transport))


class Provider(ChangeLoggedModel):
    """A carrier that terminates calls: its gateways receive the calls its provider cards win."""

    name = models.CharField(max_length=100, unique=True, validators=[reject_control_characters])
    status = models.CharField(max_length=10, choices=ProviderStatus.choices, default=ProviderStatus.ACTIVE)
    gateways = models.JSONField(default=list, blank=True, validators=[validate_gateways],
                                help_text='[{"host": "198.51.100.7", "port": 5060, "transport": "udp"}]; port '
                                          "defaults to 5060, transport to udp.")
    channels = models.PositiveIntegerField(default=0, help_text="Concurrent calls; 0 = unlimited.")
    cps = models.PositiveIntegerField("flow speed (CPS)", default=0, help_text="Calls per second; 0 = unlimited.")
    tech_prefix = models.CharField(max_length=20, blank=True, validators=[validate_digits],
                                   help_text="Added in front of the number on calls sent to this provider.")
    notes = models.TextField(blank=True)

    jobs_after_change = (PUBLISH_ROUTING_SNAPSHOT,)  # read by the call decision

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("routing:provider_edit", args=[self.pk])  # a provider is its form: no separate page

    def clean_fields(self, exclude: Any = None) -> None:
        self.gateways = normalize_gateways(self.gateways)
        super().clean_fields(exclude=exclude)


class RateCard(ChangeLoggedModel):
    """A customer card (sell rates; names its egress provider cards) or a provider card (buy rates of one
    provider). Its rows live in revisions; exactly one revision is active once the card has any."""

    name = models.CharField(max_length=100, unique=True, validators=[reject_control_characters])
    kind = models.CharField(max_length=10, choices=RateCardKind.choices)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="rate_cards", help_text="Required for provider cards only.")
    egress_cards = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="customer_cards",
                                          help_text="Customer cards: the provider cards that may carry its calls.")
    strategy = models.CharField(max_length=12, choices=RoutingStrategy.choices, default=RoutingStrategy.LCR)
    # Moved only by the activate and roll-back services, so the audit log shows each switch of revision.
    active_revision = models.ForeignKey("RateRevision", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", editable=False)
    notes = models.TextField(blank=True)

    # Set once: rows are priced in the currency and the egress links depend on the kind.
    immutable_fields = ("currency", "kind")

    jobs_after_change = (PUBLISH_ROUTING_SNAPSHOT,)  # read by the call decision

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("routing:ratecard", args=[self.pk])

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored = {name: instance.__dict__.get(name) for name in cls.immutable_fields}
        return instance

    def clean(self) -> None:
        stored = getattr(self, "_stored", {})
        errors = {}
        for name in self.immutable_fields:
            if self.pk and stored.get(name) and getattr(self, name) != stored[name]:
                errors[name] = f"The {name} cannot be changed after the rate card is created (it is {stored[name]})."
        if self.kind == RateCardKind.PROVIDER and self.provider_id is None:
            errors["provider"] = "A provider card needs its provider."
        if self.kind == RateCardKind.CUSTOMER and self.provider_id is not None:
            errors["provider"] = "A customer card has no provider; it names provider cards as egress cards."
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self._stored = {name: getattr(self, name) for name in self.immutable_fields}

    def serialize_for_audit(self) -> dict[str, Any]:
        # The egress links are part of the card as an operator sees it.
        data = super().serialize_for_audit()
        data["egress_cards"] = sorted(self.egress_cards.values_list("pk", flat=True)) if self.pk else []
        return data


class RateRevision(ChangeLoggedModel):
    """One version of a card's rows. Each import or edit makes one; its rows never change afterwards."""

    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(help_text="1, 2, 3... per card.")
    source = models.CharField(max_length=10, choices=RevisionSource.choices)
    note = models.CharField(max_length=200, blank=True, validators=[reject_control_characters])
    row_count = models.PositiveIntegerField(default=0)
    date_live = models.DateTimeField(null=True, blank=True,
                                     help_text="Scheduled activation (UTC); the revision goes live when due.")
    # Bookkeeping of the activate/roll-back services: the order revisions went live in, so a roll-back returns
    # to the one live before. A rolled-back revision leaves that history (its sequence is cleared).
    activation_seq = models.PositiveIntegerField(null=True, blank=True, editable=False)
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)

    audit_ignored_fields = ("created", "updated", "activation_seq", "activated_at")

    class Meta:
        ordering = ("card", "-number")
        constraints = [models.UniqueConstraint(fields=["card", "number"], name="rate_revision_number_per_card")]

    def __str__(self) -> str:
        return f"{self.card} revision {self.number}"

    @property
    def audit_parent(self) -> RateCard:
        return self.card

    @property
    def is_active(self) -> bool:
        return self.card.active_revision_id == self.pk


def rate_field(verbose_name: str, **kwargs: Any) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=MONEY_MAX_DIGITS, decimal_places=RATE_PLACES,
                               validators=[MinValueValidator(ZERO)], **kwargs)


class RateImport(models.Model):
    """A deck imported from the control panel by the worker, so a large file shows its progress. Not
    change-logged: it is the request; the revision it writes is the change, logged under the operator."""

    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="imports")
    text = models.TextField(help_text="The CSV as uploaded; emptied once imported (the revision holds the rows).")
    start_row = models.PositiveIntegerField(default=2)
    columns = models.CharField(max_length=500, blank=True)
    note = models.CharField(max_length=200, blank=True)
    date_live = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(help_text="Rows from the start row on, as counted when queued.")
    job = models.ForeignKey("core.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revision = models.ForeignKey("RateRevision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    summary = models.TextField(blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="[row, field, message] of each listed error.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"Import #{self.pk} into {self.card}"

    def get_absolute_url(self) -> str:
        return reverse("routing:rate_import", args=[self.pk])


class Rate(models.Model):
    """One prefix of one revision. Not change-logged: rows are data loaded by the hundred thousand; the
    revision that brings them is the audited change (one log entry per import or edit, not one per row)."""

    # No index of its own: the unique (revision, prefix) index serves lookups by revision, and one index fewer
    # to maintain is a faster import.
    revision = models.ForeignKey(RateRevision, on_delete=models.CASCADE, related_name="rates", db_index=False)
    prefix = models.CharField(max_length=PREFIX_MAX_LENGTH, validators=[validate_digits])
    name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    rate = rate_field("rate per minute")
    connection_fee = rate_field("connection fee", default=ZERO)
    mcd = models.PositiveIntegerField("MCD (s)", default=1, help_text="Minimum call duration in seconds.")
    pulse = models.PositiveIntegerField("pulse (s)", default=1, validators=[MinValueValidator(1)])
    grace = models.PositiveIntegerField("grace (s)", default=0)
    status = models.CharField(max_length=10, choices=RateStatus.choices, default=RateStatus.ACTIVE)

    class Meta:
        ordering = ("revision", "prefix")
        constraints = [models.UniqueConstraint(fields=["revision", "prefix"], name="rate_prefix_per_revision")]

    def __str__(self) -> str:
        return f"{self.prefix} {self.name}".strip()


class IngressRoute(BelongsToCustomer, ChangeLoggedModel):
    """How a customer's calls are routed (domain.md §1.3): the card they are rated on, picked by tech prefix
    (longest first, stripped) and then the dial string (DESIGN.md, "The call decision", step 5)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ingress_routes")
    rate_card = models.ForeignKey(RateCard, on_delete=models.PROTECT, related_name="ingress_routes",
                                  help_text="A customer card in the customer's currency.")
    tech_prefix = models.CharField(max_length=20, blank=True, validators=[validate_tech_prefix],
                                   help_text="Digits, # and *; stripped from the number. Unique among the "
                                             "customer's routes; empty = no prefix.")
    dial_string = models.CharField(max_length=200, blank=True, validators=[validate_regex],
                                   help_text="A regular expression the dialled number must match; empty = all.")
    enabled = models.BooleanField(default=True)
    channels = models.PositiveIntegerField(default=0, help_text="Concurrent calls; 0 = unlimited.")
    cps = models.PositiveIntegerField("flow speed (CPS)", default=0, help_text="Calls per second; 0 = unlimited.")
    max_duration = models.PositiveIntegerField("max duration (s)", default=0,
                                               help_text="Hard cap on a call's length in seconds; 0 = none.")
    recording = models.CharField(max_length=10, choices=Recording.choices, default=Recording.DISABLED)
    profit_assurance = models.BooleanField(default=False,
                                           help_text="Drop providers that would cost more than the customer pays.")
    capped_rate = rate_field("capped rate", null=True, blank=True,
                             help_text="Calls whose customer rate per minute is above this are refused; "
                                       "empty = no cap.")
    provider_capped_rate = rate_field("provider capped rate", null=True, blank=True,
                                      help_text="Providers whose rate per minute is above this are dropped; "
                                                "empty = no cap.")
    block_connect_cost = models.BooleanField(default=False, help_text="Refuse calls whose rate has a connection fee.")
    lock = models.ManyToManyField(RateCard, blank=True, related_name="locked_by_routes",
                                  help_text="Only these provider cards may carry the calls; empty = no lock.")
    exclude = models.ManyToManyField(RateCard, blank=True, related_name="excluded_by_routes",
                                     help_text="These provider cards never carry the calls.")
    strategy = models.CharField(max_length=12, choices=RoutingStrategy.choices, default=RoutingStrategy.LCR)
    weights = models.JSONField(default=dict, blank=True, validators=[validate_weights],
                               help_text=f"Weighted strategy: provider card id to weight (0-{MAX_WEIGHT}); calls go "
                                         "to the cards in proportion, then fail over. A card not listed weighs 1.")
    public_notes = models.TextField(blank=True, help_text="Shown on the Customer Portal.")
    private_notes = models.TextField(blank=True, help_text="Control panel only.")

    jobs_after_change = (PUBLISH_ROUTING_SNAPSHOT,)  # read by the call decision

    class Meta:
        ordering = ("customer", "tech_prefix", "id")
        constraints = [models.UniqueConstraint(
            fields=["customer", "tech_prefix"], condition=~models.Q(tech_prefix=""),
            name="ingress_route_tech_prefix_per_customer")]

    def __str__(self) -> str:
        return f"{self.customer} route {self.tech_prefix or '(no prefix)'}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.rate_card_id is not None and self.customer_id is not None:
            card, customer = self.rate_card, self.customer
            if card.kind != RateCardKind.CUSTOMER:
                errors["rate_card"] = f"{card} is a provider card; a route rates calls on a customer card."
            elif card.currency != customer.currency:
                # The card's rates are what the customer is charged; balances have no FX.
                errors["rate_card"] = (f"{card} prices in {card.currency} but {customer} is billed in "
                                       f"{customer.currency}; pick a {customer.currency} card.")
        if self.tech_prefix and self.customer_id is not None and IngressRoute.objects.filter(
                customer_id=self.customer_id, tech_prefix=self.tech_prefix).exclude(pk=self.pk).exists():
            errors["tech_prefix"] = (f"Another route of {self.customer} already uses tech prefix {self.tech_prefix}; "
                                     f"the prefix is what tells the routes apart.")
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude: Any = None) -> None:
        # clean() reports a duplicate tech prefix on its field; the constraint only guards the database.
        super().validate_constraints(exclude={*(exclude or ()), "tech_prefix"})

    def weighted_cards(self) -> list[tuple[RateCard, int]]:
        """The weights by card, for display (the Routing tab prefetches the card's egress cards)."""
        cards = {str(card.pk): card for card in self.rate_card.egress_cards.all()}
        return [(cards[key], weight) for key, weight in self.weights.items() if key in cards]

    def serialize_for_audit(self) -> dict[str, Any]:
        # The lock and exclude lists are part of the route as an operator sees it; while ingress_route_save()
        # writes them, the lists being linked (`_pending_links`) are the ones to log.
        data = super().serialize_for_audit()
        pending = getattr(self, "_pending_links", {})
        for name in ("lock", "exclude"):
            if name in pending:
                data[name] = sorted(card.pk for card in pending[name])
            else:
                data[name] = sorted(getattr(self, name).values_list("pk", flat=True)) if self.pk else []
        return data


# Checked one at a time, in this order, so an error names the field that causes it: each later field can only
# fail given the earlier ones (a rewrite refers to the groups of the patterns; forced constrains the CLI).
_CLI_RULE_FIELDS = ("cli", "pai", "dialed_number_match", "rewrite_cli", "rewrite_pai", "use_did", "forced")


class CliRule(BelongsToCustomer, ChangeLoggedModel):
    """One CLI rule of a customer (domain.md §3.1-3.3). No rule for a direction: every CLI passes; otherwise an
    allow list with Forced and rewrites, evaluated by trunkline.switch.cli.CliRuleSet in id order."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cli_rules")
    cli = models.CharField("CLI", max_length=200, blank=True,
                           help_text="A plain number (must equal the CLI) or a regular expression; empty = any.")
    pai = models.CharField("P-Asserted-ID", max_length=200, blank=True,
                           help_text="A regular expression the P-Asserted-ID must match; empty = no condition.")
    rewrite_cli = models.CharField("rewrite CLI", max_length=200, blank=True, validators=[reject_control_characters],
                                   help_text="Replacement; may use $1, \\1, $<name>; empty = keep.")
    rewrite_pai = models.CharField("rewrite P-Asserted-ID", max_length=200, blank=True,
                                   validators=[reject_control_characters],
                                   help_text="Replacement; numbered groups from the CLI, named ones from either.")
    forced = models.BooleanField(default=False,
                                 help_text="A CLI matching no rule is replaced by this rule's CLI (a plain number).")
    direction = models.CharField(max_length=10, choices=CliDirection.choices, default=CliDirection.OUTBOUND)
    dialed_number_match = models.CharField(max_length=200, blank=True,
                                           help_text="A regular expression on the dialled number as received "
                                                     "(tech prefix included); empty = all.")
    use_did = models.CharField("use DID", max_length=10, choices=UseDid.choices, default=UseDid.DISABLED)
    notes = models.TextField(blank=True)

    jobs_after_change = (PUBLISH_ROUTING_SNAPSHOT,)  # read by the call decision

    class Meta:
        ordering = ("customer", "id")  # the order the switch tries the rules in
        verbose_name = "CLI rule"

    def __str__(self) -> str:
        return f"CLI rule #{self.pk} `{self.cli}`"

    def to_contract(self) -> snapshot.CliRule:
        """The rule as the switch reads it from the routing snapshot (an unsaved rule has id 0)."""
        return snapshot.CliRule(id=self.pk or 0, customer_id=self.customer_id, cli=self.cli, pai=self.pai,
                                rewrite_cli=self.rewrite_cli, rewrite_pai=self.rewrite_pai, forced=self.forced,
                                direction=snapshot.CliDirection(self.direction),
                                dialed_number_match=self.dialed_number_match,
                                use_did=snapshot.UseDid(self.use_did))

    def clean(self) -> None:
        if self.customer_id is None or self.direction not in CliDirection.values or \
                self.use_did not in UseDid.values:
            return  # clean_fields() names those
        rule = self.to_contract()
        given: dict[str, Any] = {}
        for name in _CLI_RULE_FIELDS:
            given[name] = getattr(rule, name)
            try:
                CliRuleSet([snapshot.CliRule(id=rule.id, customer_id=rule.customer_id, **given)])
            except PatternError as error:
                # "CLI rule #0 cli: <problem>": the field is the key, so keep the problem only.
                raise ValidationError({name: str(error).partition(": ")[2]}) from error
        # The customer's whole set, as the switch will load it, with this rule in its place.
        others = [other.to_contract() for other in CliRule.objects.filter(customer_id=self.customer_id)
                  .exclude(pk=self.pk)]
        try:
            CliRuleSet([*others, rule])
        except PatternError as error:
            raise ValidationError({"customer": f"The customer's CLI rules cannot be loaded: {error}"}) from error


class SimulatedCall(models.Model):
    """A Simulate Call run, kept so it is listed on the customer's Latest Calls with a `SIM` call id. Not
    change-logged: a simulation changes nothing, it is a record of a question asked."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="simulated_calls",
                                 help_text="The customer the decision identified, else the one whose card the "
                                           "simulation was run from; empty when neither.")
    inputs = models.JSONField(help_text="dst, cli, ip, user, pai as given.")
    result = models.JSONField(help_text="The decision as POST /api/v1/simulate/ returns it.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created", "-id")

    def __str__(self) -> str:
        return self.call_id

    @property
    def call_id(self) -> str:
        # "SIM" sets simulations apart from real calls' ids on Latest Calls.
        return f"SIM{self.pk:010d}"

    @property
    def answer(self) -> dict[str, Any]:
        """The decision with its call id: what POST /api/v1/simulate/ answers and `trunkline simulate` prints."""
        return {"call_id": self.call_id, **self.result}
