"""The routing snapshot compiled once for decide(): lookups by IP, user, customer, tech prefix and prefix.

`SnapshotIndex` builds the IP and user lookups, rewrite chains, CLI rule sets, routes by tech prefix and one
merged prefix index per customer card, so that decide() only probes dicts and does the arithmetic of the call.

Per prebuilt merged rate tuple whose customer row can route, the index memoises on first use a plan that no
route setting changes: the sell row's first-increment charge and the routable providers in LCR order, with and
without those profit assurance drops. What does depend on the route is memoised too, per route egress policy:
the filtered list of a route with a lock, exclude, provider cap or reverse order. A repeated destination then
costs dict probes only.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial

from trunkline.contracts.snapshot import (
    CliRule,
    IngressRoute,
    IpDirection,
    ParameterRewrite,
    Provider,
    ProviderStatus,
    RateRow,
    RateStatus,
    RoutingSnapshot,
    Strategy,
)
from trunkline.switch.auth import IpTable
from trunkline.switch.cli import CliRuleSet
from trunkline.switch.egress import Order, Plan, lcr_key, profitable
from trunkline.switch.prefix import MergedPrefixIndex, PrefixIndex
from trunkline.switch.rating import first_increment_charge
from trunkline.switch.regex import Matcher, compile_pattern
from trunkline.switch.rewrite import RewriteChain
from trunkline.switch.types import Egress

# Enum members looked up once: attribute access on an Enum class is slow in Python 3.11 (as in cli.py).
_BLOCKED = RateStatus.BLOCKED
_REVERSE_LCR = Strategy.REVERSE_LCR
# A NamedTuple's generated __new__ is a Python-level call; tuple.__new__ builds the same tuple in C. The build
# makes one Egress per routable provider rate of every merged key, and one Plan per merged key.
_new_egress: Callable[[tuple[object, ...]], Egress] = partial(tuple.__new__, Egress)
_new_plan: Callable[[tuple[Order, Order, int, Decimal]], Plan] = partial(tuple.__new__, Plan)


class _Routes:
    """A customer's ingress routes by tech prefix, longest first; routes sharing a prefix keep id order."""

    __slots__ = ("by_prefix", "lengths")

    def __init__(self, routes: Sequence[tuple[IngressRoute, Matcher | None]]) -> None:
        by_prefix: dict[str, list[tuple[IngressRoute, Matcher | None]]] = {}
        for route, dial in sorted(routes, key=lambda item: item[0].id):
            if route.enabled:  # a disabled route never matches, so it is left out here rather than per call
                by_prefix.setdefault(route.tech_prefix, []).append((route, dial))
        self.by_prefix = {prefix: tuple(items) for prefix, items in by_prefix.items()}
        self.lengths = tuple(sorted({len(prefix) for prefix in by_prefix}, reverse=True))

    def longest(self, number: str) -> tuple[str, tuple[tuple[IngressRoute, Matcher | None], ...]]:
        for length in self.lengths:
            prefix = number[:length]
            found = self.by_prefix.get(prefix)
            if found is not None:
                return prefix, found
        return "", ()


class _Card:
    """A customer card compiled with its egress cards: one prefix walk answers all of them."""

    __slots__ = ("_firsts", "egress", "merged", "plans")

    def __init__(self, merged: MergedPrefixIndex, egress: tuple[tuple[int, Provider | None], ...]) -> None:
        self.merged = merged
        self.egress = egress  # (card id, provider), in the merged index's order after the customer card
        # Per prebuilt rate tuple (by id; the tuples live as long as the merged index) whose customer row can
        # route, its plan, worked out on the first call through it: memory grows with the destinations traffic
        # reaches, not with the product of the cards' sizes.
        self.plans: dict[int, Plan] = {}
        self._firsts: dict[int, Decimal] = {}  # by sell row: many keys inherit the same one

    def plan(self, rates: tuple[RateRow | None, ...], sell: RateRow) -> Plan:
        """The plan of a rate tuple whose customer row `sell` (rates[0]) routes: active and not blocked."""
        plan = self.plans.get(id(rates))
        if plan is not None:
            return plan
        first = self._firsts.get(id(sell))
        if first is None:
            first = self._firsts[id(sell)] = first_increment_charge(sell)
        found = [_new_egress((provider, provider.gateways, card_id, buy, buy.rate, sell.rate - buy.rate))
                 for (card_id, provider), buy in zip(self.egress, rates[1:], strict=True)
                 if buy is not None and provider is not None and buy.status != _BLOCKED]
        if len(found) > 1:
            found.sort(key=lcr_key)
        candidates = Order(found)
        kept = [item for item in found if profitable(sell, item.rate)]
        # Sharing the tuple when nothing is dropped keeps the memo smaller.
        plan = self.plans[id(rates)] = _new_plan((
            candidates, candidates if len(kept) == len(found) else Order(kept), len(found) - len(kept), first))
        return plan


class SnapshotIndex:
    """Everything decide() looks up, built once per snapshot."""

    def __init__(self, snapshot: RoutingSnapshot) -> None:
        # The build makes about a million long-lived objects and no garbage cycles; with the cyclic collector on,
        # its full passes over the growing heap would take longer than the build itself.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._build(snapshot)
        finally:
            if was_enabled:
                gc.enable()

    def _build(self, snapshot: RoutingSnapshot) -> None:
        self.snapshot = snapshot
        self.customers = {customer.id: customer for customer in snapshot.customers}
        sending = [entry for entry in snapshot.ip_auths if entry.direction == IpDirection.SENDS]
        self.ips = IpTable((entry.ip, entry) for entry in sending)
        self.dial_patterns = {entry.id: compile_pattern(entry.dial_pattern, f"IP-auth entry #{entry.id} dial_pattern")
                              for entry in sending if entry.dial_pattern}
        self.users = {user.username: user for user in snapshot.sip_users}
        self.whitelists = {user.id: IpTable((ip, True) for ip in user.ip_whitelist)
                           for user in snapshot.sip_users if user.ip_whitelist}
        rules: dict[tuple[str, int], list[ParameterRewrite]] = {}
        for rewrite in snapshot.parameter_rewrites:
            rules.setdefault((rewrite.auth_kind, rewrite.auth_id), []).append(rewrite)
        self.rewrites = {key: RewriteChain(items) for key, items in rules.items()}
        cli: dict[int, list[CliRule]] = {}
        for rule in sorted(snapshot.cli_rules, key=lambda rule: rule.id):
            cli.setdefault(rule.customer_id, []).append(rule)
        self.cli_rules = {customer: CliRuleSet(items) for customer, items in cli.items()}
        self._no_cli_rules = CliRuleSet(())
        routes: dict[int, list[tuple[IngressRoute, Matcher | None]]] = {}
        for route in snapshot.ingress_routes:
            dial = compile_pattern(route.dial_string, f"ingress route #{route.id} dial_string") \
                if route.dial_string else None
            routes.setdefault(route.customer_id, []).append((route, dial))
        self.routes = {customer: _Routes(items) for customer, items in routes.items()}
        self.weights = {route.id: {weight.card_id: weight.weight for weight in route.weights}
                        for route in snapshot.ingress_routes if route.weights}
        providers = {provider.id: provider for provider in snapshot.providers}
        cards = {card.id: card for card in snapshot.rate_cards}
        indexes = {card.id: PrefixIndex(card.rows) for card in snapshot.rate_cards}
        used = {route.rate_card_id for route in snapshot.ingress_routes}
        self.cards: dict[int, _Card] = {}
        for card_id in used:
            card = cards[card_id]
            egress = tuple(egress_id for egress_id in card.egress_card_ids if egress_id in cards)
            merged = MergedPrefixIndex([indexes[card_id], *(indexes[egress_id] for egress_id in egress)])
            # An inactive provider is as good as absent: dropped here rather than checked per call.
            self.cards[card_id] = _Card(merged, tuple(
                (egress_id, provider if provider is not None and provider.status == ProviderStatus.ACTIVE else None)
                for egress_id in egress for provider in (providers.get(cards[egress_id].provider_id or 0),)))
        # Per route with a lock, exclude, provider cap or reverse order, a memo from the id of the merged
        # index's prebuilt rate tuple to (providers in order, how many profit assurance dropped); other routes
        # read their card's prebuilt plans directly. Routes with the same egress settings share one memo; both
        # the settings and the tuples are fixed for this index's life, so an entry never goes stale.
        plans: dict[tuple[object, ...], dict[int, tuple[Order, int]]] = {}
        self.plans = {route.id: plans.setdefault((
            route.rate_card_id, frozenset(route.lock), frozenset(route.exclude), route.provider_capped_rate,
            route.profit_assurance, route.strategy, route.weights), {}) for route in snapshot.ingress_routes
            if route.lock or route.exclude or route.provider_capped_rate is not None
            or route.strategy == _REVERSE_LCR}

    def cli_rule_set(self, customer_id: int) -> CliRuleSet:
        return self.cli_rules.get(customer_id, self._no_cli_rules)
