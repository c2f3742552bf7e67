"""CDR ingest benchmark: CDRs/s through cdrs_ingest (validated, rated, inserted, charged to the ledger, counted in
the rollups) against the peers' row-at-a-time way, in the same run, on PostgreSQL.

Issue 11, Targets: ingest into PostgreSQL with ledger entries and rollups >= 10,000 CDRs/s, and at least 10x a
row-at-a-time insert-then-update-balance loop measured in the same run.

    .venv/bin/python bench/ingest.py [--rows N] [--baseline-rows M] [--backend postgres|sqlite|both] [--keep]

Each backend runs in its own child process against a fresh database (bench/harness.py: PostgreSQL in the scratch
database `trunkline_bench_ingest` created and dropped through BENCH_POSTGRES_URL's server). The data: 20 customers
on 3 cards of 500 prefixes each with provider cards behind them, N answered and failed calls spread over a day.
`ingest` is cdrs_ingest() on the N records as the API gets them (dicts with ISO times), all of its work included.
`row-at-a-time` is the peers' way on the same already-rated CDRs (rating left out, in its favour): per CDR,
INSERT the CDR, then UPDATE customer SET balance = balance - x, then COMMIT; no ledger entry, no rollup.

A benchmark is not a test: the exit code is 0 whatever the figures; misses are printed as FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import ROOT, child_parser, log, run_child

TARGET_PER_SECOND = 10_000
TARGET_RATIO = 10.0
BENCH_DB = "trunkline_bench_ingest"
SEED = 20261206
CUSTOMERS = 20
PREFIXES = 500
# Destination names as real decks have them: many prefixes share one (the rollups are per destination).
DESTINATIONS = [f"{country} {kind}" for country in ("UK", "Germany", "France", "Spain", "Italy", "Poland", "India",
                                                    "Nigeria", "Mexico", "Brazil", "USA", "Canada")
                for kind in ("Fixed", "Mobile", "Premium")]


def _rates(generator: random.Random, prefixes: list[str], low: int, high: int) -> str:
    lines = ["prefix,name,rate,connection_fee,mcd,pulse,grace,status"]
    for prefix in prefixes:
        mcd, pulse = generator.choice(((1, 1), (6, 6), (30, 6), (60, 60)))
        name = DESTINATIONS[int(prefix) % len(DESTINATIONS)]
        lines.append(f"{prefix},{name},0.{generator.randint(low, high):06d},0,{mcd},{pulse},0,active")
    return "\n".join(lines) + "\n"


def _world(generator: random.Random) -> tuple[list[int], int, list[str]]:
    """Customers with routes on three sell cards, one provider whose buy card prices every prefix."""
    from decimal import Decimal

    from trunkline.core.context import change_context
    from trunkline.customers.models import Customer
    from trunkline.routing.models import IngressRoute, Provider, RateCard
    from trunkline.routing.services.ratecards import rate_card_import, rate_card_save
    from trunkline.routing.services.routes import ingress_route_save

    prefixes = sorted({f"{generator.randint(1, 99)}{generator.randint(0, 9999):04d}" for _ in range(PREFIXES)})
    with change_context(source="command"):
        provider = Provider(name="Bench Carrier", gateways=[{"host": "198.51.100.7", "port": 5060,
                                                              "transport": "udp"}])
        provider.full_clean()
        provider.save()
        buy = rate_card_save(card=RateCard(name="Bench Buy", kind="provider", currency="USD", provider=provider))
        rate_card_import(card=buy, text=_rates(generator, prefixes, 1000, 20_000))
        sells = []
        for number in range(3):
            sell = rate_card_save(card=RateCard(name=f"Bench Sell {number}", kind="customer", currency="USD"),
                                  egress_cards=[buy])
            rate_card_import(card=sell, text=_rates(generator, prefixes, 20_000, 90_000))
            sells.append(sell)
        customers = []
        for number in range(CUSTOMERS):
            customer = Customer(name=f"Bench Customer {number:02d}", currency="USD", status="active",
                                tax_rate=Decimal("7.5") if number % 2 else Decimal(0))
            customer.full_clean()
            customer.save()
            ingress_route_save(route=IngressRoute(customer=customer, rate_card=sells[number % 3]))
            customers.append(customer.pk)
    return customers, provider.pk, prefixes


def _records(generator: random.Random, count: int, customers: list[int], provider: int, prefixes: list[str],
             start: datetime, tag: str) -> list[dict[str, Any]]:
    records = []
    for number in range(count):
        begin = start + timedelta(seconds=generator.randint(0, 86_399), milliseconds=generator.randint(0, 999))
        answered = generator.random() < 0.6
        answer = begin + timedelta(milliseconds=generator.randint(500, 9000)) if answered else None
        end = (answer + timedelta(milliseconds=generator.randint(0, 600_000)) if answer
               else begin + timedelta(milliseconds=generator.randint(100, 30_000)))
        records.append({
            "call_id": f"{tag}-{number:08d}", "customer": generator.choice(customers), "ip": "203.0.113.5",
            "cli": f"4420{generator.randint(0, 99_999_999):08d}",
            "dst": f"{generator.choice(prefixes)}{generator.randint(0, 999_999):06d}",
            "start": begin.isoformat(), "answer": answer.isoformat() if answer else None, "end": end.isoformat(),
            "sip_code": 200 if answered else generator.choice((486, 487, 503, 404)),
            "release_reason": "Downstream BYE" if answered else "", "provider": provider,
            "pdd_ms": generator.randint(200, 4000)})
    return records


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import Sum

    from trunkline.cdrs.models import Cdr, Rollup
    from trunkline.cdrs.rating import RatingContext
    from trunkline.cdrs.services.ingest import ATTNAMES, cdrs_ingest, check_records, rate_rows
    from trunkline.customers.models import Customer
    from trunkline.ledger.models import LedgerEntry

    call_command("migrate", verbosity=0)
    generator = random.Random(SEED)
    customers, provider, prefixes = _world(generator)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)  # after the cards went live
    records = _records(generator, args.rows, customers, provider, prefixes, start, "ingest")

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    result = cdrs_ingest(records=records, source="api")
    ingest_seconds = time.perf_counter() - started
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    assert (result.new, result.errors) == (args.rows, []), (result.new, result.errors[:5])
    charged = LedgerEntry.objects.filter(kind="charge").count()
    balances = Customer.objects.aggregate(total=Sum("balance"))["total"]
    assert balances == LedgerEntry.objects.aggregate(total=Sum("amount"))["total"]
    assert Rollup.objects.aggregate(total=Sum("attempts"))["total"] == args.rows

    # The replay: every record a duplicate, nothing written.
    started = time.perf_counter()
    replay = cdrs_ingest(records=records, source="api")
    replay_seconds = time.perf_counter() - started
    assert (replay.new, replay.duplicates) == (0, args.rows)

    # The peers' way on the same kind of CDRs, rated beforehand (not timed): per CDR an INSERT, an UPDATE of the
    # balance and a COMMIT.
    baseline_records = _records(generator, args.baseline_rows, customers, provider, prefixes, start, "peer")
    rows, errors = check_records(baseline_records)
    assert not errors, errors[:5]
    rated = rate_rows(rows, source="api", context=RatingContext())
    quote = connection.ops.quote_name
    fields = [field for field in Cdr._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    insert = (f"INSERT INTO {quote(Cdr._meta.db_table)} ({columns}) "
              f"VALUES ({', '.join(['%s'] * len(fields))})")
    update = f"UPDATE {quote(Customer._meta.db_table)} SET balance = balance - %s WHERE id = %s"
    adapt = connection.ops.adapt_datetimefield_value
    times = {field.attname for field in fields if field.get_internal_type() == "DateTimeField"}
    params = [[adapt(values[name]) if name in times and values[name] is not None else values[name]
               for name in ATTNAMES] for values in rated]
    started = time.perf_counter()
    for values, row in zip(rated, params, strict=True):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(insert, row)
            cursor.execute(update, [values["ledger_total"], values["customer_id"]])
    baseline_seconds = time.perf_counter() - started

    Path(args.json_out).write_text(json.dumps({
        "backend": args.backend, "rows": args.rows, "ingest_seconds": ingest_seconds, "charged": charged,
        "replay_seconds": replay_seconds, "baseline_rows": args.baseline_rows, "baseline_seconds": baseline_seconds,
    }))


def report(runs: list[dict[str, Any]]) -> None:
    print(f"CDR ingest with ledger entries and rollups, target >= {TARGET_PER_SECOND:,} CDRs/s and >= "
          f"{TARGET_RATIO:.0f}x the row-at-a-time loop")
    print(f"{'backend':<10} {'CDRs':>8} {'ingest s':>9} {'CDRs/s':>9} {'replay/s':>9} {'peer CDRs':>10} "
          f"{'peer CDRs/s':>12} {'ratio':>7}  result")
    for run in runs:
        if "error" in run:
            print(f"{run['backend']:<10} {run['error']}")
            continue
        rate = run["rows"] / run["ingest_seconds"]
        peer = run["baseline_rows"] / run["baseline_seconds"]
        ratio = rate / peer
        verdict = "PASS" if rate >= TARGET_PER_SECOND and ratio >= TARGET_RATIO else "FAIL"
        print(f"{run['backend']:<10} {run['rows']:>8,} {run['ingest_seconds']:>9.2f} {rate:>9,.0f} "
              f"{run['rows'] / run['replay_seconds']:>9,.0f} {run['baseline_rows']:>10,} {peer:>12,.0f} "
              f"{ratio:>6.1f}x  {verdict}")
    print("ingest = cdrs_ingest() of API records: validated, rated, inserted, one charge entry per charged CDR, "
          "balances, rollups; replay = the same records again (all duplicates); peer = per CDR INSERT + UPDATE "
          "balance + COMMIT of pre-rated CDRs; ratio = ingest CDRs/s / peer CDRs/s")


def main(argv: list[str] | None = None) -> int:
    parser = child_parser(__doc__, rows=100_000, rows_help="CDRs ingested")
    parser.add_argument("--baseline-rows", type=int, default=5_000, help="CDRs of the row-at-a-time loop "
                                                                          "(default 5000)")
    parser.add_argument("--profile", action="store_true", help="print the ingest's cProfile (to stderr)")
    parser.set_defaults(backend="postgres")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.baseline_rows < 1:
        parser.error("--rows and --baseline-rows must be at least 1")
    if args.child:
        child(args)
        return 0
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    runs = []
    for backend in backends:
        log(f"{backend}: ingesting {args.rows:,} CDRs, then {args.baseline_rows:,} row at a time")
        child_args = ["--rows", str(args.rows), "--baseline-rows", str(args.baseline_rows)]
        runs.append(run_child(script=__file__, backend=backend, database=BENCH_DB, keep=args.keep,
                              child_args=child_args + (["--profile"] if args.profile else [])))
    report(runs)
    return 0  # a benchmark reports; it does not fail the build


if __name__ == "__main__":
    sys.exit(main())
