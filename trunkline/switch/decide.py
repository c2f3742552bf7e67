"""The call decision of DESIGN.md, steps 1-9: who sent the call, may it pass, what it becomes, where it goes.

`SnapshotIndex` compiles a RoutingSnapshot once (IP and user lookups, rewrite chains, CLI rule sets, routes by
tech prefix, one merged prefix index per customer card); `decide()` then only probes dicts and does the
arithmetic of the one call. It is pure: live counters are read, never written (the SIP server takes the
reservation the decision names), and randomness (weighted order, recording samples) comes from `rng`.

Per prebuilt merged rate tuple whose customer row can route, the index memoises on first use a plan that no
route setting changes: the sell row's first-increment charge and the routable providers in LCR order, with and
without those profit assurance drops. What does depend on the route is memoised too, per route egress policy:
the filtered list of a route with a lock, exclude, provider cap or reverse order. A repeated destination then
costs dict probes only.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import ipaddress
import random
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import partial
from operator import attrgetter
from typing import Generic, NamedTuple, Protocol, TypeVar

from trunkline.contracts.money import MONEY_QUANTUM
from trunkline.contracts.snapshot import (
    AuthKind,
    CliRule,
    Customer,
    CustomerStatus,
    Gateway,
    IngressRoute,
    IpAuth,
    IpDirection,
    ParameterRewrite,
    Provider,
    ProviderStatus,
    RateRow,
    RateStatus,
    Recording,
    RoutingSnapshot,
    SipUser,
    Strategy,
)
from trunkline.switch.cli import CliRuleSet
from trunkline.switch.prefix import MergedPrefixIndex, PrefixIndex
from trunkline.switch.rating import billed_seconds, first_increment_charge, max_duration, rate_call
from trunkline.switch.regex import Matcher, compile_pattern
from trunkline.switch.rewrite import RewriteChain
from trunkline.switch.trace import Step, TraceLine

# DESIGN.md, "Profit assurance": the call lengths on which the customer must pay at least the provider's cost.
PROFIT_CHECK_SECONDS = (6, 30, 60, 180, 600)
# Checked longest first: a sell rate below the buy rate shows on the longest call, so all() stops after one pair.
_PROFIT_CHECK_LONGEST_FIRST = tuple(sorted(PROFIT_CHECK_SECONDS, reverse=True))
_TWO_QUANTA_PER_MINUTE = 2 * 60 * MONEY_QUANTUM  # charges are rounded to MONEY_QUANTUM (rate_call's precision)

IP_NOT_AUTHORISED = "IP Not Authorised"
UNKNOWN_USER = "Unknown User"
VERIFICATION_REQUIRED = "Verification Required"
NO_ROUTE = "No Route Available"
BLOCKED_BY_DIAL_PLAN = "Blocked by Dial plan"
NO_ROUTES_PRE = "No Routes Available (Pre)"
NO_ROUTES_U = "No Routes Available (U)"
NO_ROUTES_PROFIT = "No Routes Available (Profit Assurance)"
CHANNEL_LIMIT = "Channel Limit Reached"
CPS_LIMIT = "CPS Limit Reached"
INSUFFICIENT_BALANCE = "Insufficient Balance"
RATE_ABOVE_CAP = "Rate Above Cap"
CONNECT_COST_BLOCKED = "Connect Cost Blocked"
CHALLENGE = "Proxy Authentication Required"
_STATUS_REASONS = {
    CustomerStatus.INACTIVE: "Account Inactive",
    CustomerStatus.PENDING_APPROVAL: "Account Pending Approval",
    CustomerStatus.PENALTY: "Account Penalty",
}
_SAMPLE_PERCENT = {Recording.SAMPLE_1: 1, Recording.SAMPLE_5: 5, Recording.SAMPLE_25: 25, Recording.SAMPLE_50: 50}

# Counter scopes, as the SIP server keys its live counters.
CUSTOMER = "customer"
IP_AUTH = "ip_auth"
SIP_USER = "sip_user"
ROUTE = "route"

_ZERO = Decimal(0)
_RANDOM = random.Random()
# Enum members looked up once: attribute access on an Enum class is slow in Python 3.11 (as in cli.py).
_ACTIVE = CustomerStatus.ACTIVE
_BLOCKED = RateStatus.BLOCKED
_ALWAYS = Recording.ALWAYS
_WEIGHTED = Strategy.WEIGHTED
_REVERSE_LCR = Strategy.REVERSE_LCR
_IP_KIND = AuthKind.IP
_USER_KIND = AuthKind.SIP_USER
_IDENTIFY, _GATES, _REWRITE, _ROUTE, _LIMITS, _RATE, _MONEY, _EGRESS = (
    Step.IDENTIFY, Step.GATES, Step.REWRITE, Step.ROUTE, Step.LIMITS, Step.RATE, Step.MONEY, Step.EGRESS)
# A NamedTuple's generated __new__ is a Python-level call; tuple.__new__ builds the same TraceLine in C, which
# counts at nine lines per call.
_new_line: Callable[[tuple[Step, bool, str, tuple[object, ...]]], TraceLine] = partial(tuple.__new__, TraceLine)
_LIMITS_OK = TraceLine(_LIMITS, True, "channels and CPS within limits")
_NO_REWRITES = TraceLine(_REWRITE, True, "no parameter rewrite rules")


class Digest(NamedTuple):
    """The Authorization/Proxy-Authorization fields of a SIP request (RFC 2617)."""

    realm: str
    nonce: str
    uri: str
    response: str
    method: str = "INVITE"
    qop: str = ""  # "" (RFC 2069 style) or "auth"
    nc: str = ""
    cnonce: str = ""


class Call(NamedTuple):
    source_ip: str
    destination: str
    cli: str
    source_port: int = 5060
    sip_user: str = ""  # "" = identify by source IP
    digest: Digest | None = None  # None with a sip_user = not yet challenged
    pai: str | None = None


class Counters(Protocol):
    """Live counters of the SIP server: calls up now and calls started in the current second, per scope/id."""

    def channels(self, scope: str, key: int) -> int: ...

    def cps(self, scope: str, key: int) -> int: ...

    def reserved(self, customer_id: int) -> Decimal: ...


class MemoryCounters:
    """Counters held in dicts: for tests, the simulator and the benchmark."""

    __slots__ = ("_channels", "_cps", "_reserved")

    def __init__(self) -> None:
        self._channels: dict[tuple[str, int], int] = {}
        self._cps: dict[tuple[str, int], int] = {}
        self._reserved: dict[int, Decimal] = {}

    def set(self, scope: str, key: int, channels: int = 0, cps: int = 0) -> None:
        self._channels[scope, key] = channels
        self._cps[scope, key] = cps

    def reserve(self, customer_id: int, amount: Decimal) -> None:
        self._reserved[customer_id] = amount

    def channels(self, scope: str, key: int) -> int:
        return self._channels.get((scope, key), 0)

    def cps(self, scope: str, key: int) -> int:
        return self._cps.get((scope, key), 0)

    def reserved(self, customer_id: int) -> Decimal:
        return self._reserved.get(customer_id, _ZERO)


class Egress(NamedTuple):
    """One provider to try; it receives `provider.tech_prefix + decision.destination`."""

    provider: Provider
    gateways: tuple[Gateway, ...]
    card_id: int
    rate: RateRow
    cost: Decimal  # per minute
    margin: Decimal  # customer rate - provider rate, per minute


# As _new_line: the index build makes one per routable provider rate of every merged key.
_new_egress: Callable[[tuple[object, ...]], Egress] = partial(tuple.__new__, Egress)


class _Order(tuple[Egress, ...]):
    """The egress list as a trace argument: formatted only when someone reads the trace."""

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        return ", ".join(f"{item.provider.name} {item.cost}/min" for item in self)


class Decision(NamedTuple):
    accepted: bool
    code: int  # 200 when accepted; else the SIP reject code (407 = challenge)
    reason: str
    trace: tuple[TraceLine, ...]
    customer: Customer | None = None
    auth: IpAuth | SipUser | None = None
    route: IngressRoute | None = None
    rate: RateRow | None = None
    destination: str = ""  # after rewrites and tech-prefix stripping
    cli: str = ""
    pai: str | None = None
    routes: tuple[Egress, ...] = ()
    max_duration: int | None = None  # seconds; None = no limit
    reserve: Decimal = _ZERO  # the first increment's charge the SIP server reserves
    recording: bool = False

    @property
    def challenge(self) -> bool:
        return self.code == 407


class _Network(NamedTuple):
    version: int
    length: int


_Value = TypeVar("_Value")


class _Ips(Generic[_Value]):
    """Exact addresses in a dict, networks in a dict per (version, prefix length), most specific first."""

    __slots__ = ("_exact", "_networks")

    def __init__(self, entries: Iterable[tuple[str, _Value]]) -> None:
        exact: dict[str, list[_Value]] = {}
        networks: dict[_Network, dict[int, list[_Value]]] = {}
        for text, value in entries:
            network = ipaddress.ip_network(text, strict=False)
            if network.num_addresses == 1:
                exact.setdefault(str(network.network_address), []).append(value)
            else:
                key = _Network(network.version, network.prefixlen)
                networks.setdefault(key, {}).setdefault(int(network.network_address), []).append(value)
        self._exact = {address: tuple(values) for address, values in exact.items()}
        self._networks = tuple(
            (key, (1 << (32 if key.version == 4 else 128)) - (1 << ((32 if key.version == 4 else 128) - key.length)),
             {address: tuple(values) for address, values in table.items()})
            for key, table in sorted(networks.items(), key=lambda item: -item[0].length))

    def lookup(self, ip: str) -> tuple[_Value, ...]:
        """The values of the most specific entries holding `ip` (several when customers share it)."""
        found = self._exact.get(ip)
        if found is not None or not self._networks:
            return found or ()
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return ()
        number, version = int(address), address.version
        for key, mask, table in self._networks:
            if key.version == version:
                found = table.get(number & mask)
                if found is not None:
                    return found
        return ()


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


class _Plan(NamedTuple):
    """What a prebuilt rate tuple whose customer row can route needs no route setting for."""

    candidates: _Order  # active, unblocked provider rates in LCR order (card order on ties)
    profitable: _Order  # the candidates profit assurance keeps, same order
    unprofitable: int  # how many candidates profit assurance drops
    first: Decimal  # the sell row's first-increment charge


# As _new_line: the build makes one per merged key.
_new_plan: Callable[[tuple[_Order, _Order, int, Decimal]], _Plan] = partial(tuple.__new__, _Plan)
# In C rather than a Python key function: the build sorts one list per merged key.
_lcr_key = attrgetter("rate.rate", "rate.connection_fee", "provider.name")


class _Card:
    """A customer card compiled with its egress cards: one prefix walk answers all of them."""

    __slots__ = ("_firsts", "egress", "merged", "plans")

    def __init__(self, merged: MergedPrefixIndex, egress: tuple[tuple[int, Provider | None], ...]) -> None:
        self.merged = merged
        self.egress = egress  # (card id, provider), in the merged index's order after the customer card
        # Per prebuilt rate tuple (by id; the tuples live as long as the merged index) whose customer row can
        # route, its plan, worked out on the first call through it: memory grows with the destinations traffic
        # reaches, not with the product of the cards' sizes.
        self.plans: dict[int, _Plan] = {}
        self._firsts: dict[int, Decimal] = {}  # by sell row: many keys inherit the same one

    def plan(self, rates: tuple[RateRow | None, ...], sell: RateRow) -> _Plan:
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
            found.sort(key=_lcr_key)
        candidates = _Order(found)
        kept = [item for item in found if _profitable(sell, item.rate)]
        # Sharing the tuple when nothing is dropped keeps the memo smaller.
        plan = self.plans[id(rates)] = _new_plan((
            candidates, candidates if len(kept) == len(found) else _Order(kept), len(found) - len(kept), first))
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
        self.ips = _Ips((entry.ip, entry) for entry in sending)
        self.users = {user.username: user for user in snapshot.sip_users}
        self.whitelists = {user.id: _Ips((ip, True) for ip in user.ip_whitelist)
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
        plans: dict[tuple[object, ...], dict[int, tuple[_Order, int]]] = {}
        self.plans = {route.id: plans.setdefault((
            route.rate_card_id, frozenset(route.lock), frozenset(route.exclude), route.provider_capped_rate,
            route.profit_assurance, route.strategy, route.weights), {}) for route in snapshot.ingress_routes
            if route.lock or route.exclude or route.provider_capped_rate is not None
            or route.strategy == _REVERSE_LCR}

    def cli_rule_set(self, customer_id: int) -> CliRuleSet:
        return self.cli_rules.get(customer_id, self._no_cli_rules)


def ha1(username: str, realm: str, password: str) -> str:
    """HA1 = MD5(username:realm:password), lowercase hex (RFC 2617). MD5 is the protocol's hash, not our choice."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def digest_response(stored_ha1: str, digest: Digest) -> str:
    """The response a client knowing the password sends (RFC 2617 §3.2.2.1, qop=auth or none)."""
    ha2 = hashlib.md5(f"{digest.method}:{digest.uri}".encode(), usedforsecurity=False).hexdigest()
    if digest.qop:
        text = f"{stored_ha1}:{digest.nonce}:{digest.nc}:{digest.cnonce}:{digest.qop}:{ha2}"
    else:
        text = f"{stored_ha1}:{digest.nonce}:{ha2}"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


_NOTHING_FOUND = Decision(False, 0, "", ())
# As _new_line, for the accepted Decision (every field given).
_new_decision: Callable[[tuple[object, ...]], Decision] = partial(tuple.__new__, Decision)


def _reject(trace: list[TraceLine], step: Step, code: int, reason: str, template: str, args: tuple[object, ...],
            found: Decision = _NOTHING_FOUND) -> Decision:
    """A reject line on the trace and the decision, keeping whatever the steps before had `found`."""
    trace.append(_new_line((step, False, template + ": {} {}", (*args, code, reason))))
    return found._replace(code=code, reason=reason, trace=tuple(trace))


def decide(index: SnapshotIndex, counters: Counters, call: Call, rng: random.Random | None = None) -> Decision:
    trace: list[TraceLine] = []
    rng = rng or _RANDOM

    # 1. Identify.
    auth: IpAuth | SipUser
    if call.sip_user:
        user = index.users.get(call.sip_user)
        if user is None:
            return _reject(trace, _IDENTIFY, 403, UNKNOWN_USER, "no SIP user {}", (call.sip_user,))
        if call.digest is None:
            trace.append(_new_line((_IDENTIFY, False, "SIP user {} sent no credentials: {} challenge",
                                   (user.username, 407))))
            return Decision(False, 407, CHALLENGE, tuple(trace))
        # Constant-time comparison: response timing must not tell an attacker how much of a guess was right.
        if not hmac.compare_digest(digest_response(user.ha1, call.digest).encode(),
                                   call.digest.response.lower().encode()):
            return _reject(trace, _IDENTIFY, 403, UNKNOWN_USER, "digest of SIP user {} is wrong", (user.username,))
        whitelist = index.whitelists.get(user.id)
        if whitelist is not None and not whitelist.lookup(call.source_ip):
            return _reject(trace, _IDENTIFY, 403, IP_NOT_AUTHORISED, "{} is not on SIP user {}'s whitelist",
                           (call.source_ip, user.username))
        auth, kind, scope = user, _USER_KIND, SIP_USER
        trace.append(_new_line((_IDENTIFY, True, "SIP user {} (#{}) digest verified", (user.username, user.id))))
    else:
        entries = index.ips.lookup(call.source_ip)
        if not entries:
            return _reject(trace, _IDENTIFY, 403, IP_NOT_AUTHORISED, "source {} matches no IP-auth entry",
                           (call.source_ip,))
        chosen = entries[0] if len(entries) == 1 else _tell_apart(index, entries, call)
        if chosen is None:
            return _reject(trace, _IDENTIFY, 403, IP_NOT_AUTHORISED,
                           "source {} is shared by {} entries and neither tech prefix nor CLI tells them apart",
                           (call.source_ip, len(entries)))
        auth, kind, scope = chosen, _IP_KIND, IP_AUTH
        trace.append(_new_line((_IDENTIFY, True, "source {}:{} is IP-auth entry #{} ({})",
                                (call.source_ip, call.source_port, chosen.id, chosen.ip))))
    customer = index.customers[auth.customer_id]

    # 2. Gates.
    if customer.status != _ACTIVE:
        return _reject(trace, _GATES, 403, _STATUS_REASONS[customer.status], "customer {} is {}",
                       (customer.name, customer.status), _NOTHING_FOUND._replace(customer=customer, auth=auth))
    if (customer.email_verification and not customer.email_verified) or (
            customer.mobile_verification and not customer.mobile_verified):
        return _reject(trace, _GATES, 403, VERIFICATION_REQUIRED, "customer {} has a verification to do",
                       (customer.name,), _NOTHING_FOUND._replace(customer=customer, auth=auth))
    trace.append(_new_line((_GATES, True, "customer {} (#{}) is active", (customer.name, customer.id))))

    # 3. Parameter rewrite.
    destination, cli = call.destination, call.cli
    chain = index.rewrites.get((kind, auth.id))
    if chain is not None:
        rewritten = chain.apply(destination, cli)
        destination, cli = rewritten.destination, rewritten.cli
        trace.extend(step.trace for step in rewritten.steps)
    else:
        trace.append(_NO_REWRITES)

    # 4. CLI rules (the dialled number as received, tech prefix included: domain.md §1.7).
    checked = index.cli_rule_set(customer.id).evaluate(cli, call.pai, destination, rng=rng)
    trace.append(checked.trace)
    if not checked.allowed:
        return Decision(False, 403, "CLI restriction in effect", tuple(trace), customer, auth)
    cli, pai = checked.cli, checked.pai

    # 5. Ingress route.
    routes = index.routes.get(customer.id)
    prefix, candidates = routes.longest(destination) if routes is not None else ("", ())
    if not candidates:
        return _reject(trace, _ROUTE, 580, NO_ROUTE, "no enabled ingress route for {}", (destination,),
                       _NOTHING_FOUND._replace(customer=customer, auth=auth))
    number = destination[len(prefix):]
    route = next((route for route, dial in candidates if dial is None or dial.search(number)), None)
    if route is None:
        return _reject(trace, _ROUTE, 503, BLOCKED_BY_DIAL_PLAN, "no dial string of the routes with {} allows {}",
                       (_prefix_words(prefix), number), _NOTHING_FOUND._replace(customer=customer, auth=auth))
    trace.append(_new_line((_ROUTE, True, "ingress route #{} ({}): {} -> {}",
                           (route.id, _prefix_words(prefix), destination, number))))
    found = _new_decision((False, 0, "", (), customer, auth, route, None, number, cli, pai, (), None, _ZERO, False))

    # 6. Limits: customer, auth entry, route (0 = unlimited).
    for limit_scope, limited in ((CUSTOMER, customer), (scope, auth), (ROUTE, route)):
        if limited.channels and counters.channels(limit_scope, limited.id) >= limited.channels:
            return _reject(trace, _LIMITS, 503, CHANNEL_LIMIT, "{} #{} has {} channels up", (
                limit_scope, limited.id, limited.channels), found)
        if limited.cps and counters.cps(limit_scope, limited.id) >= limited.cps:
            return _reject(trace, _LIMITS, 503, CPS_LIMIT, "{} #{} started {} calls this second", (
                limit_scope, limited.id, limited.cps), found)
    trace.append(_LIMITS_OK)

    # 7. Rate on the customer card.
    card = index.cards[route.rate_card_id]
    rates = card.merged.lookup(number)
    sell = rates[0]
    if sell is None or sell.status == _BLOCKED:
        return _reject(trace, _RATE, 503, NO_ROUTES_PRE, "card #{} has {} for {}", (
            route.rate_card_id, "no rate" if sell is None else f"blocked prefix {sell.prefix}", number), found)
    if route.capped_rate is not None and sell.rate > route.capped_rate:
        return _reject(trace, _RATE, 503, RATE_ABOVE_CAP, "rate {} of prefix {} is above the cap {}", (
            sell.rate, sell.prefix, route.capped_rate), found._replace(rate=sell))
    if route.block_connect_cost and sell.connection_fee:
        return _reject(trace, _RATE, 503, CONNECT_COST_BLOCKED, "prefix {} has a connection fee of {}", (
            sell.prefix, sell.connection_fee), found._replace(rate=sell))
    trace.append(_new_line((_RATE, True, "prefix {0.prefix} {0.name}: {0.rate}/min, fee {0.connection_fee}, "
                                        "{0.mcd}/{0.pulse}, grace {0.grace}", (sell,))))

    # 8. Money.
    available = customer.balance - counters.reserved(customer.id) + customer.debit_limit
    plan = card.plans.get(id(rates)) or card.plan(rates, sell)
    first = plan.first
    if available < first:
        return _reject(trace, _MONEY, 402, INSUFFICIENT_BALANCE, "available {} < first increment {}", (
            available, first), found._replace(rate=sell))
    seconds = max_duration(sell, available)
    if route.max_duration and (seconds is None or seconds > route.max_duration):
        seconds = route.max_duration
    trace.append(_new_line((_MONEY, True, "available {}, reserve {}, max duration {} s", (
        available, first, "unlimited" if seconds is None else seconds))))

    # 9. Egress.
    plans = index.plans.get(route.id)
    if plans is None:  # no lock, exclude, cap or reverse order: the prebuilt lists are the answer
        egress, dropped_by_profit = (plan.profitable, plan.unprofitable) if route.profit_assurance else (
            plan.candidates, 0)
    else:
        planned = plans.get(id(rates))
        if planned is None:
            planned = plans[id(rates)] = _egress(plan, route, sell)
        egress, dropped_by_profit = planned
    if route.strategy == _WEIGHTED and len(egress) > 1:
        weights = index.weights.get(route.id, {})
        egress = _Order(_weighted(egress, lambda item: weights.get(item.card_id, 1), rng))
    if not egress:
        if dropped_by_profit:
            return _reject(trace, _EGRESS, 503, NO_ROUTES_PROFIT, "profit assurance dropped {} providers", (
                dropped_by_profit,), found._replace(rate=sell, max_duration=seconds, reserve=first))
        return _reject(trace, _EGRESS, 503, NO_ROUTES_U, "no provider left for {}", (number,),
                       found._replace(rate=sell, max_duration=seconds, reserve=first))
    trace.append(_new_line((_EGRESS, True, "{} order: {}", (route.strategy, egress))))
    sample = _SAMPLE_PERCENT.get(route.recording)
    recording = route.recording == _ALWAYS or (sample is not None and rng.random() * 100 < sample)
    return _new_decision((True, 200, "Routed", tuple(trace), customer, auth, route, sell, number, cli, pai, egress,
                          seconds, first, recording))


def _prefix_words(prefix: str) -> str:
    return f"tech prefix {prefix}" if prefix else "no tech prefix"


def _tell_apart(index: SnapshotIndex, entries: tuple[IpAuth, ...], call: Call) -> IpAuth | None:
    """Customers sharing an IP: the longest matching tech prefix decides, then CLI authentication."""
    best: list[IpAuth] = []
    best_length = -1
    for entry in entries:
        routes = index.routes.get(entry.customer_id)
        prefix, found = routes.longest(call.destination) if routes is not None else ("", ())
        length = len(prefix) if found else -1
        if length > best_length:
            best, best_length = [entry], length
        elif length == best_length:
            best.append(entry)
    if len({entry.customer_id for entry in best}) == 1:
        return best[0]
    passing = [entry for entry in best if entry.cli_authentication and index.cli_rule_set(
        entry.customer_id).evaluate(call.cli, call.pai, call.destination).allowed]
    return passing[0] if len({entry.customer_id for entry in passing}) == 1 else None


def _profitable(sell: RateRow, buy: RateRow) -> bool:
    """The customer pays at least the provider's cost at every checked length, each side with its own terms."""
    if sell.grace == buy.grace and sell.mcd == buy.mcd and sell.pulse == buy.pulse and (
            sell.rate >= buy.rate and sell.connection_fee >= buy.connection_fee):
        # Same billed seconds at every length and neither term smaller: every step of charge() is monotone,
        # so no sell charge can fall below the buy charge.
        return True
    # 60 x (buy charge - sell charge) before rounding, on the longest call. Two quanta or more apart, the charges
    # differ after rounding too (rates and fees are >= 0, and half-up rounding of amounts >= 0 moves with them
    # quantum by quantum), so the sell charge is the smaller one: no Decimal division or rounding needed.
    longest = _PROFIT_CHECK_LONGEST_FIRST[0]
    gap = (60 * (buy.connection_fee - sell.connection_fee)
           + buy.rate * billed_seconds(longest, buy.grace, buy.mcd, buy.pulse)
           - sell.rate * billed_seconds(longest, sell.grace, sell.mcd, sell.pulse))
    if gap >= _TWO_QUANTA_PER_MINUTE:
        return False
    return all(rate_call(sell, seconds) >= rate_call(buy, seconds) for seconds in _PROFIT_CHECK_LONGEST_FIRST)


def _egress(plan: _Plan, route: IngressRoute, sell: RateRow) -> tuple[_Order, int]:
    """The providers left, in LCR order (reversed for reverse LCR), and how many profit assurance alone dropped."""
    lock, exclude, cap, check = route.lock, route.exclude, route.provider_capped_rate, route.profit_assurance
    kept: Sequence[Egress] = plan.candidates
    unprofitable = 0
    if lock or exclude or cap is not None:
        kept = []
        for item in plan.candidates:
            if (lock and item.card_id not in lock) or item.card_id in exclude or (cap is not None and item.cost > cap):
                continue
            if check and not _profitable(sell, item.rate):
                unprofitable += 1
                continue
            kept.append(item)
    elif check:
        kept, unprofitable = plan.profitable, plan.unprofitable
    if route.strategy == _REVERSE_LCR:
        # A stable sort of the LCR order keeps card order on ties, as sorting the card order itself would.
        kept = sorted(kept, key=_lcr_key, reverse=True)
    return kept if type(kept) is _Order else _Order(kept), unprofitable


def _weighted(items: Sequence[Egress], weight: Callable[[Egress], int], rng: random.Random) -> list[Egress]:
    """Draw without replacement in proportion to weight: the first pick carries the traffic, the rest fail over."""
    pool = list(items)  # in LCR order: a stable start, so a seeded rng gives one order
    order: list[Egress] = []
    while pool:
        total = sum(max(weight(item), 0) for item in pool)
        if total <= 0:
            order.extend(pool)
            break
        point = rng.random() * total
        for position, item in enumerate(pool):
            point -= max(weight(item), 0)
            if point < 0:
                order.append(pool.pop(position))
                break
        else:
            order.append(pool.pop())
    return order
