"""Builders for Auth-tab test data (and the routes that tell shared IPs apart), through the services the API
uses."""

from itertools import count
from typing import Any

from tests.factories import make_customer
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.routing.models import IngressRoute, RateCard
from trunkline.routing.services.routes import ingress_route_save
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser
from trunkline.sipauth.services import ip_auth_save, sip_user_save

SIP_PASSWORD = "Lantern-Quartz-77"

_sequence = count(1)


def make_ip_auth(customer: Customer | None = None, **fields: Any) -> IpAuth:
    number = next(_sequence)
    data: dict[str, Any] = {"ip": f"198.51.100.{number % 250 + 1}"}
    data.update(fields)
    entry = IpAuth(customer=customer or make_customer(), **data)
    with change_context(source="test"):
        ip_auth_save(entry=entry)
    return entry


def make_route(customer: Customer, rate_card: RateCard, tech_prefix: str = "", **fields: Any) -> IngressRoute:
    """An ingress route: what tells customers sharing an IP apart (trunkline.sipauth.sharing)."""
    with change_context(source="test"):
        return ingress_route_save(route=IngressRoute(customer=customer, rate_card=rate_card, tech_prefix=tech_prefix,
                                                     **fields))


def make_sip_user(customer: Customer | None = None, *, password: str = SIP_PASSWORD, **fields: Any) -> SipUser:
    data: dict[str, Any] = {"username": f"user{next(_sequence):04d}"}
    data.update(fields)
    with change_context(source="test"):
        return sip_user_save(user=SipUser(customer=customer or make_customer(), **data), password=password)


def make_rewrite(owner: IpAuth | SipUser, **fields: Any) -> ParameterRewrite:
    data: dict[str, Any] = {"type": "destination", "match": "0", "replace": "44"}
    data.update(fields)
    key = "ip_auth" if isinstance(owner, IpAuth) else "sip_user"
    rule = ParameterRewrite(**{key: owner}, **data)
    with change_context(source="test"):
        rule.full_clean()
        rule.save()
    return rule
