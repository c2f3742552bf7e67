"""The switch's entry point for a call: `route_call()`, a fast path for the common call and decide() for the rest.

decide() (decide.py) walks DESIGN.md's nine steps for any call and writes a trace line per step; Simulate shows
that trace, and it stays the one traced decision. Most calls the switch sees have one shape, though, and for
them most of decide()'s work does not depend on the call, so `FastIndex` does it once:

- per IP-auth entry, a context: the customer, the entry, the CLI rule set when the customer has rules, the
  debit limit in integer micro-units, and per tech prefix of the customer's routes a leg: the route, the
  non-zero channel/CPS limits of customer, entry and route in decide()'s order, the card's merged lookup and
  the route's recording;
- per customer card and merged rate tuple (one per destination prefix), worked out on the first call that
  reaches it and kept for the index's life: a plan holding whether the row can route, the first-increment
  charge (Decimal for the decision, micro-units for the comparison), fee and rate in micro-units, the billing
  terms and the providers in LCR order, with and without those profit assurance drops; a route with a lock,
  exclude, provider cap or reverse order narrows that once more per egress policy, memoised the same way;
- per customer card, whether one of its providers has a channel or CPS limit: only then are the providers'
  live counts read once the egress order is known (decide.at_limits(), the same in both ways).

A call then costs the IP probe, the tech-prefix and rate-prefix walks, the counter reads, a capped-rate or
connect-cost comparison when the route has one, and integer arithmetic; no trace line is built. The first call
through a destination also pays for its plan (about 1.7 KB kept): that is the first pass's extra cost, and
memory grows with the destinations traffic reaches, as the index's own plans do.

Everything else goes to decide(): a SIP user, a source address shared by several entries, a customer not
active or with a verification to do, a parameter rewrite chain, an IP-auth dial pattern, CLI rules that
rewrite, force or filter on DIDs, a tech prefix whose first route has a dial string, the weighted strategy,
money not in whole micro-units. The fast path's answer is the Decision decide() gives, field for field, except
`trace`: () marks an untraced answer (decide() always writes at least one line). tests/switch/test_fast_path.py
compares both ways on every call of a generated set of every shape; bench/decide.py times route_call() against
decide() and the peers' SQL way, and checks both agree on every call of its set.
"""

from __future__ import annotations

import gc
import ipaddress
import random
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import NamedTuple

from trunkline.contracts.snapshot import (
    AuthKind,
    Customer,
    IngressRoute,
    IpAuth,
    IpDirection,
    Provider,
    RateRow,
    Recording,
    Strategy,
)
from trunkline.switch.auth import IpTable
from trunkline.switch.cli import REJECT_REASON as CLI_REJECTED
from trunkline.switch.cli import CliRuleSet
from trunkline.switch.counters import CUSTOMER, IP_AUTH, ROUTE, Counters

# decide.py's constants, defined once: the zero, the default rng, enum members looked up once, the recording
# sample rates and the C-level Decision constructor.
from trunkline.switch.decide import (
    _ACTIVE,
    _BLOCKED,
    _RANDOM,
    _SAMPLE_PERCENT,
    _ZERO,
    _new_decision,
    at_limits,
    decide,
)

# _TWO_QUANTA_PER_MINUTE: egress.profitable()'s shortcut bound, 60 x (buy charge - sell charge), shared with it.
from trunkline.switch.egress import (
    _TWO_QUANTA_PER_MINUTE,
    PROFIT_CHECK_SECONDS,
    Order,
    Plan,
    profitable,
    route_egress,
)
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.rating import billed_seconds, first_increment_charge
from trunkline.switch.reserve import DEFAULT_SLICE, first_reserve
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
    Egress,
)

_UNKNOWN_SOURCE = Decision(False, 403, IP_NOT_AUTHORISED, ())

# A plan's kind: the call goes on to money and egress, or the rate step refuses it (no rate, blocked), or
# decide() answers (the sell row's money is finer than micro-units).
_ROUTES, _PRE, _DECIDE = range(3)


class _Plan(NamedTuple):
    """What steps 7-9 need for one merged rate tuple of a card, whatever the route: worked out on first use."""

    kind: int
    sell: RateRow  # the customer card's row (a placeholder when the kind is not _ROUTES)
    first: Decimal  # the first-increment charge: the decision's `reserve`
    first_micros: int
    fee_micros: int
    rate_micros: int  # per minute
    mcd: int
    pulse: int
    grace: int
    candidates: Order  # active, unblocked provider rates in LCR order, as egress.Plan's
    profitable: Order  # those profit assurance keeps
    unprofitable: int  # how many it drops


_NO_EGRESS = Order(())
_PRE_PLAN = _Plan(_PRE, RateRow("", _ZERO), _ZERO, 0, 0, 0, 0, 1, 0, _NO_EGRESS, _NO_EGRESS, 0)
_DECIDE_PLAN = _PRE_PLAN._replace(kind=_DECIDE)
_LONGEST = max(PROFIT_CHECK_SECONDS)
_new_egress: Callable[[tuple[object, ...]], Egress] = partial(tuple.__new__, Egress)
_new_plan: Callable[[tuple[object, ...]], _Plan] = partial(tuple.__new__, _Plan)


def _micros(amount: Decimal) -> int | None:
    """`amount` in millionths when that is a whole number, else None (the fast path then leaves it to decide())."""
    scaled = amount.scaleb(6)
    whole = int(scaled)
    return whole if whole == scaled else None


class _Sell(NamedTuple):
    """A customer row's money in micro-units (None: finer), shared by every merged tuple that inherits it."""

    first: Decimal
    micros: tuple[int, int, int] | None  # first increment, fee, rate
    billed_longest: int  # billed seconds of the longest profit-checked call


class _CardPlans:
    """The plans of one customer card, by merged rate tuple; built like index._Card.plan, leaner.

    The first call through a destination pays for its plan, so the build is the fast path's cold cost: the
    LCR sort compares (rate, fee, name, position) tuples, which equals egress.lcr_key's stable sort, and the
    profit check settles a pair with the same billing terms from the margin the Egress carries anyway, exactly
    as egress.profitable() would; other pairs go to profitable() itself.
    """

    __slots__ = ("egress", "limited", "memo", "sells")

    def __init__(self, egress: tuple[tuple[int, Provider | None], ...]) -> None:
        # A provider of the card has a channel or CPS limit: only then do its calls check the providers' counts.
        self.limited = any(provider is not None and (provider.channels or provider.cps) for _, provider in egress)
        # Aligned with a merged tuple: position 0 is the customer card (no provider), then the egress cards.
        self.egress = ((0, 0, None, (), ""), *(
            (position, card_id, provider, provider.gateways if provider else (), provider.name if provider else "")
            for position, (card_id, provider) in enumerate(egress, start=1)))
        self.memo: dict[int, _Plan] = {}  # by id() of the merged index's prebuilt tuple, which lives as long
        self.sells: dict[int, _Sell] = {}  # by id() of the row, which the snapshot holds

    def plan(self, rates: tuple[RateRow | None, ...]) -> _Plan:
        sell = rates[0]
        if sell is None or sell.status == _BLOCKED:
            plan = self.memo[id(rates)] = _PRE_PLAN
            return plan
        terms = self.sells.get(id(sell))
        if terms is None:
            first = first_increment_charge(sell)
            micros = (_micros(first), _micros(sell.connection_fee), _micros(sell.rate))
            terms = self.sells[id(sell)] = _Sell(
                first, None if None in micros else micros,  # type: ignore[arg-type]
                billed_seconds(_LONGEST, sell.grace, sell.mcd, sell.pulse))
        if terms.micros is None:
            plan = self.memo[id(rates)] = _DECIDE_PLAN
            return plan
        sell_rate, sell_fee, grace, mcd, pulse = sell.rate, sell.connection_fee, sell.grace, sell.mcd, sell.pulse
        billed_longest = terms.billed_longest
        keyed = []
        for (position, card_id, provider, gateways, name), buy in zip(self.egress, rates, strict=True):
            if buy is None or provider is None or buy.status == _BLOCKED:
                continue
            rate, fee = buy.rate, buy.connection_fee
            margin = sell_rate - rate
            if buy.grace == grace and buy.mcd == mcd and buy.pulse == pulse:
                # Same billed seconds on both sides: profitable()'s shortcuts with the margin at hand.
                kept = (margin >= _ZERO and sell_fee >= fee) or (
                    60 * (fee - sell_fee) - margin * billed_longest < _TWO_QUANTA_PER_MINUTE and profitable(sell, buy))
            else:
                kept = profitable(sell, buy)
            keyed.append((rate, fee, name, position, _new_egress((provider, gateways, card_id, buy, rate, margin)),
                          kept))
        if len(keyed) > 1:
            keyed.sort()  # positions differ, so neither the Egress nor the verdict is ever compared
        candidates = Order([item[4] for item in keyed])
        profitable_ones = [item[4] for item in keyed if item[5]]
        first_micros, fee_micros, rate_micros = terms.micros
        plan = self.memo[id(rates)] = _new_plan((
            _ROUTES, sell, terms.first, first_micros, fee_micros, rate_micros, mcd, pulse, grace, candidates,
            candidates if len(profitable_ones) == len(keyed) else Order(profitable_ones),
            len(keyed) - len(profitable_ones)))
        return plan


class _Leg(NamedTuple):
    """An IP-auth entry's calls through one route."""

    route: IngressRoute
    limits: tuple[tuple[str, int, int, int], ...]  # (scope, id, channels, cps), non-zero, decide()'s order
    lookup: Callable[[str], tuple[RateRow | None, ...]]  # the route card's merged prefix index
    plans: dict[int, _Plan]  # the card's memo
    card: _CardPlans
    capped_rate: Decimal | None
    block_connect_cost: bool
    profit_assurance: bool
    narrowed: dict[int, tuple[Order, int]] | None  # lock, exclude, provider cap or reverse LCR: a memo per policy
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
        self._cards: dict[int, _CardPlans] = {}
        self._narrowed: dict[tuple[object, ...], dict[int, tuple[Order, int]]] = {}
        sending = [entry for entry in index.snapshot.ip_auths if entry.direction == IpDirection.SENDS]
        # As SnapshotIndex's build: long-lived objects and no cycles, so the cyclic collector's passes over the
        # snapshot's heap would only cost time.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            # The same table as index.ips, holding contexts: a lookup finds the same entries decide() would.
            self.ips = IpTable((entry.ip, self._context(entry)) for entry in sending)
            # A single address that is one entry's, whose calls have the fast path's shape: one dict probe. The
            # table answers an address it holds exactly before any network, so the probe answers as it does.
            exact = {str(network.network_address) for entry in sending
                     for network in (ipaddress.ip_network(entry.ip, strict=False),) if network.num_addresses == 1}
            self.exact = {address: found[0] for address in exact
                          for found in (self.ips.lookup(address),) if len(found) == 1 and found[0] is not None}
        finally:
            if was_enabled:
                gc.enable()

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
        plans = self._cards.get(route.rate_card_id)
        if plans is None:
            plans = self._cards[route.rate_card_id] = _CardPlans(card.egress)
        narrowed = None
        if route.lock or route.exclude or route.provider_capped_rate is not None \
                or route.strategy == Strategy.REVERSE_LCR:
            # Routes with the same card and egress settings share one memo, as in the index.
            narrowed = self._narrowed.setdefault((
                route.rate_card_id, frozenset(route.lock), frozenset(route.exclude), route.provider_capped_rate,
                route.profit_assurance, route.strategy), {})
        limits = (*own, (ROUTE, route.id, route.channels, route.cps)) if route.channels or route.cps else own
        return _Leg(route, limits, card.merged.lookup, plans.memo, plans, route.capped_rate, route.block_connect_cost,
                    route.profit_assurance, narrowed, route.max_duration, _SAMPLE_PERCENT.get(route.recording, 0),
                    route.recording == Recording.ALWAYS)


def route_call(fast: FastIndex, counters: Counters, call: Call, rng: random.Random | None = None,
               slice_seconds: int = DEFAULT_SLICE) -> Decision:
    """The decision for `call`: the fast path's when the call has its shape, else decide()'s (traced)."""
    source_ip, destination, cli, _, sip_user, _, pai = call
    if sip_user:
        return decide(fast.index, counters, call, rng, slice_seconds)
    context = fast.exact.get(source_ip)
    if context is None:
        found = fast.ips.lookup(source_ip)
        if not found:
            return _UNKNOWN_SOURCE
        context = found[0]
        if context is None or len(found) > 1:
            return decide(fast.index, counters, call, rng, slice_seconds)
    customer, entry, rules, debit, leg, legs, lengths = context

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
                    return decide(fast.index, counters, call, rng, slice_seconds)
                number = destination[length:]
                break
        else:
            return _new_decision((False, 580, NO_ROUTE, (), customer, entry, None, None, "", "", None, (), None,
                                  _ZERO, False))
    (route, limits, lookup, plans, card, capped_rate, block_connect_cost, profit_assurance, narrowed, route_seconds,
     sample, always) = leg

    # 6. Limits.
    for scope, key, channels, cps in limits:
        if channels and counters.channels(scope, key) >= channels:
            return _new_decision((False, 503, CHANNEL_LIMIT, (), customer, entry, route, None, number, cli, pai, (),
                                  None, _ZERO, False))
        if cps and counters.cps(scope, key) >= cps:
            return _new_decision((False, 503, CPS_LIMIT, (), customer, entry, route, None, number, cli, pai, (),
                                  None, _ZERO, False))

    # 7. Rate: the plan of the destination's merged rate tuple, then the route's own checks.
    rates = lookup(number)
    plan = plans.get(id(rates)) or card.plan(rates)
    (kind, sell, first, first_micros, fee_micros, rate_micros, mcd, pulse, grace, candidates, kept,
     unprofitable) = plan
    if kind:
        if kind == _DECIDE:
            return decide(fast.index, counters, call, rng, slice_seconds)
        return _new_decision((False, 503, NO_ROUTES_PRE, (), customer, entry, route, None, number, cli, pai, (),
                              None, _ZERO, False))
    if (capped_rate is not None and sell.rate > capped_rate) or (block_connect_cost and fee_micros):
        return _new_decision((False, 503, RATE_ABOVE_CAP if capped_rate is not None and sell.rate > capped_rate
                              else CONNECT_COST_BLOCKED, (), customer, entry, route, sell, number, cli, pai, (),
                              None, _ZERO, False))

    # 8. Money, in micro-units: exact, as decide()'s Decimals are, when the balance is in whole micro-units.
    unreserved = counters.balance(customer.id) - counters.reserved(customer.id)
    balance = unreserved.scaleb(6)
    available = int(balance)
    if available != balance:
        return decide(fast.index, counters, call, rng, slice_seconds)
    available += debit
    if available < first_micros:
        return _new_decision((False, 402, INSUFFICIENT_BALANCE, (), customer, entry, route, sell, number, cli, pai,
                              (), None, _ZERO, False))
    # rating.max_duration(): first >= fee (a charge is the fee plus a rate >= 0), so the fee is covered here.
    seconds: int | None
    if rate_micros:
        affordable = (available - fee_micros) * 60 // rate_micros
        seconds = grace if affordable < mcd else mcd + (affordable - mcd) // pulse * pulse
        if seconds < grace:  # max(), without the call
            seconds = grace
        if route_seconds and seconds > route_seconds:
            seconds = route_seconds
    else:
        seconds = route_seconds or None
    reserve = first_reserve(sell, counters.tax_rate(customer.id), slice_seconds, seconds,
                            unreserved + customer.debit_limit)

    # 9. Egress.
    if narrowed is not None:
        narrow = narrowed.get(id(rates))
        if narrow is None:
            narrow = narrowed[id(rates)] = route_egress(Plan(candidates, kept, unprofitable, first), route, sell)
        egress, dropped = narrow
    elif profit_assurance:
        egress, dropped = kept, unprofitable
    else:
        egress, dropped = candidates, 0
    if not egress:
        return _new_decision((False, 503, NO_ROUTES_PROFIT if dropped else NO_ROUTES_U, (), customer, entry, route,
                              sell, number, cli, pai, (), seconds, reserve, False))
    if card.limited:
        egress, full = at_limits(egress, counters)
        if not egress:
            return _new_decision((False, 503, full[0][1], (), customer, entry, route, sell, number, cli, pai, (),
                                  seconds, reserve, False))
    recording = (rng or _RANDOM).random() * 100 < sample if sample else always
    return _new_decision((True, 200, "Routed", (), customer, entry, route, sell, number, cli, pai, egress, seconds,
                          reserve, recording))
