"""Rating CDRs: each side of a call priced on the card revision live at the call's start (DESIGN.md, "Money and
time"; the arithmetic and the rounding rule are trunkline.switch.rating's).

A `RatingContext` serves one batch (or one worker): it reads the customers, routes, cards and activation
histories the batch needs once, then rates every item in memory. A revision's rows never change, so they are
loaded once per process and kept in a bounded LRU shared by all contexts, keyed by (card, revision, terms): a card
whose billing terms change gets a fresh version, and nothing stale is ever used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from trunkline.contracts.money import quantize_money
from trunkline.contracts.snapshot import RateRow, RateStatus
from trunkline.customers.models import Customer
from trunkline.routing.choices import RateCardKind
from trunkline.routing.models import IngressRoute, Rate, RateActivation, RateCard
from trunkline.switch.prefix import PrefixIndex
from trunkline.switch.rating import CardTerms, CardTimeline, CardVersion, RatedLeg

ZERO = Decimal(0)
HUNDRED = Decimal(100)
ERROR_LENGTH = 200  # Cdr.rating_error's max_length
# Rows of card revisions kept in memory per process (about 80 MB per 100,000 rows with their lookup tables): a
# customer card and five provider cards of 100,000 prefixes fit; the least recently used revision goes first.
MAX_ROWS = 600_000
_ONE_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FIELDS = ("ingress_route_id", "duration_ms", "duration", "customer_card_id", "customer_revision_id",
          "customer_dest_code", "customer_dest_name", "customer_rate", "customer_connect_fee", "customer_billed",
          "customer_charge", "customer_tax", "customer_currency", "provider_card_id", "provider_revision_id",
          "provider_dest_code", "provider_dest_name", "provider_rate", "provider_connect_fee", "provider_billed",
          "provider_charge", "provider_currency", "profit", "rating_error")


class RatingInput(NamedTuple):
    customer_id: int
    ingress_route_id: int | None
    provider_id: int | None
    dst: str
    tech_prefix: str
    start: datetime
    answer: datetime | None
    end: datetime | None
    duration_ms: int | None = None  # when given, overrides end - answer (call records know whole seconds)


class _Versions:
    """The process-wide LRU of card versions, by (card id, revision id, terms), bounded by their rows."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.rows = 0
        self._items: OrderedDict[tuple[int, int, CardTerms], CardVersion] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, card_id: int, revision_id: int, terms: CardTerms) -> CardVersion:
        key = (card_id, revision_id, terms)
        with self._lock:
            version = self._items.get(key)
            if version is not None:
                self._items.move_to_end(key)
                return version
        version = CardVersion(card_id, revision_id, terms, PrefixIndex(_revision_rows(revision_id)))
        with self._lock:
            if key not in self._items:
                self._items[key] = version
                self.rows += len(version.index)
            # The newest always stays, even a revision larger than the bound on its own.
            while self.rows > self.max_rows and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self.rows -= len(dropped.index)
        return version

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.rows = 0


VERSIONS = _Versions(MAX_ROWS)


def _revision_rows(revision_id: int) -> list[RateRow]:
    # values_list, not model instances: a 100,000-row revision loads in well under a second this way.
    active, blocked = RateStatus.ACTIVE, RateStatus.BLOCKED
    return [RateRow(prefix, rate, name, fee, mcd, pulse, grace, blocked if status == blocked else active)
            for prefix, name, rate, fee, mcd, pulse, grace, status in Rate.objects.filter(
                revision_id=revision_id).order_by().values_list(
                "prefix", "name", "rate", "connection_fee", "mcd", "pulse", "grace", "status").iterator(
                chunk_size=20_000)]


@dataclass
class _Card:
    id: int
    name: str
    terms: CardTerms
    provider_id: int | None
    timeline: CardTimeline
    numbers: dict[int, int]  # revision id -> its number, for messages
    egress: list[int] = field(default_factory=list)  # provider card ids, lowest first


class _Side(NamedTuple):
    card: _Card | None
    revision_id: int | None
    leg: RatedLeg | None
    error: str


def _duration_ms(item: RatingInput) -> int:
    if item.duration_ms is not None:
        return item.duration_ms
    if item.answer is None or item.end is None or item.end <= item.answer:
        return 0
    # To the nearest millisecond (what a CDR stores); whole seconds come from these by the card's rounding, so
    # rating again from the stored duration_ms gives the same answer.
    return (item.end - item.answer + _ONE_MS / 2) // _ONE_MS


class RatingContext:
    """Rates CDRs: `rate(items)` gives, per item, the Cdr fields of interface A (see FIELDS)."""

    def __init__(self, versions: _Versions = VERSIONS) -> None:
        self._versions = versions
        self._customers: dict[int, tuple[Decimal, str] | None] = {}
        self._routes: dict[int, tuple[int, int] | None] = {}  # route id -> (customer id, card id)
        self._customer_routes: dict[int, list[tuple[str, int, int]]] = {}  # customer -> [(tech prefix, id, card)]
        self._cards: dict[int, _Card | None] = {}
        # Per context, so the hot loop skips the shared LRU's lock: (card, revision) -> version (a card's terms are
        # read once per context), (customer card, provider) -> that provider's egress cards.
        self._card_versions: dict[tuple[int, int], CardVersion] = {}
        self._egress: dict[tuple[int, int | None], list[_Card]] = {}

    # Loading, once per context, for every item of a batch together

    def _load(self, items: Sequence[RatingInput]) -> None:
        customers = {item.customer_id for item in items} - self._customers.keys()
        if customers:
            for pk in customers:
                self._customers[pk] = None
            for pk, tax_rate, currency in Customer.objects.filter(pk__in=customers).values_list(
                    "pk", "tax_rate", "currency"):
                self._customers[pk] = (tax_rate, currency)
        routes = {item.ingress_route_id for item in items if item.ingress_route_id is not None} - self._routes.keys()
        if routes:
            for pk in routes:
                self._routes[pk] = None
            for pk, customer_id, card_id in IngressRoute.objects.filter(pk__in=routes).values_list(
                    "pk", "customer_id", "rate_card_id"):
                self._routes[pk] = (customer_id, card_id)
        unrouted = {item.customer_id for item in items if self._routes.get(item.ingress_route_id) is None}
        unrouted -= self._customer_routes.keys()
        if unrouted:
            for pk in unrouted:
                self._customer_routes[pk] = []
            for customer_id, tech_prefix, pk, card_id in IngressRoute.objects.filter(
                    customer_id__in=unrouted, enabled=True).order_by("pk").values_list(
                    "customer_id", "tech_prefix", "pk", "rate_card_id"):
                self._customer_routes[customer_id].append((tech_prefix, pk, card_id))
        cards = {card for _, card in filter(None, self._routes.values())}
        cards.update(card for routes_ in self._customer_routes.values() for _, _, card in routes_)
        self._load_cards(cards - self._cards.keys())

    def _load_cards(self, wanted: Iterable[int]) -> None:
        wanted = set(wanted)
        if not wanted:
            return
        links: dict[int, list[int]] = defaultdict(list)
        for customer_card, provider_card in RateCard.egress_cards.through.objects.filter(
                from_ratecard_id__in=wanted).order_by("to_ratecard_id").values_list(
                "from_ratecard_id", "to_ratecard_id"):
            links[customer_card].append(provider_card)
        providers = {card for card_ids in links.values() for card in card_ids} - self._cards.keys() - wanted
        every = wanted | providers
        history: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        numbers: dict[int, dict[int, int]] = defaultdict(dict)
        for card_id, live_from, revision_id, number in RateActivation.objects.filter(card_id__in=every).values_list(
                "card_id", "live_from", "revision_id", "revision__number"):
            history[card_id].append((live_from, revision_id))
            numbers[card_id][revision_id] = number
        for card_id in every:
            self._cards[card_id] = None
        for pk, name, kind, currency, provider_id, places, rounding, duration, active, number in (
                RateCard.objects.filter(pk__in=every).values_list(
                    "pk", "name", "kind", "currency", "provider_id", "billing_precision", "rounding_method",
                    "duration_rounding", "active_revision_id", "active_revision__number")):
            if not history[pk] and active is not None:
                # A card made live without the services (fixtures, a shell): its active revision always was.
                history[pk].append((_EPOCH, active))
                numbers[pk][active] = number
            card = _Card(pk, name, CardTerms(currency, places, rounding, duration), provider_id,
                         CardTimeline(pk, history[pk]), numbers[pk])
            if kind == RateCardKind.CUSTOMER:
                card.egress = links[pk]
            self._cards[pk] = card

    # Rating

    def _route(self, item: RatingInput) -> tuple[int | None, int | None]:
        """(route id, card id): the given route's, else the customer's enabled route with the CDR's tech prefix,
        else the one with none (lowest id first)."""
        given = self._routes.get(item.ingress_route_id) if item.ingress_route_id is not None else None
        if given is not None and given[0] == item.customer_id:
            return item.ingress_route_id, given[1]
        routes = self._customer_routes.get(item.customer_id, [])
        for wanted in dict.fromkeys((item.tech_prefix, "")):
            for tech_prefix, pk, card_id in routes:
                if tech_prefix == wanted:
                    return pk, card_id
        return None, None

    def _side(self, card: _Card, item: RatingInput, duration_ms: int | None) -> _Side:
        revision_id = card.timeline.at(item.start)
        if revision_id is None:
            return _Side(card, None, None, f"card {card.name} has no revision that went live")
        version = self._card_versions.get((card.id, revision_id))
        if version is None:
            version = self._card_versions[(card.id, revision_id)] = self._versions.get(card.id, revision_id,
                                                                                       card.terms)
        leg = version.rate(item.dst, duration_ms)
        if leg is None:
            return _Side(card, revision_id, None, f"no rate for {item.dst} on card {card.name} revision "
                                                  f"{card.numbers[revision_id]}")
        return _Side(card, revision_id, leg, "")

    def _provider_side(self, customer_card: _Card, item: RatingInput, duration_ms: int | None) -> _Side:
        """The customer card's egress card of the call's provider (by id; the first whose live revision has an
        active row for the number, else the first with any row)."""
        cards = self._egress.get((customer_card.id, item.provider_id))
        if cards is None:
            cards = self._egress[(customer_card.id, item.provider_id)] = [
                card for card in map(self._cards.get, customer_card.egress)
                if card is not None and card.provider_id == item.provider_id]
        if not cards:
            return _Side(None, None, None, f"provider {item.provider_id} has no card among the egress cards of "
                                           f"{customer_card.name}")
        sides = [self._side(card, item, duration_ms) for card in cards]
        for side in sides:
            if side.leg is not None and side.leg.row.status == RateStatus.ACTIVE:
                return side
        return next((side for side in sides if side.leg is not None), sides[0])

    def rate(self, items: Sequence[RatingInput]) -> list[dict[str, Any]]:
        self._load(items)
        return [self._rate(item) for item in items]

    def _rate(self, item: RatingInput) -> dict[str, Any]:
        connected = item.answer is not None
        duration_ms = _duration_ms(item) if connected else 0
        customer = self._customers.get(item.customer_id)
        tax_rate, currency = customer if customer is not None else (ZERO, "")
        route_id, card_id = self._route(item)
        errors = []
        card = self._cards.get(card_id) if card_id is not None else None
        if customer is None:
            errors.append(f"customer {item.customer_id} does not exist")
        elif card is None:
            errors.append(f"customer {item.customer_id} has no enabled ingress route for tech prefix "
                          f"{item.tech_prefix!r}")
        sell = self._side(card, item, duration_ms if connected else None) if card is not None else _Side(
            None, None, None, "")
        buy = _Side(None, None, None, "")
        if card is not None and item.provider_id is not None:
            buy = self._provider_side(card, item, duration_ms if connected else None)
        if connected:  # a failed call costs nothing either way: an unpriced one is no error
            errors += [side.error for side in (sell, buy) if side.error]
        terms = card.terms if card is not None else CardTerms(currency or "XXX")
        result: dict[str, Any] = {"ingress_route_id": route_id, "duration_ms": duration_ms,
                                  "duration": terms.seconds(duration_ms)}
        charge = _fill(result, "customer", sell)
        result["customer_tax"] = quantize_money(charge * tax_rate / HUNDRED) if charge else ZERO
        result["customer_currency"] = card.terms.currency if card is not None else currency
        cost = _fill(result, "provider", buy)
        result["provider_currency"] = buy.card.terms.currency if buy.card is not None else ""
        # No profit where the currencies differ (no FX here) or a connected call's side could not be priced.
        same = result["customer_currency"] and result["customer_currency"] == result["provider_currency"]
        unpriced = connected and (sell.error or buy.error)
        result["profit"] = charge - cost if same and not unpriced else None
        result["rating_error"] = "; ".join(errors)[:ERROR_LENGTH]
        return result


_SIDE_KEYS = {side: tuple(f"{side}_{name}" for name in ("card_id", "revision_id", "dest_code", "dest_name", "rate",
                                                          "connect_fee", "billed", "charge"))
              for side in ("customer", "provider")}


def _fill(result: dict[str, Any], side: str, rated: _Side) -> Decimal:
    """Write one side's fields into `result`; its charge."""
    card_key, revision_key, code_key, name_key, rate_key, fee_key, billed_key, charge_key = _SIDE_KEYS[side]
    leg = rated.leg
    result[card_key] = rated.card.id if rated.card is not None else None
    result[revision_key] = rated.revision_id
    if leg is None:
        result[code_key] = result[name_key] = ""
        result[rate_key] = result[fee_key] = None
        result[billed_key] = 0
        result[charge_key] = ZERO
        return ZERO
    row = leg.row
    result[code_key] = row.prefix
    result[name_key] = row.name
    result[rate_key] = row.rate
    result[fee_key] = row.connection_fee
    result[billed_key] = leg.billed
    result[charge_key] = leg.charge
    return leg.charge
