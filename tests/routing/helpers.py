"""Builders for routing test data; every write runs in a change context, as real writers do."""

from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Any

from tests.factories import make_customer
from tests.sipauth.factories import make_ip_auth
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.routing.models import IngressRoute, Provider, RateCard, RateRevision
from trunkline.routing.services.ratecards import rate_card_import, rate_card_save
from trunkline.routing.services.routes import ingress_route_save

_sequence = count(1)
HEADER = "prefix,name,rate,connection_fee,mcd,pulse,grace,status\n"
SIMULATE_IP = "203.0.113.10"


def make_provider(**fields: Any) -> Provider:
    data: dict[str, Any] = {"name": f"Provider {next(_sequence):04d}",
                            "gateways": [{"host": "198.51.100.7", "port": 5060, "transport": "udp"}]}
    data.update(fields)
    with change_context(source="test"):
        provider = Provider(**data)
        provider.full_clean()
        provider.save()
    return provider


def make_card(*, egress_cards: list[RateCard] | None = None, **fields: Any) -> RateCard:
    data: dict[str, Any] = {"name": f"Card {next(_sequence):04d}", "kind": "customer", "currency": "USD"}
    data.update(fields)
    if data["kind"] == "provider" and "provider" not in data:
        data["provider"] = make_provider()
    with change_context(source="test"):
        return rate_card_save(card=RateCard(**data), egress_cards=egress_cards)


def load_rates(card: RateCard, lines: str, **options: Any) -> RateRevision:
    """Import `lines` (CSV rows in the export layout, no header) and return the new revision."""
    with change_context(source="test"):
        result = rate_card_import(card=card, text=HEADER + lines, **options)
    assert not result.errors, result.errors
    return result.revision


@dataclass
class SimulateWorld:
    customer: Customer
    cheap: RateCard
    dear: RateCard
    route: IngressRoute


def simulate_world() -> SimulateWorld:
    """Acme Voice calling from SIMULATE_IP with 1.00 of credit, sold 44 at 0.05/min (6/6) on Retail, which 1.00
    buys for 1,200 seconds. Provider card Cheap has 447 at 0.01 and Dear 44 at 0.02, so a UK mobile goes to
    Cheap, then Dear."""
    customer = make_customer(name="Acme Voice", debit_limit=Decimal("1.00"))
    make_ip_auth(customer, ip=SIMULATE_IP)
    dear = make_card(kind="provider", name="Dear")
    load_rates(dear, "44,UK,0.0200,0,1,1,0,active\n")
    cheap = make_card(kind="provider", name="Cheap")
    load_rates(cheap, "447,UK Mobile,0.0100,0,1,1,0,active\n")
    sell = make_card(name="Retail", egress_cards=[dear, cheap])
    load_rates(sell, "44,UK,0.0500,0,6,6,0,active\n")
    with change_context(source="test"):
        route = ingress_route_save(route=IngressRoute(customer=customer, rate_card=sell, recording="always"))
    return SimulateWorld(customer, cheap, dear, route)
