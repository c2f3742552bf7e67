"""Call records: one row per call id, merged by the worker from the switch's spool lines (contracts.calls)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from trunkline.cdrs.choices import LIVE_STATES, CallState
from trunkline.core.money import MONEY_MAX_DIGITS, MONEY_PLACES, RATE_PLACES
from trunkline.customers.models import Customer
from trunkline.routing.models import IngressRoute, Provider

ZERO = Decimal(0)


class CallRecordQuerySet(models.QuerySet["CallRecord"]):
    def live(self) -> CallRecordQuerySet:
        """Calls that may still hold a channel: not over, and the switch has not let their channel go yet."""
        return self.filter(state__in=LIVE_STATES, expires_at__gt=timezone.now())


class CallRecord(models.Model):
    """Every attempt the switch decided (a 407 challenge is not an attempt), as the loader merged its lines.

    Not change-logged: the switch writes these at traffic rates; an operator's End Calls is logged by hand.
    Kept when its customer, route or provider is deleted (SET_NULL): the names are copied onto the record.
    """

    call_id = models.CharField(max_length=255, unique=True)
    node = models.CharField(max_length=100, blank=True, help_text="The switch node that decided the call.")
    decided = models.BooleanField(default=False, help_text="The attempt line was loaded (an event line may come "
                                                          "first: the record then holds only what is known).")
    attempted_at = models.DateTimeField(help_text="The decision's time (UTC).")
    early_at = models.DateTimeField(null=True, blank=True, help_text="The first provisional answer (180/183).")
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=CallState.choices, default=CallState.ROUTED)
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="call_records")
    customer_name = models.CharField(max_length=100, blank=True,
                                     help_text="Copied at load time: the record outlives its customer.")
    auth_kind = models.CharField(max_length=10, blank=True, help_text='"ip", "sip_user" or empty.')
    auth_id = models.BigIntegerField(null=True, blank=True, help_text="The IP-auth entry or SIP user's id.")
    source_ip = models.CharField(max_length=64, blank=True)
    source_port = models.PositiveIntegerField(null=True, blank=True)
    transport = models.CharField(max_length=10, blank=True)
    cli_in = models.CharField("CLI received", max_length=128, blank=True)
    dst_in = models.CharField("number received", max_length=128, blank=True)
    cli = models.CharField("CLI", max_length=128, blank=True, help_text="After rewrites.")
    dst = models.CharField("destination", max_length=128, blank=True,
                           help_text="After rewrites, with the provider's tech prefix.")
    pai = models.CharField("P-Asserted-Identity", max_length=128, blank=True)
    tech_prefix = models.CharField(max_length=20, blank=True)
    ingress_route = models.ForeignKey(IngressRoute, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="call_records")
    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="call_records",
                                 help_text="The answering provider, else the last one the call was routed to.")
    provider_name = models.CharField(max_length=100, blank=True)
    sip_code = models.PositiveSmallIntegerField("SIP code", null=True, blank=True,
                                                help_text="The final answer: the decision's reject, the last "
                                                          "gateway's failure, or 200.")
    sip_reason = models.CharField("SIP reason", max_length=128, blank=True)
    release_reason = models.CharField(max_length=32, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds from answer to end.")
    pdd_ms = models.PositiveIntegerField("PDD (ms)", null=True, blank=True,
                                         help_text="Post-dial delay: first provisional (else the answer) minus "
                                                   "the attempt.")
    ring_ms = models.PositiveIntegerField("ring time (ms)", null=True, blank=True,
                                          help_text="Answer minus the first provisional.")
    attempts = models.JSONField(default=list, blank=True,
                                help_text='Gateways tried in order: [{"provider": id, "gateway": "host:port", '
                                          '"branch": n, "code": int|null, "reason": str}].')
    planned = models.JSONField(default=list, blank=True, help_text="The decision's egress order.")
    rate = models.JSONField(null=True, blank=True,
                            help_text="The customer rate matched at decision (contracts.calls.RATE_KEYS).")
    max_duration = models.PositiveIntegerField(null=True, blank=True)
    recording = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True,
                                      help_text="When the switch lets the channel go without an end event.")
    dialog_h_entry = models.BigIntegerField(null=True, blank=True)
    dialog_h_id = models.BigIntegerField(null=True, blank=True)
    end_requested_at = models.DateTimeField(null=True, blank=True, help_text="End Calls asked the edge.")
    applied = models.JSONField(default=list, blank=True,
                               help_text="Digests of the spool lines merged in: a line read twice is applied once.")
    updated_at = models.DateTimeField(default=timezone.now)

    objects = CallRecordQuerySet.as_manager()

    class Meta:
        ordering = ("-attempted_at", "-id")
        indexes = [
            models.Index(fields=["customer", "attempted_at"], name="cdrs_call_customer_time"),
            models.Index(fields=["state"], name="cdrs_call_state"),
            models.Index(fields=["sip_code"], name="cdrs_call_sip_code"),
            models.Index(fields=["attempted_at"], name="cdrs_call_time"),
        ]

    def __str__(self) -> str:
        return self.call_id

    @property
    def audit_parent(self) -> Customer | None:
        """End Calls is logged under the customer too, so its card's Audit Log shows it."""
        return self.customer

    @property
    def is_live(self) -> bool:
        return (self.state in LIVE_STATES and self.expires_at is not None
                and self.expires_at > timezone.now())


class SpoolCursor(models.Model):
    """How far the loader has applied one spool file (bytes): advanced in the transaction of its batch."""

    file = models.CharField(max_length=255, unique=True, help_text="The file's name under the spool directory.")
    offset = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.file}@{self.offset}"


def _money(verbose_name: str, **kwargs: object) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES,
                               **kwargs)  # type: ignore[arg-type]


class CdrSource(models.TextChoices):
    SWITCH = "switch", "Switch"  # rated from a call record the spool loader finished
    API = "api", "API"  # POST /api/v1/cdrs/ingest/
    CSV = "csv", "CSV import"


class Cdr(models.Model):
    """One rated leg of one call (domain.md §5.1/§5.2): the customer side (sell) and the provider side (buy).

    Written by `trunkline.cdrs.services.ingest` only, with its ledger charge and its rollups in the same
    transaction. Unique by (call_id, leg): a replayed record changes nothing. Re-rating (services.recalc) rewrites
    the rated fields and posts the difference of `ledger_total` to the ledger, never a second charge.
    Not change-logged (traffic); a recalc run is audited as one change.
    """

    call_id = models.CharField("call ID", max_length=255)
    leg = models.CharField(max_length=16, default="a", help_text="Several CDRs of one call id differ by leg.")
    source = models.CharField(max_length=10, choices=CdrSource.choices)
    node = models.CharField("switch", max_length=100, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cdrs")
    ingress_route = models.ForeignKey(IngressRoute, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="cdrs")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, null=True, blank=True, related_name="cdrs")
    source_ip = models.CharField("source IP", max_length=64, blank=True)
    sip_user = models.CharField("SIP user", max_length=64, blank=True)
    cli = models.CharField("source number (CLI)", max_length=128, blank=True)
    dst = models.CharField("destination", max_length=128, help_text="The dialled number after processing.")
    tech_prefix = models.CharField(max_length=20, blank=True)
    start = models.DateTimeField("call time", help_text="The attempt's start (UTC).")
    answer = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField("duration (ms)", default=0, help_text="End minus answer, exact.")
    duration = models.PositiveIntegerField("duration (s)", default=0,
                                           help_text="Connected seconds, by the customer card's duration rounding.")
    pdd_ms = models.PositiveIntegerField("PDD (ms)", null=True, blank=True)
    ring_ms = models.PositiveIntegerField("ring duration (ms)", null=True, blank=True)
    sip_code = models.PositiveSmallIntegerField("SIP code")
    sip_reason = models.CharField("SIP reason", max_length=128, blank=True)
    release_reason = models.CharField(max_length=32, blank=True)
    # Customer side: the sell rate of the customer card's revision live at `start`.
    customer_card_id = models.BigIntegerField("card ID", null=True, blank=True)
    customer_revision_id = models.BigIntegerField(null=True, blank=True)
    customer_dest_code = models.CharField("destination code", max_length=20, blank=True)
    customer_dest_name = models.CharField("destination name", max_length=100, blank=True)
    customer_rate = models.DecimalField("rate", max_digits=MONEY_MAX_DIGITS, decimal_places=RATE_PLACES,
                                        null=True, blank=True)
    customer_connect_fee = models.DecimalField("connect cost", max_digits=MONEY_MAX_DIGITS,
                                               decimal_places=RATE_PLACES, null=True, blank=True)
    customer_billed = models.PositiveIntegerField("billed duration (s)", default=0)
    customer_charge = _money("charge", default=ZERO, help_text="Net, at the card's billing precision.")
    customer_tax = _money("tax", default=ZERO)
    customer_currency = models.CharField(max_length=3, blank=True)
    # Provider side: the buy rate of the answering provider's card, at its revision live at `start`.
    provider_card_id = models.BigIntegerField(null=True, blank=True)
    provider_revision_id = models.BigIntegerField(null=True, blank=True)
    provider_dest_code = models.CharField(max_length=20, blank=True)
    provider_dest_name = models.CharField(max_length=100, blank=True)
    provider_rate = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=RATE_PLACES, null=True,
                                        blank=True)
    provider_connect_fee = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=RATE_PLACES,
                                               null=True, blank=True)
    provider_billed = models.PositiveIntegerField(default=0)
    provider_charge = _money("provider charge", default=ZERO)
    provider_currency = models.CharField(max_length=3, blank=True)
    profit = _money("profit", null=True, blank=True,
                    help_text="Customer charge minus provider charge; empty when their currencies differ.")
    rating_error = models.CharField(max_length=200, blank=True,
                                    help_text="Why a side could not be rated (it is then charged 0 until re-rated).")
    ledger_total = _money("charged to the ledger", default=ZERO,
                          help_text="Gross (tax included) that the ledger holds for this CDR: its charge plus "
                                    "every re-rate difference.")
    rated_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-start", "-id")
        constraints = [models.UniqueConstraint(fields=["call_id", "leg"], name="cdr_call_leg")]
        indexes = [
            models.Index(fields=["customer", "start"], name="cdr_customer_start"),
            models.Index(fields=["provider", "start"], name="cdr_provider_start"),
            models.Index(fields=["start"], name="cdr_start"),
        ]

    def __str__(self) -> str:
        return f"{self.call_id}/{self.leg}"

    @property
    def connected(self) -> bool:
        return self.answer is not None


class Rollup(models.Model):
    """Traffic per customer, provider, customer destination and UTC hour, kept by ingest and recalc in the CDRs'
    transaction (atomic increments in key order). Stats and summaries read only rollups.

    Plain ids, not foreign keys: 0 = no provider (a call rejected before egress), so the unique key has no NULL.
    """

    hour = models.DateTimeField(help_text="The hour's start (UTC).")
    customer_id = models.BigIntegerField()
    provider_id = models.BigIntegerField(default=0)
    destination = models.CharField(max_length=100, blank=True, help_text="The customer destination name "
                                                                         "(else its code).")
    attempts = models.BigIntegerField(default=0)
    connected = models.BigIntegerField(default=0)
    duration = models.BigIntegerField(default=0, help_text="Connected seconds.")
    customer_billed = models.BigIntegerField(default=0)
    provider_billed = models.BigIntegerField(default=0)
    customer_charge = models.DecimalField(max_digits=24, decimal_places=MONEY_PLACES, default=ZERO)
    provider_charge = models.DecimalField(max_digits=24, decimal_places=MONEY_PLACES, default=ZERO)
    pdd_ms = models.BigIntegerField(default=0, help_text="Sum of the PDDs of the calls that have one.")
    pdd_calls = models.BigIntegerField(default=0)
    channel_breaches = models.BigIntegerField(default=0)
    cps_breaches = models.BigIntegerField(default=0)
    last_call_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "customer_id", "provider_id", "destination"],
                                               name="rollup_key")]
        # These and the code and peak rollups' indexes are covering on PostgreSQL (INCLUDE the columns stats.py
        # sums: index-only scans), made so by migration 0003 (SQLite has no INCLUDE).
        indexes = [
            models.Index(fields=["customer_id", "hour"], name="rollup_customer_hour"),
            models.Index(fields=["provider_id", "hour"], name="rollup_provider_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h customer {self.customer_id} provider {self.provider_id} {self.destination}"


class CodeRollup(models.Model):
    """Final SIP codes per customer, provider and UTC hour (the Codes charts)."""

    hour = models.DateTimeField()
    customer_id = models.BigIntegerField()
    provider_id = models.BigIntegerField(default=0)
    sip_code = models.PositiveSmallIntegerField()
    calls = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "customer_id", "provider_id", "sip_code"],
                                               name="code_rollup_key")]
        indexes = [models.Index(fields=["customer_id", "hour"], name="code_rollup_customer_hour"),
                   models.Index(fields=["provider_id", "hour"], name="code_rollup_provider_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h customer {self.customer_id} provider {self.provider_id} {self.sip_code}"


class PeakScope(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PROVIDER = "provider", "Provider"


class PeakRollup(models.Model):
    """Highest concurrent channels and calls started in one second, per customer or provider and UTC hour.

    Peaks do not add up across destinations, so they have their own rows; merged with max().
    """

    hour = models.DateTimeField()
    scope = models.CharField(max_length=10, choices=PeakScope.choices)
    scope_id = models.BigIntegerField()
    channels = models.PositiveIntegerField(default=0)
    cps = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "scope", "scope_id"], name="peak_rollup_key")]
        indexes = [models.Index(fields=["scope", "scope_id", "hour"], name="peak_rollup_scope_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.scope} {self.scope_id}"


class RecalcOperation(models.TextChoices):
    """domain.md §5.4."""

    REFRESH_CREDIT = "refresh_credit", "Refresh Credit"
    REFRESH_SUMMARIES = "refresh_summaries", "Refresh Summaries & Credit"
    RERATE = "rerate", "Re-rate Calls, and Refresh Summaries & Credit"
    ADJUST_DURATION = "adjust_duration", "Adjust Call Duration, Re-rate Calls, and Refresh Summaries & Credit"


class RecalcRun(models.Model):
    """One Recalc CDR request: run by the worker (its Job shows progress); the request is the audited change."""

    operation = models.CharField(max_length=20, choices=RecalcOperation.choices)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="recalc_runs")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="recalc_runs")
    cdr_ids = models.JSONField(default=list, blank=True, help_text="Selected CDRs (instead of a customer or "
                                                                   "provider).")
    date = models.DateField(null=True, blank=True, help_text="The UTC day (refresh operations).")
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    release_reasons = models.JSONField(default=list, blank=True)
    min_duration = models.PositiveIntegerField(null=True, blank=True)
    new_duration = models.PositiveIntegerField(null=True, blank=True)
    job = models.ForeignKey("core.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    cdrs_seen = models.PositiveIntegerField(default=0)
    cdrs_changed = models.PositiveIntegerField(default=0)
    ledger_difference = _money("ledger difference", default=ZERO)
    summary = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"Recalc #{self.pk} ({self.get_operation_display()})"
