"""Call records: one row per call id, merged by the worker from the switch's spool lines (contracts.calls)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from trunkline.cdrs.choices import LIVE_STATES, CallState
from trunkline.customers.models import Customer
from trunkline.routing.models import IngressRoute, Provider


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
