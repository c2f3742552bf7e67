"""The egress plans the index memoises (on a destination's first call) decide as a per-call computation does.

The reference below is the straightforward reading of DESIGN.md steps 7-9: each card's own longest-prefix
row, the filters in order, profit assurance over every checked length with Decimal charges, LCR order by
(rate, connection fee, provider name) stable on card order.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trunkline.contracts.snapshot import (
    Customer,
    Gateway,
    IngressRoute,
    IpAuth,
    Provider,
    ProviderStatus,
    RateCard,
    RateRow,
    RateStatus,
    RoutingSnapshot,
    Strategy,
)
from trunkline.switch.counters import MemoryCounters
from trunkline.switch.decide import decide
from trunkline.switch.egress import PROFIT_CHECK_SECONDS, profitable
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.prefix import PrefixIndex
from trunkline.switch.rating import rate_call
from trunkline.switch.types import Call

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CUSTOMER_CARD = 1
PROVIDER_CARDS = (11, 12, 13, 14, 15)
TERMS = ((1, 1, 0), (60, 6, 0), (60, 60, 0), (30, 6, 5), (0, 1, 0), (6, 6, 3))


def random_row(generator: random.Random, prefix: str) -> RateRow:
    mcd, pulse, grace = generator.choice(TERMS)
    fee = Decimal(0) if generator.random() < 0.6 else Decimal(generator.randint(1, 3000)).scaleb(-5)
    return RateRow(prefix, Decimal(generator.randint(0, 900)).scaleb(-4), connection_fee=fee, mcd=mcd,
                   pulse=pulse, grace=grace,
                   status=RateStatus.BLOCKED if generator.random() < 0.05 else RateStatus.ACTIVE)


def random_card(generator: random.Random, pool: list[str]) -> tuple[RateRow, ...]:
    return tuple(random_row(generator, prefix) for prefix in generator.sample(pool, len(pool) // 2))


def random_routes(generator: random.Random) -> tuple[IngressRoute, ...]:
    routes = [IngressRoute(1, 1, CUSTOMER_CARD, tech_prefix="0#"),
              IngressRoute(2, 1, CUSTOMER_CARD, tech_prefix="1#", profit_assurance=True)]
    for number in range(3, 13):
        routes.append(IngressRoute(
            number, 1, CUSTOMER_CARD, tech_prefix=f"{number}#", profit_assurance=generator.random() < 0.5,
            lock=tuple(generator.sample(PROVIDER_CARDS, 3)) if generator.random() < 0.3 else (),
            exclude=tuple(generator.sample(PROVIDER_CARDS, 1)) if generator.random() < 0.3 else (),
            provider_capped_rate=Decimal("0.05") if generator.random() < 0.3 else None,
            strategy=Strategy.REVERSE_LCR if generator.random() < 0.4 else Strategy.LCR))
    return tuple(routes)


def reference(cards: dict[int, PrefixIndex], providers: dict[int, Provider], route: IngressRoute,
              number: str) -> tuple[str | None, tuple[int, ...], int]:
    """(sell prefix, provider card ids in order, how many profit assurance dropped), computed per call."""
    sell = cards[CUSTOMER_CARD].lookup(number)
    if sell is None or sell.blocked:
        return None, (), 0
    kept, dropped = [], 0
    for position, card_id in enumerate(PROVIDER_CARDS):
        buy, provider = cards[card_id].lookup(number), providers[card_id]
        if buy is None or buy.blocked or provider.status != ProviderStatus.ACTIVE:
            continue
        if (route.lock and card_id not in route.lock) or card_id in route.exclude or (
                route.provider_capped_rate is not None and buy.rate > route.provider_capped_rate):
            continue
        if route.profit_assurance and any(rate_call(sell, seconds) < rate_call(buy, seconds)
                                          for seconds in PROFIT_CHECK_SECONDS):
            dropped += 1
            continue
        kept.append((buy.rate, buy.connection_fee, provider.name, position, card_id))
    kept.sort(key=lambda item: item[:3], reverse=route.strategy == Strategy.REVERSE_LCR)
    return sell.prefix, tuple(item[-1] for item in kept), dropped


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_memoised_plans_decide_as_the_per_call_reading(seed: int) -> None:
    generator = random.Random(seed)
    pool = sorted({"".join(generator.choices("123", k=generator.randint(1, 4))) for _ in range(200)})
    rows = {card_id: random_card(generator, pool) for card_id in (CUSTOMER_CARD, *PROVIDER_CARDS)}
    # Two providers share a name, so the LCR tie-break on card order is exercised too.
    names = ("Alpha", "Bravo", "Bravo", "Delta", "Echo")
    providers = {card_id: Provider(100 + card_id, name, (Gateway(f"{card_id}.example"),),
                                   status=ProviderStatus.INACTIVE if card_id == 15 else ProviderStatus.ACTIVE)
                 for card_id, name in zip(PROVIDER_CARDS, names, strict=True)}
    routes = random_routes(generator)
    snapshot = RoutingSnapshot(
        revision=1, generated_at=NOW,
        rate_cards=(RateCard(CUSTOMER_CARD, "Retail", "USD", rows[CUSTOMER_CARD], egress_card_ids=PROVIDER_CARDS),
                    *(RateCard(card_id, f"Card {card_id}", "USD", rows[card_id],
                               provider_id=providers[card_id].id) for card_id in PROVIDER_CARDS)),
        customers=(Customer(1, "Acme"),), ip_auths=(IpAuth(1, 1, "192.0.2.1"),),
        providers=tuple(providers.values()), ingress_routes=routes)
    index = SnapshotIndex(snapshot)
    counters = MemoryCounters()
    counters.set_balance(1, Decimal(1000))
    cards = {card_id: PrefixIndex(card_rows) for card_id, card_rows in rows.items()}
    checked = 0
    for _ in range(2):  # the second pass reads what the first memoised
        for number in ("".join(generator.choices("1234", k=6)) for _ in range(300)):
            for route in routes:
                decision = decide(index, counters, Call("192.0.2.1", route.tech_prefix + number, "1"))
                sell, order, dropped = reference(cards, providers, route, number)
                assert (decision.rate.prefix if decision.rate is not None else None) == sell
                assert tuple(item.card_id for item in decision.routes) == order
                if sell is not None:
                    # A 60 s slice (never longer than the max duration), within the 1,000 available.
                    row = cards[CUSTOMER_CARD].lookup(number)
                    seconds = 60 if decision.max_duration is None else min(60, decision.max_duration)
                    assert decision.reserve == rate_call(row, seconds)
                    if not order:
                        assert decision.reason == ("No Routes Available (Profit Assurance)" if dropped
                                                   else "No Routes Available (U)")
                checked += 1
    assert checked == 2 * 300 * len(routes)


def test_the_profit_shortcut_agrees_with_every_checked_length() -> None:
    generator = random.Random(7)
    for _ in range(5000):
        sell, buy = random_row(generator, "1"), random_row(generator, "1")
        if generator.random() < 0.5:  # same terms, so the monotone shortcut is taken often
            buy = RateRow("1", buy.rate, connection_fee=buy.connection_fee, mcd=sell.mcd, pulse=sell.pulse,
                          grace=sell.grace)
        if generator.random() < 0.3:  # rates a fraction of a quantum apart: the charges round to the same amount
            buy = RateRow("1", max(sell.rate + Decimal(generator.randint(-30, 30)).scaleb(-8), Decimal(0)),
                          connection_fee=sell.connection_fee, mcd=sell.mcd, pulse=sell.pulse, grace=sell.grace)
        assert profitable(sell, buy) == all(rate_call(sell, seconds) >= rate_call(buy, seconds)
                                             for seconds in PROFIT_CHECK_SECONDS)
