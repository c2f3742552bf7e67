"""Where the call goes (DESIGN.md step 9): LCR order, profit assurance, route locks and caps, weighted draw.

A `Plan` is what a customer row's rate tuple needs no route setting for; `route_egress` narrows it for a route
with a lock, exclude, provider cap or reverse order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

from trunkline.contracts.money import MONEY_QUANTUM
from trunkline.contracts.snapshot import IngressRoute, RateRow, Strategy
from trunkline.switch.rating import billed_seconds, rate_call
from trunkline.switch.types import Egress

# DESIGN.md, "Profit assurance": the call lengths on which the customer must pay at least the provider's cost.
PROFIT_CHECK_SECONDS = (6, 30, 60, 180, 600)
# Checked longest first: a sell rate below the buy rate shows on the longest call, so all() stops after one pair.
_PROFIT_CHECK_LONGEST_FIRST = tuple(sorted(PROFIT_CHECK_SECONDS, reverse=True))
_TWO_QUANTA_PER_MINUTE = 2 * 60 * MONEY_QUANTUM  # charges are rounded to MONEY_QUANTUM (rate_call's precision)
_REVERSE_LCR = Strategy.REVERSE_LCR  # looked up once: Enum attribute access is slow in Python 3.11

# The LCR key, in C rather than a Python key function: the index build sorts one list per merged key.
lcr_key = attrgetter("rate.rate", "rate.connection_fee", "provider.name")


class Order(tuple[Egress, ...]):
    """The egress list as a trace argument: formatted only when someone reads the trace."""

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        return ", ".join(f"{item.provider.name} {item.cost}/min" for item in self)


class Plan(NamedTuple):
    """What a prebuilt rate tuple whose customer row can route needs no route setting for."""

    candidates: Order  # active, unblocked provider rates in LCR order (card order on ties)
    profitable: Order  # the candidates profit assurance keeps, same order
    unprofitable: int  # how many candidates profit assurance drops
    first: Decimal  # the sell row's first-increment charge


def profitable(sell: RateRow, buy: RateRow) -> bool:
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


def route_egress(plan: Plan, route: IngressRoute, sell: RateRow) -> tuple[Order, int]:
    """The providers left, in LCR order (reversed for reverse LCR), and how many profit assurance alone dropped."""
    lock, exclude, cap, check = route.lock, route.exclude, route.provider_capped_rate, route.profit_assurance
    kept: Sequence[Egress] = plan.candidates
    unprofitable = 0
    if lock or exclude or cap is not None:
        kept = []
        for item in plan.candidates:
            if (lock and item.card_id not in lock) or item.card_id in exclude or (cap is not None and item.cost > cap):
                continue
            if check and not profitable(sell, item.rate):
                unprofitable += 1
                continue
            kept.append(item)
    elif check:
        kept, unprofitable = plan.profitable, plan.unprofitable
    if route.strategy == _REVERSE_LCR:
        # A stable sort of the LCR order keeps card order on ties, as sorting the card order itself would.
        kept = sorted(kept, key=lcr_key, reverse=True)
    return kept if type(kept) is Order else Order(kept), unprofitable


def weighted(items: Sequence[Egress], weight: Callable[[Egress], int], rng: random.Random) -> list[Egress]:
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
