"""The Auth tab: how a call is attributed to a customer (domain.md §1.9) and how its numbers are rewritten on
the way in (§3.5)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse

from trunkline.contracts import snapshot
from trunkline.core.models import ChangeLoggedModel
from trunkline.core.validators import (
    normalize_ip_list,
    normalize_tags,
    reject_control_characters,
    validate_ip_list,
)
from trunkline.customers.models import BelongsToCustomer, Customer
from trunkline.sipauth.choices import Direction, NatPing, Protocol, RewriteType
from trunkline.switch.regex import PatternError, compile_pattern
from trunkline.switch.rewrite import RewriteChain

validate_tech_prefix = RegexValidator(r"^[0-9#*]*$", "A tech prefix holds digits, # and * only.", "tech_prefix")
validate_cli_prefix = RegexValidator(r"^\+?[0-9]*$", "A CLI prefix holds digits, optionally after a +.",
                                     "cli_prefix")
validate_sip_username = RegexValidator(
    r"^[A-Za-z0-9._+\-]+$", "A SIP username holds letters, digits and . _ + - only.", "sip_username")


def normalize_network(value: str) -> str:
    """"192.0.2.7" stays an address; "192.0.2.7/24" becomes the network 192.0.2.0/24; /32 (/128) is an address.
    Unparseable input is returned trimmed, for the validator to name."""
    text = (value or "").strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return text
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def validate_network(value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as error:
        raise ValidationError(f"'{value}' is not an IP address or network (CIDR).", code="ip") from error


def validate_regex(value: str) -> None:
    """A pattern as the switch reads it (PCRE-style named groups accepted), compiled by the switch's own code."""
    if value:
        try:
            compile_pattern(value, "dial pattern")
        except PatternError as error:
            raise ValidationError(str(error).partition(": ")[2], code="regex") from error


def validate_codecs(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(codec, str) and codec.strip() for codec in value):
        raise ValidationError("Codecs must be a list of codec names, such as PCMA, PCMU, G729.", code="codecs")


class IpAuth(BelongsToCustomer, ChangeLoggedModel):
    """An IP (or network) of a customer's switch: calls it sends are attributed to the customer; calls to it
    leave towards it. Fields marked legacy in domain.md §3.5 are kept for parity; Parameter Rewrite replaces them."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ip_auths")
    ip = models.CharField("IP", max_length=64, validators=[validate_network],
                          help_text="An address or a network (CIDR); stored normalised (192.0.2.7/24 -> 192.0.2.0/24).")
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.SENDS)
    channels = models.PositiveIntegerField(default=0, help_text="Concurrent calls; 0 = unlimited.")
    cps = models.PositiveIntegerField("flow speed (CPS)", default=0, help_text="Calls per second; 0 = unlimited.")
    codecs = models.JSONField(default=list, blank=True, validators=[validate_codecs],
                              help_text="Allowed codecs; empty = all.")
    manufacturer = models.CharField(max_length=100, blank=True, validators=[reject_control_characters],
                                    help_text="For reference only.")
    version = models.CharField(max_length=100, blank=True, validators=[reject_control_characters],
                               help_text="For reference only.")
    protocol = models.CharField(max_length=5, choices=Protocol.choices, default=Protocol.UDP)
    port = models.PositiveIntegerField(default=5060, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    dial_pattern = models.CharField(max_length=200, blank=True, validators=[validate_regex],
                                    help_text="A regular expression the dialled number must match; empty = any.")
    cli_prefix = models.CharField("CLI prefix", max_length=20, blank=True, validators=[validate_cli_prefix])
    tech_prefix = models.CharField(max_length=20, blank=True, validators=[validate_tech_prefix],
                                   help_text="Legacy (domain.md §3.5), not read by the switch: customers "
                                             "sharing an IP are told apart by their ingress routes' tech "
                                             "prefixes.")
    strip_digits = models.PositiveSmallIntegerField(default=0)
    bandwidth = models.PositiveIntegerField(default=0, help_text="kbit/s; 0 = unlimited.")
    force_from = models.CharField(max_length=200, blank=True, validators=[reject_control_characters])
    username = models.CharField(max_length=100, blank=True, validators=[reject_control_characters],
                                help_text="Used when Trunkline registers to the customer's switch.")
    # The credential Trunkline itself presents when it REGISTERS to (authenticates as a UAC towards) the
    # customer's switch: it must be sent as-is in the digest exchange, so it cannot be hashed like a login
    # password. It is stored as given (as Settings' SMTP password is), never returned by the API (write-only)
    # and masked in the audit log.
    password = models.CharField(max_length=128, blank=True)
    force_nat = models.BooleanField("force NAT", default=False)
    intercept_reinvite = models.BooleanField(default=False)
    cli_authentication = models.BooleanField("CLI authentication", default=False,
                                             help_text="Customers sharing this IP whose routes' tech prefixes tie are "
                                                       "told apart by their outbound CLI rules; turn it on for "
                                                       "all of them.")

    audit_masked_fields = ("password",)

    class Meta:
        ordering = ("customer", "ip", "id")
        verbose_name = "IP authentication"
        verbose_name_plural = "IP authentications"

    def __str__(self) -> str:
        return f"{self.ip} ({self.get_direction_display().lower()})"

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.ip, strict=False)

    def clean_fields(self, exclude: Any = None) -> None:
        # Normalised before the field validators run, so "192.0.2.7/24" and "192.0.2.0/24" are one network.
        self.ip = normalize_network(self.ip)
        self.codecs = normalize_tags(self.codecs) if isinstance(self.codecs, list | str) else self.codecs
        super().clean_fields(exclude=exclude)


class SipUser(BelongsToCustomer, ChangeLoggedModel):
    """A username/password a customer's UAC authenticates with (407 challenge, then digest).

    The password is never stored: only HA1 = MD5(username:realm:password) (see trunkline.sipauth.digest), which
    is all the switch needs to check a digest response. HA1 depends on the username, so renaming a user needs
    a new password; services.sip_user_save() enforces it.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sip_users")
    username = models.CharField(max_length=64, unique=True, validators=[validate_sip_username],
                                help_text="Unique across the whole system; inside the customer's internal number "
                                          "blocks when it holds any.")
    ha1 = models.CharField("digest HA1", max_length=32, editable=False)
    channels = models.PositiveIntegerField(default=0, help_text="Concurrent calls; 0 = unlimited.")
    cps = models.PositiveIntegerField("flow speed (CPS)", default=0, help_text="Calls per second; 0 = unlimited.")
    ip_whitelist = models.JSONField("IP whitelist", default=list, blank=True, validators=[validate_ip_list],
                                    help_text="IPs or networks the user may call from; empty = any.")
    nat_ping = models.CharField("NAT/SIP ping", max_length=12, choices=NatPing.choices, default=NatPing.DISABLED)
    voicemail_enabled = models.BooleanField(default=False)
    voicemail_email = models.EmailField(blank=True, help_text="Receives voicemail messages.")
    # A hash (Django's password hasher): the PIN is shown once when generated and only ever checked after.
    voicemail_pin = models.CharField("voicemail PIN", max_length=128, blank=True, editable=False)

    audit_masked_fields = ("ha1", "voicemail_pin")

    class Meta:
        ordering = ("username",)
        verbose_name = "SIP user"

    def __str__(self) -> str:
        return self.username

    def clean_fields(self, exclude: Any = None) -> None:
        self.ip_whitelist = [normalize_network(item) for item in normalize_ip_list(self.ip_whitelist)]
        super().clean_fields(exclude=exclude)


def check_rewrite(match: str, replace: str) -> None:
    """Compile a rule with the switch's own code (RewriteChain), so what saves is what the switch can run.
    The match is compiled alone first, so each error lands on the field that causes it."""
    errors: dict[str, list[str]] = {}
    for field, rule_replace in (("match", ""), ("replace", replace)):
        rule = snapshot.ParameterRewrite(id=0, auth_kind=snapshot.AuthKind.IP, auth_id=0,
                                         type=snapshot.RewriteType.DESTINATION, match=match, replace=rule_replace)
        try:
            RewriteChain([rule])
        except PatternError as error:
            # "parameter rewrite #0 match: <problem>": the field is the key, so keep the problem only.
            errors[field] = [str(error).partition(": ")[2]]
            break
    if errors:
        raise ValidationError(errors)


class ParameterRewrite(ChangeLoggedModel):
    """A rewrite of the destination or the CLI of calls arriving on one IP-auth entry or one SIP user (§3.5).
    A plain number `match` is a prefix; anything else a regular expression (trunkline.switch.rewrite)."""

    ip_auth = models.ForeignKey(IpAuth, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="parameter_rewrites", verbose_name="IP authentication")
    sip_user = models.ForeignKey(SipUser, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="parameter_rewrites", verbose_name="SIP user")
    type = models.CharField(max_length=12, choices=RewriteType.choices, default=RewriteType.DESTINATION)
    match = models.CharField(max_length=200, blank=True,
                             help_text="A prefix (digits, +, #, *) or a regular expression; empty = every value.")
    replace = models.CharField(max_length=200, blank=True, validators=[reject_control_characters],
                               help_text="May use $1, \\1 and $<name>.")
    order = models.PositiveIntegerField(default=0, help_text="Rules apply in ascending order.")

    class Meta:
        ordering = ("order", "id")
        constraints = [models.CheckConstraint(
            condition=models.Q(ip_auth__isnull=False, sip_user__isnull=True)
            | models.Q(ip_auth__isnull=True, sip_user__isnull=False),
            name="parameter_rewrite_one_owner")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} `{self.match}` -> `{self.replace}`"

    def get_absolute_url(self) -> str:
        return reverse("customers:customer", args=[self.owner.customer_id])

    @property
    def owner(self) -> IpAuth | SipUser:
        return self.ip_auth if self.ip_auth_id else self.sip_user

    @property
    def audit_parent(self) -> Customer:
        return self.owner.customer

    def clean(self) -> None:
        if (self.ip_auth_id is None) == (self.sip_user_id is None):
            raise ValidationError({"ip_auth": "Attach the rule to exactly one IP-auth entry or one SIP user."})
        check_rewrite(self.match, self.replace)

    def to_contract(self) -> snapshot.ParameterRewrite:
        """The rule as the switch reads it from the routing snapshot."""
        if self.ip_auth_id:
            kind, owner_id = snapshot.AuthKind.IP, self.ip_auth_id
        else:
            kind, owner_id = snapshot.AuthKind.SIP_USER, self.sip_user_id
        return snapshot.ParameterRewrite(id=self.pk, auth_kind=kind, auth_id=owner_id,
                                         type=snapshot.RewriteType(self.type), match=self.match,
                                         replace=self.replace, order=self.order)
