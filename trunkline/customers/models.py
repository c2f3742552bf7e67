from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

from trunkline.core.models import ChangeLoggedModel, Job
from trunkline.core.money import MONEY_MAX_DIGITS, MONEY_PLACES
from trunkline.core.validators import (
    COUNTRY_CHOICES,
    normalize_e164,
    normalize_ip_list,
    normalize_tags,
    reject_control_characters,
    validate_country,
    validate_currency,
    validate_e164,
    validate_ip_list,
    validate_percentage,
    validate_tags,
    validate_toml,
)
from trunkline.customers.choices import ContactType, CustomerStatus, DeliveryStatus, MessageChannel

ZERO = Decimal("0")


def money_field(verbose_name: str, **kwargs: Any) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


class Customer(ChangeLoggedModel):
    """A carrier's customer: the account that sends traffic, holds a balance in one currency and gets billed."""

    name = models.CharField("customer name", max_length=100, unique=True, validators=[reject_control_characters])
    paypal_email = models.EmailField("PayPal email", blank=True)
    website = models.URLField(blank=True)
    status = models.CharField(max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE,
                              db_index=True)
    debit_limit = money_field("debit limit", default=ZERO, validators=[MinValueValidator(ZERO)])
    minimum_payment = money_field("minimum payment", default=ZERO, validators=[MinValueValidator(ZERO)])
    tax_rate = models.DecimalField("tax (%)", max_digits=7, decimal_places=4, default=ZERO,
                                   validators=[validate_percentage])
    currency = models.CharField(max_length=3, validators=[validate_currency], db_index=True)
    portal_access = models.BooleanField(default=True)
    address_line1 = models.CharField("address line 1", max_length=200, blank=True,
                                     validators=[reject_control_characters])
    address_line2 = models.CharField("address line 2", max_length=200, blank=True,
                                     validators=[reject_control_characters])
    city = models.CharField(max_length=100, blank=True, validators=[reject_control_characters])
    region = models.CharField(max_length=100, blank=True, validators=[reject_control_characters])
    postcode = models.CharField(max_length=20, blank=True, validators=[reject_control_characters])
    country = models.CharField(max_length=2, blank=True, validators=[validate_country], db_index=True)
    channels = models.PositiveIntegerField(default=0, help_text="Concurrent calls; 0 = unlimited.")
    cps = models.PositiveIntegerField("flow speed (CPS)", default=0, help_text="Calls per second; 0 = unlimited.")
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags])
    vars = models.TextField("vars (TOML)", blank=True, validators=[validate_toml])
    email_verification = models.BooleanField(default=False)
    mobile_verification = models.BooleanField(default=False)
    approved_clis_only = models.BooleanField("approved CLIs only", default=False)
    notes = models.TextField("private notes", blank=True)
    # Moves only through the ledger (billing); shown read-only everywhere else.
    balance = money_field("balance", default=ZERO, editable=False)

    class Meta:
        ordering = ("name",)
        indexes = [
            # The board sorts by debit limit (ORDER BY debit_limit, id, read backwards for descending) and the API
            # by debit_limit alone: without it each sort is a full scan and sort of the table. Not balance: the
            # ledger updates it all day, and an index on it would cost every one of those updates.
            models.Index(fields=["debit_limit", "id"], name="customer_debit_limit_id_idx"),
        ]
        # Search (icontains on many columns) uses PostgreSQL trigram indexes created by migration 0003 only on
        # PostgreSQL: they are expression GIN indexes SQLite cannot build.

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_currency = instance.__dict__.get("currency")
        return instance

    def get_absolute_url(self) -> str:
        return reverse("customers:customer", args=[self.pk])

    def clean(self) -> None:
        self.tags = normalize_tags(self.tags)
        stored = getattr(self, "_stored_currency", None)
        if self.pk and stored and self.currency != stored:
            raise ValidationError({"currency": f"The currency cannot be changed after the customer is created "
                                               f"(it is {stored})."})
        if self.pk and self.channels:
            # The SIP users' channels are a share of the customer's (sipauth checks each user against this limit);
            # lowering the limit under their total would leave them more than the account has.
            held = self.sip_users.aggregate(total=models.Sum("channels"))["total"] or 0
            if held > self.channels:
                raise ValidationError({"channels": f"The SIP users of {self} hold {held} channels between them; "
                                                   f"lower theirs first, or keep at least {held}."})

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self._stored_currency = self.currency

    @property
    def address_lines(self) -> list[str]:
        """The postal address as lines: street, "City, Region Postcode", country name."""
        locality = ", ".join(part for part in (self.city, " ".join(p for p in (self.region, self.postcode) if p))
                             if part)
        country = dict(COUNTRY_CHOICES).get(self.country, self.country)
        return [line for line in (self.address_line1, self.address_line2, locality, country) if line]


class BelongsToCustomer:
    """A record shown on its customer's card: it links there, and the audit log files its changes under the
    customer too, so the card's Audit Log tab lists them."""

    customer: Customer
    customer_id: int

    def get_absolute_url(self) -> str:
        return reverse("customers:customer", args=[self.customer_id])

    @property
    def audit_parent(self) -> Customer:
        return self.customer


class Contact(BelongsToCustomer, ChangeLoggedModel):
    """A person at a customer. The email is their portal login; the password is stored as an Argon2 hash only."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=100, validators=[reject_control_characters])
    email = models.EmailField(unique=True, help_text="Also the portal login; unique across all contacts.")
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164],
                             help_text="E.164, e.g. +442071838750")
    mobile = models.CharField(max_length=20, blank=True, validators=[validate_e164],
                              help_text="E.164, e.g. +447911123456; receives SMS.")
    contact_type = models.CharField(max_length=20, choices=ContactType.choices, default=ContactType.GENERAL)
    public_notes = models.TextField(blank=True, help_text="Shown to the customer in the portal. Never put a "
                                                          "password here.")
    private_notes = models.TextField(blank=True, help_text="Control panel only. Never put a password here.")
    email_verified = models.BooleanField(default=False)
    mobile_verified = models.BooleanField(default=False)
    ip_whitelist = models.JSONField("IP whitelist", default=list, blank=True, validators=[validate_ip_list],
                                    help_text="IPs or networks the contact may log into the portal from; "
                                              "empty = any.")
    password = models.CharField(max_length=128, editable=False)

    audit_masked_fields = ("password",)

    class Meta:
        ordering = ("customer", "name")

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def clean_fields(self, exclude: Any = None) -> None:
        # Normalised before the field validators run: "+44 7911 123456" is valid input, stored as +447911123456.
        self.email = (self.email or "").strip().lower()
        self.phone = normalize_e164(self.phone)
        self.mobile = normalize_e164(self.mobile)
        self.ip_whitelist = normalize_ip_list(self.ip_whitelist)
        super().clean_fields(exclude=exclude)

    def set_password(self, raw_password: str) -> None:
        self.password = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        return check_password(raw_password, self.password)


class NumberBlock(BelongsToCustomer, ChangeLoggedModel):
    """An internal number range held by a customer (SIP usernames and extensions are picked from it)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="number_blocks")
    start = models.PositiveIntegerField(unique=True)
    end = models.PositiveIntegerField()

    class Meta:
        ordering = ("start",)
        constraints = [models.CheckConstraint(condition=models.Q(end__gte=models.F("start")),
                                              name="number_block_end_after_start")]

    def __str__(self) -> str:
        return f"{self.start}–{self.end}"

    @property
    def size(self) -> int:
        return self.end - self.start + 1


class Message(ChangeLoggedModel):
    """An email or SMS sent to the contacts of some customers ("Send" on the board). Each recipient is a delivery."""

    channel = models.CharField(max_length=10, choices=MessageChannel.choices)
    subject = models.CharField(max_length=200, blank=True, validators=[reject_control_characters])
    body = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.subject or self.body[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("customers:message", args=[self.pk])


class MessageDelivery(models.Model):
    """One recipient of one message, and what became of it. Unique per (message, recipient): never sent twice."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="deliveries")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        verbose_name_plural = "message deliveries"
        constraints = [models.UniqueConstraint(fields=["message", "recipient"], name="one_delivery_per_recipient")]

    def __str__(self) -> str:
        return f"{self.recipient} ({self.status})"
