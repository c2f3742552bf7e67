"""Auth-tab writes whose rules reach beyond one row: IPs shared between customers, the SIP users' share of the
customer's channels, SIP passwords and voicemail PINs.

Each service runs in one transaction; callers run inside a change context (web, API, command, job).
"""

from __future__ import annotations

import secrets
import string

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from trunkline.core.integers import ascii_int
from trunkline.customers.models import Customer
from trunkline.sipauth.digest import digest_ha1
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser
from trunkline.sipauth.selectors import stored_rules
from trunkline.sipauth.sharing import serialise_shared_ip_writes, shared_ip_warnings

NO_CHANNEL_CAPACITY = "No channel capacity available for your account"
SIP_PASSWORD_MIN_LENGTH = 8
VOICEMAIL_PIN_LENGTH = 6

#
# IP authentication
#


def ip_auth_save(*, entry: IpAuth) -> list[str]:
    """Create or update an IP-auth entry; returns warnings about customers sharing its IP (sipauth.sharing)."""
    entry.full_clean()
    with transaction.atomic():
        serialise_shared_ip_writes()
        warnings = shared_ip_warnings(entry)
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


#
# Parameter rewrites
#


def replace_rules(*, owner: IpAuth | SipUser, rules: list[tuple[str, str, str]]) -> None:
    """Make the owner's rules these (type, match, replace), in this order; untouched when unchanged, so saving an
    entry does not log a delete and re-create of every rule."""
    if stored_rules(owner) == rules:
        return
    for rule in owner.parameter_rewrites.all():
        rule.delete()  # one by one: each deletion reaches the audit log
    key = "ip_auth" if isinstance(owner, IpAuth) else "sip_user"
    for number, (kind, match, replace) in enumerate(rules, start=1):
        rule = ParameterRewrite(**{key: owner}, type=kind, match=match, replace=replace, order=number * 10)
        try:
            rule.full_clean()
        except ValidationError as error:
            # Every rule is in one box, so name the line.
            raise ValidationError({"rewrites": [f"Line {number}: {message}" for message in error.messages]}) \
                from error
        rule.save()
