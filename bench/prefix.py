"""Rate lookup benchmark: one longest-prefix walk per card, against one merged probe for all cards at once.

DESIGN.md, "Performance targets": a call decision needs the customer card's rate and every provider card's
rate for the same number. Walking a dict-per-length index of each of the 6 cards in turn was measured at
about 41,000 lookups/s here, short of the 50,000 decisions/s target before any other work, so the decision
uses one merged index (trunkline.switch.prefix.MergedPrefixIndex) answering for all cards in one walk.

    .venv/bin/python bench/prefix.py [--prefixes N] [--numbers N] [--rounds R] [--seed S]

Builds 5 provider cards and 1 customer card of N random prefixes each (default 100,000; drawn from a pool
twice that size, so the cards share destinations the way real decks do), then looks up the same random
12-digit numbers (default 100,000) both ways. Both ways must return the same rows for every number; the
throughput is the best of R interleaved rounds (machines are shared and noisy) and the latencies come from
a separate pass timing each lookup. No database here: the SQL baseline comes with bench/decide.py.

A benchmark is not a test: the exit code is 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

from trunkline.contracts.snapshot import RateRow, RateStatus
from trunkline.switch.prefix import MergedPrefixIndex, PrefixIndex

CARDS = 6  # 1 customer card + 5 provider cards
SEED = 20261128
# Prefix lengths of a wholesale deck: mostly country plus area or mobile range, a few very short or long.
LENGTH_WEIGHTS = {2: 1, 3: 3, 4: 10, 5: 20, 6: 30, 7: 25, 8: 10, 9: 1}
ANCHOR_WALK_PER_SECOND = 41_000  # DESIGN.md's measurement of the per-card walk on this kind of machine
TARGET_DECISIONS_PER_SECOND = 50_000


def random_prefixes(generator: random.Random, count: int) -> list[str]:
    lengths, weights = list(LENGTH_WEIGHTS), list(LENGTH_WEIGHTS.values())
    found: set[str] = set()
    while len(found) < count:
        length = generator.choices(lengths, weights)[0]
        found.add(str(generator.randint(1, 9)) + "".join(generator.choices("0123456789", k=length - 1)))
    return sorted(found)


def build_cards(generator: random.Random, size: int) -> list[list[RateRow]]:
    pool = random_prefixes(generator, size * 2)
    cards = []
    for _ in range(CARDS):
        cards.append([RateRow(prefix, Decimal(generator.randint(1000, 200_000)).scaleb(-6), mcd=60, pulse=6,
                              status=RateStatus.BLOCKED if generator.random() < 0.01 else RateStatus.ACTIVE)
                      for prefix in generator.sample(pool, size)])
    return cards


def throughput(run: Callable[[Sequence[str]], object], numbers: Sequence[str]) -> float:
    started = time.perf_counter()
    run(numbers)
    return len(numbers) / (time.perf_counter() - started)


def latencies_ns(lookup: Callable[[str], object], numbers: Sequence[str]) -> list[int]:
    clock = time.perf_counter_ns
    result = []
    for number in numbers:
        started = clock()
        lookup(number)
        result.append(clock() - started)
    return result


def timer_overhead_ns(count: int) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(count):
        started = clock()
        samples.append(clock() - started)
    return statistics.median(samples)


def percentile(samples: list[int], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=100_000, help="prefixes per card")
    parser.add_argument("--numbers", type=int, default=100_000, help="random 12-digit numbers to look up")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=SEED)
    options = parser.parse_args()

    generator = random.Random(options.seed)
    print(f"Rate lookup: {CARDS} cards (1 customer + 5 provider) x {options.prefixes:,} prefixes, "
          f"{options.numbers:,} random 12-digit numbers, seed {options.seed}")
    cards = build_cards(generator, options.prefixes)
    numbers = [str(generator.randrange(10**11, 10**12)) for _ in range(options.numbers)]

    started = time.perf_counter()
    indexes = [PrefixIndex(card) for card in cards]
    built = time.perf_counter()
    merged = MergedPrefixIndex(indexes)
    print(f"  built the 6 dict-per-length indexes in {built - started:.2f} s, "
          f"the merged index in {time.perf_counter() - built:.2f} s")
    lookups = [index.lookup for index in indexes]
    merged_lookup = merged.lookup
    print(f"  merged index: {len(merged):,} distinct prefixes (union of the cards), {merged.card_count} rows per key")

    def per_card(number: str) -> list[RateRow | None]:
        return [lookup(number) for lookup in lookups]

    def walk_each_card(batch: Sequence[str]) -> None:
        for number in batch:
            [lookup(number) for lookup in lookups]

    def probe_merged(batch: Sequence[str]) -> None:
        for number in batch:
            merged_lookup(number)

    mismatches = sum(tuple(per_card(number)) != merged_lookup(number) for number in numbers)
    found = sum(row is not None for number in numbers for row in merged_lookup(number))
    blocked = sum(row is not None and row.blocked for number in numbers for row in merged_lookup(number))
    print(f"  same rows both ways: {'yes' if mismatches == 0 else f'NO, {mismatches:,} numbers differ'}; "
          f"{found / len(numbers):.2f} of {CARDS} cards match a number on average, {blocked:,} blocked answers")

    gc.collect()
    gc.freeze()  # the cards are permanent; keep the collector from walking them mid-measurement
    gc.disable()
    walk_rates, merged_rates = [], []
    for _ in range(options.rounds):  # interleaved, so a noisy moment hits both alike
        walk_rates.append(throughput(walk_each_card, numbers))
        merged_rates.append(throughput(probe_merged, numbers))
    walk_latency = latencies_ns(per_card, numbers)
    merged_latency = latencies_ns(merged_lookup, numbers)
    overhead = timer_overhead_ns(len(numbers))
    gc.enable()

    walk, fast = max(walk_rates), max(merged_rates)
    print()
    print("one lookup = one number's row on each of the 6 cards")
    print(f"{'way':<34} {'lookups/s':>12} {'p50 µs':>8} {'p99 µs':>8}")
    print(f"{'(a) walk each of the 6 cards':<34} {walk:>12,.0f} {percentile(walk_latency, 0.5):>8.2f} "
          f"{percentile(walk_latency, 0.99):>8.2f}")
    print(f"{'(b) one merged probe':<34} {fast:>12,.0f} {percentile(merged_latency, 0.5):>8.2f} "
          f"{percentile(merged_latency, 0.99):>8.2f}")
    print(f"(latencies include the clock's own {overhead / 1000:.2f} µs; throughput is the best of "
          f"{options.rounds} rounds, medians {statistics.median(walk_rates):,.0f} and "
          f"{statistics.median(merged_rates):,.0f})")
    print()
    print(f"ratio (b)/(a): {fast / walk:.1f}x faster with the merged index")
    print(f"(a) against DESIGN.md's anchor of {ANCHOR_WALK_PER_SECOND:,}/s for the same walk: "
          f"{walk / ANCHOR_WALK_PER_SECOND:.2f}x")
    share = TARGET_DECISIONS_PER_SECOND / fast
    print(f"(b) uses {share:.0%} of the {TARGET_DECISIONS_PER_SECOND:,} decisions/s budget "
          f"({1e6 / TARGET_DECISIONS_PER_SECOND:.0f} µs per decision) on rate lookups")


if __name__ == "__main__":
    main()
