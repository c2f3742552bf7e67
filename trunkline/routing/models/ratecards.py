"""Rate cards, their revisions, the rate rows of each revision, and the imports that write them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from trunkline.core.models import ChangeLoggedModel
from trunkline.core.money import MONEY_MAX_DIGITS, MONEY_PLACES, RATE_PLACES
from trunkline.core.validators import reject_control_characters, validate_currency
from trunkline.routing.choices import (
    DurationRounding,
    RateCardKind,
    RateStatus,
    RevisionSource,
    RoundingMethod,
    RoutingStrategy,
)
from trunkline.routing.models.providers import Provider, validate_digits
from trunkline.routing.ratefile import NAME_MAX_LENGTH, PREFIX_MAX_LENGTH

ZERO = Decimal(0)


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
    # Billing terms (domain.md §2.3): how a call's charge and length are rounded on this card.
    billing_precision = models.PositiveSmallIntegerField(
        default=4, validators=[MaxValueValidator(MONEY_PLACES)],
        help_text=f"Decimals a call's charge is rounded to (0-{MONEY_PLACES}).")
    rounding_method = models.CharField(max_length=10, choices=RoundingMethod.choices, default=RoundingMethod.UP,
                                       help_text="How the charge is rounded at the billing precision.")
    duration_rounding = models.CharField(max_length=10, choices=DurationRounding.choices,
                                         default=DurationRounding.FULL_UP,
                                         help_text="How a call's fractional seconds become whole seconds.")
    notes = models.TextField(blank=True)

    # Set once: rows are priced in the currency and the egress links depend on the kind.
    immutable_fields = ("currency", "kind")

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("routing:ratecard", args=[self.pk])

    @property
    def rounding_short(self) -> str:
        """The rounding method in a word ("up", "half-down"), for the card's summary."""
        return self.rounding_method.replace("_", "-")

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


class RateActivation(models.Model):
    """A revision went live on its card at `live_from` (an activation or a roll-back): the history rating reads
    to price a call on the revision live at its start. Written by the activate and roll-back services only; not
    change-logged (the card's change of active revision is the audited change)."""

    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="activations")
    revision = models.ForeignKey(RateRevision, on_delete=models.CASCADE, related_name="activations")
    live_from = models.DateTimeField()

    class Meta:
        ordering = ("card", "live_from", "id")
        indexes = [models.Index(fields=["card", "live_from"], name="rate_activation_card_time")]

    def __str__(self) -> str:
        return f"{self.revision} live from {self.live_from:%Y-%m-%d %H:%M:%S}"


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
