"""The balance ledger (DESIGN.md, "Money and time"): every money movement of a customer is one entry, and the
customer's cached `balance` is the sum of its entries, written under the customer's row lock in the entry's
transaction (services.py is the only writer).

Below cdrs in the layering: a CDR's charge and its ledger entry are written in one transaction by cdrs' ingest.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from trunkline.core.money import MONEY_MAX_DIGITS, MONEY_PLACES
from trunkline.customers.models import Customer


class EntryKind(models.TextChoices):
    CHARGE = "charge", "Call charge"  # one per CDR, ever (unique cdr_id)
    RERATE = "rerate", "Re-rate difference"
    ADJUSTMENT = "adjustment", "Adjustment"  # an operator's credit or debit, with a reason
    PAYMENT = "payment", "Payment"
    INVOICE = "invoice", "Invoice"
    PACKAGE = "package", "Package charge"
    OPENING = "opening", "Opening balance"  # the balance a customer had before the ledger existed


class LedgerEntry(models.Model):
    """Append-only: never updated or deleted. `amount` is signed: + credits the customer, - debits (a call
    charge is minus its gross, tax included). `balance_after` is the customer's balance once this entry applied."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    amount = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES)
    balance_after = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES)
    cdr_id = models.BigIntegerField("CDR", null=True, blank=True,
                                    help_text="The CDR charged or re-rated (cdrs.Cdr; a plain id: cdrs sits above).")
    reference = models.CharField(max_length=300, blank=True, help_text='e.g. "call <call id>/<leg>", "recalc #7".')
    reason = models.CharField(max_length=500, blank=True, help_text="Why an operator adjusted the balance.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-id",)
        verbose_name_plural = "ledger entries"
        constraints = [
            # A CDR is charged exactly once, whatever replays, retries or concurrent writers do.
            models.UniqueConstraint(fields=["cdr_id"], condition=models.Q(kind="charge"),
                                    name="ledger_one_charge_per_cdr"),
        ]
        indexes = [
            models.Index(fields=["customer", "id"], name="ledger_customer_id"),
            models.Index(fields=["cdr_id"], name="ledger_cdr"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} ({self.customer_id})"

    @property
    def audit_parent(self) -> Customer:
        return self.customer

