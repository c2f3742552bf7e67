"""Reads of IP authentication and SIP users for the control panel: the card's Auth tab, an entry's rules."""

from __future__ import annotations

from django.db.models import QuerySet

from trunkline.customers.models import Customer
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser


def ip_auths(customer: Customer) -> QuerySet[IpAuth]:
    return customer.ip_auths.prefetch_related("parameter_rewrites").order_by("ip", "id")


def sip_users(customer: Customer) -> QuerySet[SipUser]:
    return customer.sip_users.prefetch_related("parameter_rewrites").order_by("username")


def rewrite_rules(owner: IpAuth | SipUser) -> QuerySet[ParameterRewrite]:
    return owner.parameter_rewrites.all()


def stored_rules(owner: IpAuth | SipUser) -> list[tuple[str, str, str]]:
    """The owner's parameter rewrites as (type, match, replace), in order; none for an entry not saved yet."""
    if owner.pk is None:
        return []
    return [(rule.type, rule.match, rule.replace) for rule in rewrite_rules(owner)]
