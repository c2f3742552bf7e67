"""Believable demo routing, so Simulate Call routes out of the box: three providers, their buy cards and one
customer card in each of USD, GBP and EUR, and for each demo customer billed in one of those an ingress route and
an IP-auth entry. Deterministic and idempotent by name: what exists already is left as it is.

Everything goes through the services, so it is validated and audited as an operator's writes are; the caller
provides the change context and the transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from trunkline.customers.demo import demo_customers
from trunkline.customers.models import Customer
from trunkline.routing.choices import RateCardKind, RateStatus
from trunkline.routing.models import IngressRoute, Provider, RateCard
from trunkline.routing.ratefile import COLUMNS
from trunkline.routing.services.ratecards import rate_card_import, rate_card_save
from trunkline.routing.services.routes import ingress_route_save
from trunkline.sipauth.models import IpAuth
from trunkline.sipauth.services import ip_auth_save

# Gateways in 198.51.100.0/24 and customers in 203.0.113.0/24 (TEST-NET-2 and -3): documentation ranges, so a
# demo that escapes to a real switch reaches nobody.
PROVIDERS: tuple[dict[str, Any], ...] = (
    {"name": "Alpha Carrier", "channels": 500, "cps": 50,
     "gateways": [{"host": "198.51.100.10", "port": 5060, "transport": "udp"}]},
    {"name": "Bravo Telecom", "channels": 300, "cps": 30,
     "gateways": [{"host": "198.51.100.20", "port": 5060, "transport": "udp"},
                  {"host": "198.51.100.21", "port": 5060, "transport": "udp"}]},
    {"name": "Charlie Networks", "channels": 200, "cps": 20,
     "gateways": [{"host": "198.51.100.30", "port": 5080, "transport": "tcp"}]},
)
CUSTOMER_IP = "203.0.113.{}"
# A second entry for one postpaid demo customer, so that SIPp on this machine can send the README's first call
# to `trunkline switch`.
LOCAL_IP = "127.0.0.1"

# The deck is priced in USD; the other cards are the same deck at a fixed rate, so every currency routes alike.
CURRENCIES = {"USD": Decimal("1"), "GBP": Decimal("0.79"), "EUR": Decimal("0.92")}
RATE_QUANTUM = Decimal("0.000001")  # the 6 places a rate is stored with

# prefix, name, increment (MCD/pulse), sell rate, then the buy rates of Alpha, Bravo and Charlie (USD per
# minute). Alpha is cheapest on fixed lines, Bravo on European mobiles, Charlie on long haul, so the LCR order
# depends on the destination; the sell rate is about 30% above the dearest buy rate.
DECK: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("1", "USA & Canada", "6/6", "0.0070", "0.0048", "0.0055", "0.0051"),
    ("1212", "USA New York", "6/6", "0.0062", "0.0040", "0.0049", "0.0045"),
    ("1876", "Jamaica", "60/60", "0.1950", "0.1450", "0.1390", "0.1520"),
    ("44", "United Kingdom", "1/1", "0.0068", "0.0038", "0.0052", "0.0046"),
    ("4420", "United Kingdom London", "1/1", "0.0057", "0.0030", "0.0044", "0.0038"),
    ("447", "United Kingdom Mobile", "1/1", "0.0175", "0.0135", "0.0098", "0.0112"),
    ("49", "Germany", "1/1", "0.0085", "0.0052", "0.0066", "0.0059"),
    ("4915", "Germany Mobile", "1/1", "0.0680", "0.0520", "0.0405", "0.0460"),
    ("4916", "Germany Mobile", "1/1", "0.0700", "0.0535", "0.0415", "0.0470"),
    ("4917", "Germany Mobile", "1/1", "0.0690", "0.0525", "0.0410", "0.0465"),
    ("33", "France", "1/1", "0.0099", "0.0061", "0.0076", "0.0069"),
    ("336", "France Mobile", "1/1", "0.0375", "0.0290", "0.0212", "0.0248"),
    ("337", "France Mobile", "1/1", "0.0380", "0.0295", "0.0218", "0.0251"),
    ("34", "Spain", "1/1", "0.0092", "0.0055", "0.0071", "0.0063"),
    ("346", "Spain Mobile", "1/1", "0.0310", "0.0240", "0.0178", "0.0205"),
    ("31", "Netherlands", "1/1", "0.0115", "0.0070", "0.0088", "0.0079"),
    ("316", "Netherlands Mobile", "1/1", "0.0620", "0.0480", "0.0390", "0.0425"),
    ("39", "Italy", "1/1", "0.0095", "0.0058", "0.0072", "0.0066"),
    ("393", "Italy Mobile", "1/1", "0.0405", "0.0310", "0.0235", "0.0270"),
    ("353", "Ireland", "1/1", "0.0120", "0.0075", "0.0092", "0.0084"),
    ("3538", "Ireland Mobile", "1/1", "0.0550", "0.0420", "0.0330", "0.0375"),
    ("91", "India", "30/6", "0.0405", "0.0315", "0.0290", "0.0262"),
    ("971", "United Arab Emirates", "60/60", "0.1890", "0.1380", "0.1460", "0.1290"),
    ("9715", "United Arab Emirates Mobile", "60/60", "0.2080", "0.1520", "0.1610", "0.1410"),
    ("234", "Nigeria", "60/60", "0.1280", "0.0980", "0.0920", "0.0850"),
    ("2348", "Nigeria Mobile", "30/6", "0.1480", "0.1150", "0.1080", "0.0990"),
    ("63", "Philippines", "60/60", "0.1490", "0.1150", "0.1090", "0.0980"),
    ("639", "Philippines Mobile", "60/60", "0.1720", "0.1320", "0.1270", "0.1150"),
    ("61", "Australia", "30/6", "0.0170", "0.0110", "0.0132", "0.0121"),
    ("614", "Australia Mobile", "30/6", "0.0420", "0.0320", "0.0255", "0.0288"),
    ("27", "South Africa", "1/1", "0.0430", "0.0290", "0.0330", "0.0275"),
    ("277", "South Africa Mobile", "1/1", "0.0680", "0.0520", "0.0445", "0.0410"),
    ("278", "South Africa Mobile", "1/1", "0.0690", "0.0530", "0.0450", "0.0415"),
)
# Charlie bills Nigerian mobiles per minute while the customer card bills per 6 s: cheapest per minute, it loses
# money on short calls, so routes with profit assurance drop it there.
BUY_INCREMENTS = {("Charlie Networks", "2348"): "60/60"}
# Sold only: a range known for fraud, refused before any provider is tried.
BLOCKED = (("4470", "United Kingdom Personal Numbering", "1/1", "0.2500"),)
# A postpaid customer's limit buys days of talk; routes cap a call at a few hours (CGRateS's default is 3 h).
MAX_CALL_SECONDS = 4 * 3600
# Thin-margin wholesale traffic: those customers' routes refuse providers that would cost more than they pay.
PROFIT_ASSURANCE_TAG = "wholesale"


# One row of a card as the helpers below pass it: prefix, name, increment, USD rate, status.
CardRow = tuple[str, str, str, str, str]


class DemoRoutingResult(NamedTuple):
    """What one run created."""

    providers: int
    rate_cards: int
    ingress_routes: int
    ip_auths: int


def _csv(rows: list[CardRow], currency: str) -> str:
    """The rows as an import file in `currency`."""
    lines = [",".join(COLUMNS)]
    for prefix, name, increment, rate, status in rows:
        mcd, pulse = increment.split("/")
        price = (Decimal(rate) * CURRENCIES[currency]).quantize(RATE_QUANTUM)
        lines.append(f"{prefix},{name},{price},0,{mcd},{pulse},0,{status}")
    return "\n".join(lines) + "\n"


def _sell_rows() -> list[CardRow]:
    rows = [(prefix, name, increment, sell, RateStatus.ACTIVE.value)
            for prefix, name, increment, sell, *_ in DECK]
    return rows + [(*row, RateStatus.BLOCKED.value) for row in BLOCKED]


def _buy_rows(position: int, provider: str) -> list[CardRow]:
    return [(prefix, name, BUY_INCREMENTS.get((provider, prefix), increment), buys[position], RateStatus.ACTIVE.value)
            for prefix, name, increment, _sell, *buys in DECK]


def _card(name: str, currency: str, rows: list[CardRow], *, provider: Provider | None = None,
          egress_cards: list[RateCard] | None = None) -> tuple[RateCard, bool]:
    """The card named `name`, created with its deck as the active revision unless it exists; and whether it was."""
    card = RateCard.objects.filter(name=name).first()
    if card is not None:
        return card, False
    kind = RateCardKind.PROVIDER if provider else RateCardKind.CUSTOMER
    card = rate_card_save(card=RateCard(name=name, kind=kind, currency=currency, provider=provider),
                          egress_cards=egress_cards)
    result = rate_card_import(card=card, text=_csv(rows, currency), note="Demo deck")
    if result.errors:  # the deck above is wrong: fail the run rather than leave an empty card
        raise ValueError(f"The demo deck of {name} does not import: {result.errors}")
    return card, True


def demo_routing() -> DemoRoutingResult:
    """Create what is missing of the demo routing (after the demo customers exist); returns what was created."""
    providers: list[Provider] = []
    providers_created = 0
    for data in PROVIDERS:
        provider = Provider.objects.filter(name=data["name"]).first()
        if provider is None:
            provider = Provider(**data)
            provider.full_clean()
            provider.save()
            providers_created += 1
        providers.append(provider)

    cards_created = 0
    customer_cards: dict[str, RateCard] = {}
    for currency in CURRENCIES:
        buy_cards = []
        for position, provider in enumerate(providers):
            short = provider.name.split()[0]
            card, created = _card(f"{short} {currency} Buy", currency, _buy_rows(position, provider.name),
                                  provider=provider)
            buy_cards.append(card)
            cards_created += created
        card, created = _card(f"Wholesale {currency}", currency, _sell_rows(), egress_cards=buy_cards)
        customer_cards[currency] = card
        cards_created += created

    # One IP each, numbered in the demo's own order so a customer keeps its address from one database to the next.
    names = [data["name"] for data in demo_customers()]
    customers = Customer.objects.in_bulk(names, field_name="name")
    routed = [customers[name] for name in names if customers[name].currency in customer_cards]
    with_route = set(IngressRoute.objects.values_list("customer_id", flat=True))
    with_ip = set(IpAuth.objects.values_list("customer_id", flat=True))
    taken = set(IpAuth.objects.values_list("ip", flat=True))  # by someone else: the save would refuse the overlap
    routes_created = ips_created = 0
    for number, customer in enumerate(routed, start=1):
        if customer.pk not in with_route:
            ingress_route_save(route=IngressRoute(customer=customer, rate_card=customer_cards[customer.currency],
                                                  max_duration=MAX_CALL_SECONDS,
                                                  profit_assurance=PROFIT_ASSURANCE_TAG in customer.tags))
            routes_created += 1
        ip = CUSTOMER_IP.format(number)
        if customer.pk not in with_ip and ip not in taken:
            ip_auth_save(entry=IpAuth(customer=customer, ip=ip))
            ips_created += 1
    local = local_demo_customer(routed)
    if local is not None and LOCAL_IP not in taken:
        ip_auth_save(entry=IpAuth(customer=local, ip=LOCAL_IP))
        ips_created += 1
    return DemoRoutingResult(providers_created, cards_created, routes_created, ips_created)


def local_demo_customer(routed: list[Customer]) -> Customer | None:
    """The demo customer that calls from this machine get: the last active USD customer with credit (a debit
    limit) and no verification to do, so a first call routes whatever its balance."""
    return next((customer for customer in reversed(routed)
                 if customer.status == "active" and customer.currency == "USD" and customer.debit_limit > 0
                 and not customer.email_verification and not customer.mobile_verification), None)
