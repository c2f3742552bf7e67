"""Providers (carriers), rate cards, their revisions, and the rate rows of each revision."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from trunkline.core.models import ChangeLoggedModel
from trunkline.core.money import MONEY_MAX_DIGITS, RATE_PLACES
from trunkline.core.validators import validate_currency
from trunkline.routing.choices import (
    ProviderStatus,
    RateCardKind,
    RateStatus,
    RevisionSource,
    RoutingStrategy,
    Transport,
)
from trunkline.routing.ratefile import NAME_MAX_LENGTH, PREFIX_MAX_LENGTH

ZERO = Decimal(0)
DEFAULT_SIP_PORT = 5060
HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?)*\.?$")
validate_digits = RegexValidator(r"^\d+$", "Digits only.", code="digits")


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

    name = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=10, choices=ProviderStatus.choices, default=ProviderStatus.ACTIVE)
    gateways = models.JSONField(default=list, blank=True, validators=[validate_gateways],
                                help_text='[{"host": "198.51.100.7", "port": 5060, "transport": "udp"}]; port '
                                          "defaults to 5060, transport to udp.")
    channels = models.PositiveIntegerField(default=0, help_text="Concurrent calls; 0 = unlimited.")
    cps = models.PositiveIntegerField("flow speed (CPS)", default=0, help_text="Calls per second; 0 = unlimited.")
    tech_prefix = models.CharField(max_length=20, blank=True, validators=[validate_digits],
                                   help_text="Added in front of the number on calls sent to this provider.")
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean_fields(self, exclude: Any = None) -> None:
        self.gateways = normalize_gateways(self.gateways)
        super().clean_fields(exclude=exclude)


class RateCard(ChangeLoggedModel):
    """A customer card (sell rates; names its egress provider cards) or a provider card (buy rates of one
    provider). Its rows live in revisions; exactly one revision is active once the card has any."""

    name = models.CharField(max_length=100, unique=True)
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

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

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
    note = models.CharField(max_length=200, blank=True)
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
