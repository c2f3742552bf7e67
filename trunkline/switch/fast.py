"""The switch's entry point for a call: `route_call()`, a fast path for the common call and decide() for the rest.

decide() (decide.py) walks DESIGN.md's nine steps for any call and writes a trace line per step; Simulate shows
that trace, and it stays the one traced decision. Most calls the switch sees have one shape, though, and for
them most of decide()'s work does not depend on the call, so `FastIndex` does it once:

- per IP-auth entry, a context: the customer, the entry, the CLI rule set when the customer has rules, the
  debit limit in integer micro-units, and per tech prefix of the customer's routes a leg: the route, the
  non-zero channel/CPS limits of customer, entry and route in decide()'s order, the card's merged lookup and
  the route's recording;
- per route egress policy (card, lock, exclude, caps, block connect cost, profit assurance, strategy) and
  merged rate tuple (one per destination prefix), worked out on the first call that reaches it: a plan holding
  the rate step's outcome, the first-increment charge (Decimal for the decision, micro-units for the
  comparison), fee and rate in micro-units, the billing terms and the ordered, profit-checked egress.

A call then costs the IP probe, the tech-prefix and rate-prefix walks, the counter reads and integer
arithmetic; no trace line is built. Everything else goes to decide(): a SIP user, a source address shared by
several entries, a customer not active or with a verification to do, a parameter rewrite chain, an IP-auth
dial pattern, CLI rules that rewrite, force or filter on DIDs, a tech prefix whose first route has a dial
string, the weighted strategy, money not in whole micro-units. The fast path's answer is the Decision decide()
gives, field for field, except `trace`: () marks an untraced answer (decide() always writes at least one
line). tests/switch/test_fast_path.py compares both ways on every call of a generated set of every shape;
bench/decide.py times route_call() against decide() and the peers' SQL way.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import NamedTuple

from trunkline.contracts.snapshot import (
    AuthKind,
    Customer,
    CustomerStatus,
    IngressRoute,
    IpAuth,
    IpDirection,
    RateRow,
    RateStatus,
    Recording,
    Strategy,
)
from trunkline.switch.auth import IpTable
from trunkline.switch.cli import REJECT_REASON as CLI_REJECTED
from trunkline.switch.cli import CliRuleSet
from trunkline.switch.counters import CUSTOMER, IP_AUTH, ROUTE, Counters
from trunkline.switch.decide import decide
from trunkline.switch.egress import Order, Plan, route_egress
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.types import (
    CHANNEL_LIMIT,
    CONNECT_COST_BLOCKED,
    CPS_LIMIT,
    INSUFFICIENT_BALANCE,
    IP_NOT_AUTHORISED,
    NO_ROUTE,
    NO_ROUTES_PRE,
    NO_ROUTES_PROFIT,
    NO_ROUTES_U,
    RATE_ABOVE_CAP,
    Call,
    Decision,
)

_ZERO = Decimal(0)
_RANDOM = random.Random()
_BLOCKED = RateStatus.BLOCKED  # Enum members looked up once, as in decide.py
_ACTIVE = CustomerStatus.ACTIVE
_SAMPLE_PERCENT = {Recording.SAMPLE_1: 1, Recording.SAMPLE_5: 5, Recording.SAMPLE_25: 25, Recording.SAMPLE_50: 50}
# As in decide.py: tuple.__new__ builds the Decision in C rather than through the NamedTuple's Python __new__.
_new_decision: Callable[[tuple[object, ...]], Decision] = partial(tuple.__new__, Decision)
_UNKNOWN_SOURCE = Decision(False, 403, IP_NOT_AUTHORISED, ())

# What a plan says about the rate step: the call goes on to money and egress, or one of the step's rejects, or
# decide() answers (money in finer units than micro-units).
_ROUTES, _PRE, _CAP, _CONNECT, _DECIDE = range(5)
_REJECTS = {_PRE: NO_ROUTES_PRE, _CAP: RATE_ABOVE_CAP, _CONNECT: CONNECT_COST_BLOCKED}


class _Plan(NamedTuple):
    """A route egress policy's answer for one merged rate tuple: everything steps 7-9 need but the money."""

    kind: int  # _ROUTES, or a reject of the rate step, or _DECIDE
    sell: RateRow | None  # the customer card's row, as the decision names it (None for "no rate" and blocked)
    first: Decimal  # the first-increment charge: the decision's `reserve`
    first_micros: int
    fee_micros: int
    rate_micros: int  # per minute
    mcd: int
    pulse: int
    grace: int
    egress: Order  # after the route's filters, profit assurance and order
    dropped: int  # how many profit assurance dropped


_NO_EGRESS = Order(())
_PRE_PLAN = _Plan(_PRE, None, _ZERO, 0, 0, 0, 0, 1, 0, _NO_EGRESS, 0)
_DECIDE_PLAN = _Plan(_DECIDE, None, _ZERO, 0, 0, 0, 0, 1, 0, _NO_EGRESS, 0)


def _micros(amount: Decimal) -> int | None:
    """`amount` in millionths when that is a whole number, else None (the fast path then leaves it to decide())."""
    scaled = amount.scaleb(6)
    whole = int(scaled)
    return whole if whole == scaled else None


class _Policy:
    """The routes that share a card and every egress setting share one memo of plans."""

    __slots__ = ("card_plan", "memo", "narrowed", "route")

    def __init__(self, route: IngressRoute, card_plan: Callable[[tuple[RateRow | None, ...], RateRow], Plan]) -> None:
        self.route = route  # any of them: they differ in nothing a plan reads
        self.card_plan = card_plan
        self.narrowed = bool(route.lock or route.exclude or route.provider_capped_rate is not None
                             or route.strategy == Strategy.REVERSE_LCR)
        self.memo: dict[int, _Plan] = {}  # by id() of the merged index's prebuilt tuple, which lives as long

    def plan(self, rates: tuple[RateRow | None, ...]) -> _Plan:
        """Steps 7-9 of decide() for whatever call reaches `rates`, worked out once."""
        route, sell = self.route, rates[0]
        if sell is None or sell.status == _BLOCKED:
            plan = _PRE_PLAN
        elif route.capped_rate is not None and sell.rate > route.capped_rate:
            plan = _PRE_PLAN._replace(kind=_CAP, sell=sell)
        elif route.block_connect_cost and sell.connection_fee:
            plan = _PRE_PLAN._replace(kind=_CONNECT, sell=sell)
        else:
            base = self.card_plan(rates, sell)  # the index's memo, shared with decide()
            if self.narrowed:
                egress, dropped = route_egress(base, route, sell)
            elif route.profit_assurance:
                egress, dropped = base.profitable, base.unprofitable
            else:
                egress, dropped = base.candidates, 0
            first, fee, rate = _micros(base.first), _micros(sell.connection_fee), _micros(sell.rate)
            if first is None or fee is None or rate is None:
                plan = _DECIDE_PLAN
            else:
                plan = _Plan(_ROUTES, sell, base.first, first, fee, rate, sell.mcd, sell.pulse, sell.grace, egress,
                             dropped)
        self.memo[id(rates)] = plan
        return plan


class _Leg(NamedTuple):
    """An IP-auth entry's calls through one route."""

    route: IngressRoute
    limits: tuple[tuple[str, int, int, int], ...]  # (scope, id, channels, cps), non-zero, decide()'s order
    lookup: Callable[[str], tuple[RateRow | None, ...]]  # the route card's merged prefix index
    plans: dict[int, _Plan]  # the policy's memo
    policy: _Policy
    max_duration: int  # the route's; 0 = none
    sample: int  # recording: percent of calls drawn, 0 when not sampled
    always: bool  # recording: every call (not drawn)


class _Context(NamedTuple):
    """What an IP-auth entry's calls share."""

    customer: Customer
    entry: IpAuth
    rules: CliRuleSet | None  # None: the customer has no CLI rules
    debit_micros: int
    leg: _Leg | None  # the one leg when the only tech prefix is "" (routes' own prefixes are then not walked)
    legs: dict[str, _Leg | None]  # by tech prefix; None: decide() picks among that prefix's routes
    lengths: tuple[int, ...]  # of the tech prefixes, longest first


class FastIndex:
    """The per-entry contexts and per-policy plans of the fast path, over a `SnapshotIndex` for decide()."""

    def __init__(self, index: SnapshotIndex) -> None:
        self.index = index
        self._policies: dict[tuple[object, ...], _Policy] = {}
        sending = [entry for entry in index.snapshot.ip_auths if entry.direction == IpDirection.SENDS]
        # The same table as index.ips, holding contexts: a lookup finds the same entries decide() would.
        self.ips = IpTable((entry.ip, self._context(entry)) for entry in sending)

    def _context(self, entry: IpAuth) -> _Context | None:
        """The entry's context, or None when its calls are not of the fast path's shape."""
        index = self.index
        customer = index.customers[entry.customer_id]
        debit = _micros(customer.debit_limit)
        rules = index.cli_rules.get(customer.id)
        if (customer.status != _ACTIVE or (customer.email_verification and not customer.email_verified)
                or (customer.mobile_verification and not customer.mobile_verified)
                or (AuthKind.IP, entry.id) in index.rewrites or entry.dial_pattern or debit is None
                or (rules is not None and not rules.plain)):
            return None
        own = tuple((scope, limited.id, limited.channels, limited.cps)
                    for scope, limited in ((CUSTOMER, customer), (IP_AUTH, entry))
                    if limited.channels or limited.cps)
        legs: dict[str, _Leg | None] = {}
        lengths: tuple[int, ...] = ()
        routes = index.routes.get(customer.id)
        if routes is not None:
            lengths = routes.lengths
            for prefix, candidates in routes.by_prefix.items():
                route, dial = candidates[0]
                # decide() takes the first route whose dial string allows the number: without one, the first.
                legs[prefix] = self._leg(route, own) if dial is None and route.strategy != Strategy.WEIGHTED \
                    else None
        leg = legs.get("") if lengths == (0,) else None
        return _Context(customer, entry, rules, debit, leg, legs, lengths)

    def _leg(self, route: IngressRoute, own: tuple[tuple[str, int, int, int], ...]) -> _Leg:
        card = self.index.cards[route.rate_card_id]
        key = (route.rate_card_id, frozenset(route.lock), frozenset(route.exclude), route.provider_capped_rate,
               route.capped_rate, route.block_connect_cost, route.profit_assurance, route.strategy)
        policy = self._policies.get(key)
        if policy is None:
            policy = self._policies[key] = _Policy(route, card.plan)
        limits = (*own, (ROUTE, route.id, route.channels, route.cps)) if route.channels or route.cps else own
        return _Leg(route, limits, card.merged.lookup, policy.memo, policy, route.max_duration,
                    _SAMPLE_PERCENT.get(route.recording, 0), route.recording == Recording.ALWAYS)


def route_call(fast: FastIndex, counters: Counters, call: Call, rng: random.Random | None = None) -> Decision:
    """The decision for `call`: the fast path's when the call has its shape, else decide()'s (traced)."""
    if call.sip_user:
        return decide(fast.index, counters, call, rng)
    found = fast.ips.lookup(call.source_ip)
    if not found:
        return _UNKNOWN_SOURCE
    context = found[0]
    if context is None or len(found) > 1:
        return decide(fast.index, counters, call, rng)
    customer, entry, rules, debit, leg, legs, lengths = context
    destination, cli, pai = call.destination, call.cli, call.pai

    # 4. CLI rules that only allow: the CLI and PAI leave as they came, or the call is refused.
    if rules is not None and not rules.passes(cli, pai, destination):
        return _new_decision((False, 403, CLI_REJECTED, (), customer, entry, None, None, "", "", None, (), None,
                              _ZERO, False))

    # 5. Route: the leg of the longest tech prefix.
    if leg is not None:
        number = destination
    else:
        for length in lengths:
            prefix = destination[:length]
            if prefix in legs:
                leg = legs[prefix]
                if leg is None:
                    return decide(fast.index, counters, call, rng)
                number = destination[length:]
                break
        else:
            return _new_decision((False, 580, NO_ROUTE, (), customer, entry, None, None, "", "", None, (), None,
                                  _ZERO, False))
    route, limits, lookup, plans, policy, route_seconds, sample, always = leg

    # 6. Limits.
    for scope, key, channels, cps in limits:
        if channels and counters.channels(scope, key) >= channels:
            return _new_decision((False, 503, CHANNEL_LIMIT, (), customer, entry, route, None, number, cli, pai, (),
                                  None, _ZERO, False))
        if cps and counters.cps(scope, key) >= cps:
            return _new_decision((False, 503, CPS_LIMIT, (), customer, entry, route, None, number, cli, pai, (),
                                  None, _ZERO, False))

    # 7. Rate: the plan of the destination's merged rate tuple.
    rates = lookup(number)
    plan = plans.get(id(rates)) or policy.plan(rates)
    kind, sell, first, first_micros, fee_micros, rate_micros, mcd, pulse, grace, egress, dropped = plan
    if kind:
        if kind == _DECIDE:
            return decide(fast.index, counters, call, rng)
        return _new_decision((False, 503, _REJECTS[kind], (), customer, entry, route, sell, number, cli, pai, (),
                              None, _ZERO, False))

    # 8. Money, in micro-units: exact, as decide()'s Decimals are, when the balance is in whole micro-units.
    balance = (counters.balance(customer.id) - counters.reserved(customer.id)).scaleb(6)
    available = int(balance)
    if available != balance:
        return decide(fast.index, counters, call, rng)
    available += debit
    if available < first_micros:
        return _new_decision((False, 402, INSUFFICIENT_BALANCE, (), customer, entry, route, sell, number, cli, pai,
                              (), None, _ZERO, False))
    # rating.max_duration(): first >= fee (a charge is the fee plus a rate >= 0), so the fee is covered here.
    seconds: int | None
    if rate_micros:
        affordable = (available - fee_micros) * 60 // rate_micros
        seconds = grace if affordable < mcd else max(mcd + (affordable - mcd) // pulse * pulse, grace)
        if route_seconds and seconds > route_seconds:
            seconds = route_seconds
    else:
        seconds = route_seconds or None

    # 9. Egress.
    if not egress:
        return _new_decision((False, 503, NO_ROUTES_PROFIT if dropped else NO_ROUTES_U, (), customer, entry, route,
                              sell, number, cli, pai, (), seconds, first, False))
    recording = (rng or _RANDOM).random() * 100 < sample if sample else always
    return _new_decision((True, 200, "Routed", (), customer, entry, route, sell, number, cli, pai, egress, seconds,
                          first, recording))
