"""Rating benchmark: CDRs priced in process on one core, 6 cards x 100,000 prefixes, against a straightforward
per-CDR rater measured in the same run.

    .venv/bin/python bench/rating.py [--prefixes N] [--cdrs N] [--rounds R] [--seed S]

Builds a customer card and 5 provider cards of N random prefixes each (bench/prefix.py's generator: lengths 2-9,
1 % blocked, rates 0.001-0.2/min billed 60/6), each a `CardVersion` (4 places rounding up for the customer card,
6 places half-up for the providers), and the `RatingPlan` over all six that a rating worker keeps for a customer
card and its provider cards. Then rates random CDRs: a 12-digit number, one of the 5 providers, 80 % answered
with a length in milliseconds (uniform 0-600 s), 20 % failed. Each CDR gets both sides: billed seconds and the
net charge of the customer card and of the provider's card.

The fast way (`RatingPlan.rate_batch`): one binary search on the prefix lengths for both sides, integer
micro-unit arithmetic rounded once, each rounded amount's Decimal made once. The baseline, the same arithmetic
rules written plainly: per side a dict probe per prefix length longest first (PrefixIndex), billed_seconds()
and charge() in Decimal. Both must give the same billed seconds and charges for every CDR (the count is printed).
Throughput is the median of R rounds over the same CDRs, per second of wall time and of the process's
CPU time (the machine is shared); the build times of the cards and the plan are printed.
Target: >= 200,000 CDRs/s. A benchmark is not a test: the exit code is 0.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence

from prefix import build_cards  # bench/ is the script's directory, so on the path

from trunkline.contracts.money import DurationRounding, RoundingMethod
from trunkline.contracts.snapshot import ZERO
from trunkline.switch.prefix import PrefixIndex
from trunkline.switch.rating import CardTerms, CardVersion, RatingPlan, billed_seconds, charge

SEED = 20261206
TARGET_PER_SECOND = 200_000
CUSTOMER_TERMS = CardTerms("USD", 4, RoundingMethod.UP, DurationRounding.FULL_UP)
PROVIDER_TERMS = CardTerms("USD", 6, RoundingMethod.HALF_UP, DurationRounding.FULL_UP)

Cdr = tuple[str, int | None, int]  # number, duration in ms (None: failed), provider card position 1-5
Priced = tuple[int, object, int, object]  # customer billed and charge, provider billed and charge (None: no row)


def make_cdrs(generator: random.Random, count: int) -> list[Cdr]:
    return [(str(generator.randrange(10**11, 10**12)),
             generator.randrange(600_001) if generator.random() < 0.8 else None, generator.randint(1, 5))
            for _ in range(count)]


def fast(plan: RatingPlan, cdrs: Sequence[Cdr]) -> list[Priced]:
    """The plan's answers in the baseline's shape, for the comparison (the timed run is rate_batch alone: its legs
    are what a rating worker writes from)."""
    return [(customer.billed if customer else 0, customer.charge if customer else None,
             provider.billed if provider else 0, provider.charge if provider else None)
            for customer, provider in plan.rate_batch(cdrs)]


def baseline(indexes: Sequence[PrefixIndex], terms: Sequence[CardTerms], cdrs: Sequence[Cdr]) -> list[Priced]:
    """Per CDR and side: the longest prefix by a dict probe per length, then Decimal arithmetic."""
    out: list[Priced] = []
    for number, duration_ms, position in cdrs:
        sides: list[object] = []
        for card in (0, position):
            row = indexes[card].lookup(number)
            if row is None:
                sides += [0, None]
            elif duration_ms is None:
                sides += [0, ZERO]
            else:
                billed = billed_seconds(terms[card].seconds(duration_ms), row.grace, row.mcd, row.pulse)
                sides += [billed, charge(row.rate, row.connection_fee, billed, terms[card].billing_precision,
                                         terms[card].rounding.decimal_rounding)]
        out.append((sides[0], sides[1], sides[2], sides[3]))  # type: ignore[arg-type]
    return out


def rounds(run: Callable[[], object], count: int, rounds_: int) -> tuple[float, float]:
    """Median CDRs per second of wall time and of this process's CPU time (the machine is shared: CPU time leaves
    out the time other processes had the core, not the cache they took)."""
    wall, cpu = [], []
    for _ in range(rounds_):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        cpu.append(count / (time.process_time() - started_cpu))
        wall.append(count / (time.perf_counter() - started))
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=100_000, help="prefixes per card (6 cards)")
    parser.add_argument("--cdrs", type=int, default=300_000, help="random CDRs to rate")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    generator = random.Random(args.seed)

    started = time.perf_counter()
    cards = build_cards(generator, args.prefixes)
    indexes = [PrefixIndex(rows) for rows in cards]
    terms = [CUSTOMER_TERMS, *[PROVIDER_TERMS] * (len(cards) - 1)]
    print(f"data: {len(cards)} cards x {args.prefixes:,} prefixes in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    versions = [CardVersion(number + 1, 100 + number, terms[number], index) for number, index in enumerate(indexes)]
    built_versions = time.perf_counter() - started
    started = time.perf_counter()
    plan = RatingPlan(versions)
    print(f"build: card versions {built_versions:.1f} s, plan over the 6 cards {time.perf_counter() - started:.1f} s "
          f"(once per customer card and its provider cards' live revisions; kept by the worker)")
    cdrs = make_cdrs(generator, args.cdrs)

    gc.collect()
    gc.freeze()  # the cards are long-lived: keep them out of the collector's walks, as a worker would
    gc.disable()
    fast_result = fast(plan, cdrs)
    base_result = baseline(indexes, terms, cdrs)
    agree = sum(1 for ours, theirs in zip(fast_result, base_result, strict=True) if ours == theirs)
    fast_wall, fast_cpu = rounds(lambda: plan.rate_batch(cdrs), len(cdrs), args.rounds)
    base_wall, base_cpu = rounds(lambda: baseline(indexes, terms, cdrs), len(cdrs), args.rounds)
    gc.enable()

    rated = sum(1 for row in fast_result if row[1] is not None)
    print(f"CDRs: {len(cdrs):,} ({rated:,} with a customer row; {sum(1 for c in cdrs if c[1] is None):,} failed)")
    print(f"agreement with the baseline (billed seconds and charges, both sides): {agree:,} of {len(cdrs):,}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; median of {args.rounds} rounds")
    print(f"{'way':<46}{'CDRs/s wall':>13}{'CDRs/s CPU':>13}{'ratio':>8}")
    print(f"{'RatingPlan.rate_batch (one search, integers)':<46}{fast_wall:>13,.0f}{fast_cpu:>13,.0f}"
          f"{fast_cpu / base_cpu:>7.1f}x")
    print(f"{'baseline (walk per card, Decimal)':<46}{base_wall:>13,.0f}{base_cpu:>13,.0f}{1:>7.1f}x")
    verdict = "meets" if fast_cpu >= TARGET_PER_SECOND else "MISSES"
    print(f"target >= {TARGET_PER_SECOND:,} CDRs/s on one core (CPU time): {verdict} ({fast_cpu:,.0f})")


if __name__ == "__main__":
    main()
