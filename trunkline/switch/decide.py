"""The call decision of DESIGN.md, steps 1-9: who sent the call, may it pass, what it becomes, where it goes.

decide() reads a `SnapshotIndex` (index.py) and live `Counters` (counters.py). It is pure: counters are read,
never written (the engine takes the reservation the decision names: the gross cost of the first slice of
`slice_seconds`, see reserve.py), and randomness (weighted order, recording samples) comes from `rng`.
"""

from __future__ import annotations

import hmac
import random
import weakref
from collections.abc import Callable
from decimal import Decimal
from functools import partial

from trunkline.contracts.snapshot import AuthKind, CustomerStatus, IpAuth, RateStatus, Recording, SipUser, Strategy
from trunkline.switch.auth import digest_response
from trunkline.switch.counters import CUSTOMER, IP_AUTH, PROVIDER, ROUTE, SIP_USER, Counters
from trunkline.switch.egress import Order, route_egress, weighted
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.rating import max_duration
from trunkline.switch.reserve import DEFAULT_SLICE, first_reserve
from trunkline.switch.trace import Step, TraceLine
from trunkline.switch.types import (
    BLOCKED_BY_DIAL_PLAN,
    CHALLENGE,
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
    STATUS_REASONS,
    UNKNOWN_USER,
    VERIFICATION_REQUIRED,
    Call,
    Decision,
    Egress,
)

_SAMPLE_PERCENT = {Recording.SAMPLE_1: 1, Recording.SAMPLE_5: 5, Recording.SAMPLE_25: 25, Recording.SAMPLE_50: 50}
_ZERO = Decimal(0)
_RANDOM = random.Random()
# Enum members looked up once: attribute access on an Enum class is slow in Python 3.11 (as in cli.py).
_ACTIVE = CustomerStatus.ACTIVE
_BLOCKED = RateStatus.BLOCKED
_ALWAYS = Recording.ALWAYS
_WEIGHTED = Strategy.WEIGHTED
_IP_KIND = AuthKind.IP
_USER_KIND = AuthKind.SIP_USER
_IDENTIFY, _GATES, _REWRITE, _ROUTE, _LIMITS, _RATE, _MONEY, _EGRESS = (
    Step.IDENTIFY, Step.GATES, Step.REWRITE, Step.ROUTE, Step.LIMITS, Step.RATE, Step.MONEY, Step.EGRESS)
# A NamedTuple's generated __new__ is a Python-level call; tuple.__new__ builds the same TraceLine in C, which
# counts at nine lines per call.
_new_line: Callable[[tuple[Step, bool, str, tuple[object, ...]]], TraceLine] = partial(tuple.__new__, TraceLine)
_LIMITS_OK = TraceLine(_LIMITS, True, "channels and CPS within limits")
_NO_REWRITES = TraceLine(_REWRITE, True, "no parameter rewrite rules")

_NOTHING_FOUND = Decision(False, 0, "", ())
# As _new_line, for the accepted Decision (every field given).
_new_decision: Callable[[tuple[object, ...]], Decision] = partial(tuple.__new__, Decision)


def _reject(trace: list[TraceLine], step: Step, code: int, reason: str, template: str, args: tuple[object, ...],
            found: Decision = _NOTHING_FOUND) -> Decision:
    """A reject line on the trace and the decision, keeping whatever the steps before had `found`."""
    trace.append(_new_line((step, False, template + ": {} {}", (*args, code, reason))))
    return found._replace(code=code, reason=reason, trace=tuple(trace))


def decide(index: SnapshotIndex, counters: Counters, call: Call, rng: random.Random | None = None,
           slice_seconds: int = DEFAULT_SLICE) -> Decision:
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
        auth, kind, scope, dialled = user, _USER_KIND, SIP_USER, None
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
        dialled = chosen if chosen.dial_pattern else None  # the entry whose dial pattern step 5 checks
        trace.append(_new_line((_IDENTIFY, True, "source {}:{} is IP-auth entry #{} ({})",
                                (call.source_ip, call.source_port, chosen.id, chosen.ip))))
    customer = index.customers[auth.customer_id]

    # 2. Gates.
    if customer.status != _ACTIVE:
        return _reject(trace, _GATES, 403, STATUS_REASONS[customer.status], "customer {} is {}",
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
    # The IP-auth entry's dial pattern reads the number the route's dial string reads: after the parameter
    # rewrite, tech prefix stripped, the number that is rated and routed. Its usual value (E.164, ConnexCS's
    # default) describes that number; a pattern for the number as received would have to repeat every tech
    # prefix and undo every rewrite.
    if dialled is not None and not index.dial_patterns[dialled.id].search(number):
        return _reject(trace, _ROUTE, 503, BLOCKED_BY_DIAL_PLAN, "IP-auth entry #{} dial pattern {} does not allow {}",
                       (dialled.id, dialled.dial_pattern, number),
                       _NOTHING_FOUND._replace(customer=customer, auth=auth))
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
    available = counters.balance(customer.id) - counters.reserved(customer.id) + customer.debit_limit
    plan = card.plans.get(id(rates)) or card.plan(rates, sell)
    first = plan.first
    if available < first:
        return _reject(trace, _MONEY, 402, INSUFFICIENT_BALANCE, "available {} < first increment {}", (
            available, first), found._replace(rate=sell))
    seconds = max_duration(sell, available)
    if route.max_duration and (seconds is None or seconds > route.max_duration):
        seconds = route.max_duration
    reserve = first_reserve(sell, counters.tax_rate(customer.id), slice_seconds, seconds, available)
    trace.append(_new_line((_MONEY, True, "available {}, reserve {}, max duration {} s", (
        available, reserve, "unlimited" if seconds is None else seconds))))

    # 9. Egress.
    plans = index.plans.get(route.id)
    if plans is None:  # no lock, exclude, cap or reverse order: the prebuilt lists are the answer
        egress, dropped_by_profit = (plan.profitable, plan.unprofitable) if route.profit_assurance else (
            plan.candidates, 0)
    else:
        planned = plans.get(id(rates))
        if planned is None:
            planned = plans[id(rates)] = route_egress(plan, route, sell)
        egress, dropped_by_profit = planned
    if route.strategy == _WEIGHTED and len(egress) > 1:
        weights = index.weights.get(route.id, {})
        egress = Order(weighted(egress, lambda item: weights.get(item.card_id, 1), rng))
    if egress and route.rate_card_id in _provider_limited(index):
        kept, full = at_limits(egress, counters)
        if not kept:
            return _reject(trace, _EGRESS, 503, full[0][1], "every provider is at its limits: {}", (
                _Full(full),), found._replace(rate=sell, max_duration=seconds, reserve=reserve))
        if full:
            trace.append(_new_line((_EGRESS, True, "left out at their limits: {}", (_Full(full),))))
        egress = kept
    if not egress:
        if dropped_by_profit:
            return _reject(trace, _EGRESS, 503, NO_ROUTES_PROFIT, "profit assurance dropped {} providers", (
                dropped_by_profit,), found._replace(rate=sell, max_duration=seconds, reserve=reserve))
        return _reject(trace, _EGRESS, 503, NO_ROUTES_U, "no provider left for {}", (number,),
                       found._replace(rate=sell, max_duration=seconds, reserve=reserve))
    trace.append(_new_line((_EGRESS, True, "{} order: {}", (route.strategy, egress))))
    sample = _SAMPLE_PERCENT.get(route.recording)
    recording = route.recording == _ALWAYS or (sample is not None and rng.random() * 100 < sample)
    return _new_decision((True, 200, "Routed", tuple(trace), customer, auth, route, sell, number, cli, pai, egress,
                          seconds, reserve, recording))


# Per index, the customer cards with a provider whose channels or CPS are limited: only their calls pay for the
# provider check (decide() is not on the switch's hot path; fast.py keeps the same flag per card).
_LIMITED: weakref.WeakKeyDictionary[SnapshotIndex, frozenset[int]] = weakref.WeakKeyDictionary()


def _provider_limited(index: SnapshotIndex) -> frozenset[int]:
    found = _LIMITED.get(index)
    if found is None:
        found = _LIMITED[index] = frozenset(
            card_id for card_id, card in index.cards.items()
            if any(provider is not None and (provider.channels or provider.cps) for _, provider in card.egress))
    return found


def at_limits(egress: Order, counters: Counters) -> tuple[Order, list[tuple[Egress, str]]]:
    """The providers of `egress` below their channel and CPS limits, in order, and those left out with the reason
    (the channel limit is checked first, as for every scope)."""
    kept: list[Egress] = []
    full: list[tuple[Egress, str]] = []
    for item in egress:
        provider = item.provider
        if provider.channels and counters.channels(PROVIDER, provider.id) >= provider.channels:
            full.append((item, CHANNEL_LIMIT))
        elif provider.cps and counters.cps(PROVIDER, provider.id) >= provider.cps:
            full.append((item, CPS_LIMIT))
        else:
            kept.append(item)
    return (egress if not full else Order(kept)), full


class _Full(tuple[tuple[Egress, str], ...]):
    """Providers at their limits as a trace argument: formatted only when someone reads the trace."""

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        return ", ".join(f"{item.provider.name} ({'channels' if reason == CHANNEL_LIMIT else 'CPS'})"
                         for item, reason in self)


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


