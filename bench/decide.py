"""Call decision benchmark: decide() in process on DESIGN.md's anchor data set, one core.

    .venv/bin/python bench/decide.py [--customers N] [--prefixes N] [--calls N] [--rounds R] [--seed S]

Builds a RoutingSnapshot of 10,000 customers with 2 IP-auth entries each (20,000; every tenth a /29 network,
the rest single addresses), one ingress route each, CLI rules on 10% of them, a customer card and 5 provider
cards of 100,000 prefixes each (bench/prefix.py's generator), indexes it once and times decisions for random
(source, 12-digit number) calls: throughput is the best of R rounds over the same calls (the first, untimed for
the verdict, fills the index's memo caches and is reported as the cold figure), p50/p99 come from a pass
timing each call.
No database here: the peers' SQL way (one longest-prefix query per call) is measured once the Django
snapshot publisher lands, in the same run as this. A benchmark is not a test: the exit code is 0.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from prefix import build_cards, percentile, timer_overhead_ns  # bench/prefix.py: the script's directory is on the path

from trunkline.contracts.snapshot import (
    CliRule,
    Customer,
    Gateway,
    IngressRoute,
    IpAuth,
    Provider,
    RateCard,
    RoutingSnapshot,
)
from trunkline.switch.decide import Call, MemoryCounters, SnapshotIndex, decide

SEED = 20261128
TARGET_PER_SECOND = 50_000
TARGET_P99_US = 100.0
CUSTOMER_CARD = 1


def build_snapshot(generator: random.Random, customers: int, prefixes: int) -> RoutingSnapshot:
    rows = build_cards(generator, prefixes)
    provider_cards = tuple(RateCard(10 + number, f"Carrier {number}", "USD", tuple(rows[number]),
                                    provider_id=100 + number) for number in range(1, 6))
    customer_card = RateCard(CUSTOMER_CARD, "Retail", "USD", tuple(rows[0]),
                             egress_card_ids=tuple(card.id for card in provider_cards))
    ip_auths = []
    for customer in range(1, customers + 1):
        high, low = divmod(customer, 250)
        ip_auths.append(IpAuth(2 * customer, customer, f"10.{high}.{low}.1"))
        # Every tenth customer's second entry is a /29, so the CIDR path is exercised too.
        second = (f"172.{16 + customer // 8192}.{customer // 32 % 256}.{customer % 32 * 8}/29" if customer % 10 == 0
                  else f"10.{high}.{low}.2")
        ip_auths.append(IpAuth(2 * customer + 1, customer, second))
    return RoutingSnapshot(
        revision=1, generated_at=datetime.now(UTC),
        rate_cards=(customer_card, *provider_cards),
        customers=tuple(Customer(number, f"Customer {number}", balance=Decimal(generator.randint(1, 500)),
                                 channels=100, cps=10) for number in range(1, customers + 1)),
        ip_auths=tuple(ip_auths),
        providers=tuple(Provider(100 + number, f"Carrier {number}", (Gateway(f"gw{number}.example"),))
                        for number in range(1, 6)),
        ingress_routes=tuple(IngressRoute(number, number, CUSTOMER_CARD, channels=50, cps=5,
                                          profit_assurance=number % 2 == 0) for number in range(1, customers + 1)),
        cli_rules=tuple(CliRule(number, number, cli=r"^\d{6,15}$") for number in range(1, customers + 1, 10)),
    )


def make_calls(generator: random.Random, snapshot: RoutingSnapshot, count: int) -> list[Call]:
    sources = [entry.ip.split("/")[0] for entry in snapshot.ip_auths]
    return [Call(generator.choice(sources), str(generator.randrange(10**11, 10**12)),
                 str(generator.randrange(10**9, 10**10))) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--prefixes", type=int, default=100_000, help="prefixes per card")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=SEED)
    options = parser.parse_args()

    generator = random.Random(options.seed)
    print(f"Call decisions: {options.customers:,} customers, {2 * options.customers:,} IP-auth entries, "
          f"1 customer + 5 provider cards x {options.prefixes:,} prefixes, CLI rules on 10%, seed {options.seed}")
    started = time.perf_counter()
    snapshot = build_snapshot(generator, options.customers, options.prefixes)
    built = time.perf_counter()
    index = SnapshotIndex(snapshot)
    print(f"  snapshot built in {built - started:.1f} s, indexed in {time.perf_counter() - built:.1f} s")
    calls = make_calls(generator, snapshot, options.calls)
    counters = MemoryCounters()
    rng = random.Random(options.seed)
    # The first pass also fills the index's memo of egress lists and first increments: timed apart as "cold".
    began = time.perf_counter()
    decisions = [decide(index, counters, call, rng) for call in calls]
    cold = len(calls) / (time.perf_counter() - began)
    outcomes = Counter(f"{decision.code} {decision.reason}" for decision in decisions)
    del decisions
    print("  outcomes: " + ", ".join(f"{reason} x{count:,}" for reason, count in outcomes.most_common()))

    gc.collect()
    gc.freeze()  # the snapshot is permanent; keep the collector from walking it mid-measurement
    gc.disable()
    rates = []
    for _ in range(options.rounds):
        began = time.perf_counter()
        for call in calls:
            decide(index, counters, call, rng)
        rates.append(len(calls) / (time.perf_counter() - began))
    clock = time.perf_counter_ns
    latencies = []
    for call in calls:
        began_ns = clock()
        decide(index, counters, call, rng)
        latencies.append(clock() - began_ns)
    overhead = timer_overhead_ns(len(calls))
    gc.enable()

    best, p50, p99 = max(rates), percentile(latencies, 0.5), percentile(latencies, 0.99)
    print()
    print(f"decisions/s (best of {options.rounds}, median {statistics.median(rates):,.0f}): {best:,.0f}; "
          f"first pass with cold memo caches: {cold:,.0f}")
    print(f"latency p50 {p50:.1f} µs, p99 {p99:.1f} µs (clock overhead {overhead / 1000:.2f} µs included)")
    verdict = "PASS" if best >= TARGET_PER_SECOND and p99 <= TARGET_P99_US else "FAIL"
    print(f"{verdict}: target >= {TARGET_PER_SECOND:,}/s and p99 <= {TARGET_P99_US:.0f} µs")
    print("SQL baseline (peers' one-query-per-call way, >= 100x target): comes with the Django snapshot slice; "
          "not measured in this run")


if __name__ == "__main__":
    main()
