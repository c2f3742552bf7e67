"""Auth-tab writes whose rules reach beyond one row: IPs shared between customers, the SIP users' share of the
customer's channels, SIP passwords and voicemail PINs.

Each service runs in one transaction; callers run inside a change context (web, API, command, job).
"""

from __future__ import annotations

import secrets
import string

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Sum

from trunkline.core.integers import ascii_int
from trunkline.customers.models import Customer
from trunkline.sipauth.choices import Direction
from trunkline.sipauth.digest import digest_ha1
from trunkline.sipauth.models import IpAuth, SipUser

NO_CHANNEL_CAPACITY = "No channel capacity available for your account"
SIP_PASSWORD_MIN_LENGTH = 8
VOICEMAIL_PIN_LENGTH = 6
# Any constant: PostgreSQL advisory locks are keyed by a number, and IP-auth writes share this one.
_IP_AUTH_LOCK_KEY = 0x5149_5041  # "SIPA"

#
# IP authentication
#


def _serialise_ip_auth_writes() -> None:
    """Two customers adding the same IP at once would each see the other's entry missing: take turns.
    PostgreSQL: a transaction-scoped advisory lock. SQLite (the single-machine default) allows one writer at a
    time already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_IP_AUTH_LOCK_KEY])


def _told_apart_by(entry: IpAuth, other: IpAuth) -> str | None:
    """What lets the switch tell calls from a shared IP apart (DESIGN.md, The call decision, step 1), if anything.
    CLI authentication must be on for both (domain.md §1.9); tech prefixes must both be set and differ (the
    longest wins, so 1 and 12 are fine, but a customer without one would take calls meant for nobody)."""
    if entry.cli_authentication and other.cli_authentication:
        return "CLI authentication"
    if entry.tech_prefix and other.tech_prefix and entry.tech_prefix != other.tech_prefix:
        return f"tech prefixes {entry.tech_prefix} and {other.tech_prefix}"
    return None


def _shared_ip_warnings(entry: IpAuth) -> list[str]:
    """Warnings for other customers' entries whose networks overlap this one; ValidationError if any of them
    cannot be told apart. Only entries that send calls identify a customer, so only those are compared."""
    if entry.direction != Direction.SENDS:
        return []
    network = entry.network
    others = (IpAuth.objects.filter(direction=Direction.SENDS).exclude(customer_id=entry.customer_id)
              .exclude(pk=entry.pk).select_related("customer").order_by("id"))
    warnings: list[str] = []
    for other in others:
        if other.network.version != network.version or not other.network.overlaps(network):
            continue
        reason = _told_apart_by(entry, other)
        if reason is None:
            raise ValidationError({"ip": [
                f"{entry.ip} overlaps {other.ip} of customer {other.customer.name} (IP auth #{other.pk}). Calls "
                f"from it could not be told apart: give both entries different tech prefixes, or turn on CLI "
                f"authentication on both."]})
        warnings.append(f"{entry.ip} is shared with customer {other.customer.name} ({other.ip}, IP auth "
                        f"#{other.pk}); calls are told apart by {reason}.")
    return warnings


def ip_auth_save(*, entry: IpAuth) -> list[str]:
    """Create or update an IP-auth entry; returns warnings about customers sharing its IP."""
    entry.full_clean()
    with transaction.atomic():
        _serialise_ip_auth_writes()
        warnings = _shared_ip_warnings(entry)
        entry.save()
    return warnings


#
# SIP users
#


def _check_number_blocks(user: SipUser, customer: Customer) -> None:
    blocks = list(customer.number_blocks.order_by("start"))
    if not blocks:
        return
    number = ascii_int(user.username)
    if number is None or not any(block.start <= number <= block.end for block in blocks):
        ranges = ", ".join(f"{block.start}-{block.end}" for block in blocks)
        raise ValidationError({"username": [f"{customer.name} holds internal number blocks, so the username must "
                                            f"be a number in {ranges}."]})


def _check_channel_capacity(user: SipUser, customer: Customer) -> None:
    """The channels of a customer's SIP users add up to at most the customer's channels (0 = unlimited)."""
    if not customer.channels:
        return
    others = (SipUser.objects.filter(customer=customer).exclude(pk=user.pk)
              .aggregate(total=Sum("channels"))["total"] or 0)
    if others + user.channels > customer.channels:
        raise ValidationError({"channels": [NO_CHANNEL_CAPACITY]})


def check_sip_password(*, pk: int | None, username: str, password: str) -> None:
    """A new user, or one whose username changes, needs a password: only its digest HA1 is stored, and HA1 is
    computed from the username."""
    if password:
        if len(password) < SIP_PASSWORD_MIN_LENGTH:
            raise ValidationError({"password": [f"Use at least {SIP_PASSWORD_MIN_LENGTH} characters."]})
        return
    if pk is None:
        raise ValidationError({"password": ["A new SIP user needs a password."]})
    if SipUser.objects.filter(pk=pk).values_list("username", flat=True).first() != username:
        raise ValidationError({"password": ["Changing the username needs a new password: the stored digest (HA1) "
                                            "is computed from the username and the password."]})


def sip_user_save(*, user: SipUser, password: str = "") -> SipUser:
    """Create or update a SIP user; the password (see check_sip_password) is kept only as its digest HA1."""
    check_sip_password(pk=user.pk, username=user.username, password=password)
    if password:
        user.ha1 = digest_ha1(user.username, password)
    user.full_clean()
    with transaction.atomic():
        # The customer row is the lock: two SIP users saved at once take turns, so their channels cannot both
        # fit in the same remaining capacity.
        customer = Customer.objects.select_for_update().get(pk=user.customer_id)
        _check_number_blocks(user, customer)
        _check_channel_capacity(user, customer)
        user.save()
    return user


def sip_user_reset_voicemail_pin(*, user: SipUser) -> str:
    """Generate a new numeric voicemail PIN; it is returned once and stored only as a hash."""
    if not user.voicemail_enabled:
        raise ValidationError({"voicemail_enabled": ["Enable voicemail before setting its PIN."]})
    pin = "".join(secrets.choice(string.digits) for _ in range(VOICEMAIL_PIN_LENGTH))
    user.voicemail_pin = make_password(pin)
    with transaction.atomic():
        user.save(update_fields=["voicemail_pin", "updated"])
    return pin
