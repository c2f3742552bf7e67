"""A customer's ingress routes (which card rates its calls) and CLI rules."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from trunkline.contracts import snapshot
from trunkline.core.integers import ascii_int
from trunkline.core.models import ChangeLoggedModel
from trunkline.core.validators import reject_control_characters
from trunkline.customers.models import BelongsToCustomer, Customer
from trunkline.routing.choices import CliDirection, RateCardKind, Recording, RoutingStrategy, UseDid
from trunkline.routing.models.ratecards import RateCard, rate_field
from trunkline.sipauth.models import validate_regex, validate_tech_prefix
from trunkline.switch.cli import CliRuleSet
from trunkline.switch.regex import PatternError

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
