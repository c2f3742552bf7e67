"""Rate deck import benchmark: a 500,000-row CSV imported and activated through the service, per backend.

DESIGN.md, "Performance targets": 500,000 rows <= 30 s with per-row errors (peers.md §4: ASTPP breaks at
10-15k rows, CGRateS took 45-60 min for 170k).

    .venv/bin/python bench/rate_import.py [--rows N] [--backend sqlite|postgres|both] [--keep]

The CSV is generated once, deterministically (same seed, same file), in the export's layout. Each backend runs
in its own child process against a fresh database (the settings read DATABASE_URL once, at import): SQLite in a
temporary TRUNKLINE_VAR_DIR, PostgreSQL in a dedicated `trunkline_rates_bench` database created and dropped here
through the server's `postgres` database (BENCH_POSTGRES_URL); no other database is touched. The child times
`rate_card_import()` (parse, validate every row, write, activate, audit) end to end, checks the active revision
holds every row, then times in the same run a baseline: a plain `executemany` INSERT of the same, already
parsed rows into the same table, which is what the database alone needs. `ratio` = import / baseline.

A benchmark is not a test: the exit code is 0 whatever the figures; a miss is printed as FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import ROOT, child_parser, log, run_child

SEED = 20261128
TARGET_SECONDS = 30.0
BENCH_DB = "trunkline_rates_bench"
# Prefix lengths of a wholesale deck, as bench/prefix.py draws them.
LENGTH_WEIGHTS = {3: 3, 4: 10, 5: 20, 6: 30, 7: 25, 8: 10, 9: 2}
NAMES = ["Mobile", "Landline", "Premium", "Special Services", "Mobile Vodafone", "Mobile Orange", "Fixed Capital",
         "Fixed Regional", "Toll Free", "Satellite"]
INCREMENTS = [(1, 1), (6, 6), (30, 6), (60, 60), (60, 6)]



def generate_csv(rows: int, seed: int = SEED) -> str:
    """Header plus `rows` unique prefixes with believable rates and increments; the same text for a seed."""
    generator = random.Random(seed)
    lengths, weights = list(LENGTH_WEIGHTS), list(LENGTH_WEIGHTS.values())
    prefixes: set[str] = set()
    while len(prefixes) < rows:
        length = generator.choices(lengths, weights)[0]
        prefixes.add(str(generator.randint(1, 9)) + "".join(generator.choices("0123456789", k=length - 1)))
    lines = ["prefix,name,rate,connection_fee,mcd,pulse,grace,status"]
    for prefix in sorted(prefixes):
        mcd, pulse = generator.choice(INCREMENTS)
        fee = "0.000000" if generator.random() < 0.9 else f"0.{generator.randint(1, 9999):06d}"
        status = "blocked" if generator.random() < 0.01 else "active"
        lines.append(f"{prefix},{generator.choice(NAMES)},0.{generator.randint(1000, 250_000):06d},{fee},{mcd},"
                     f"{pulse},0,{status}")
    return "\n".join(lines) + "\n"


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection, transaction

    from trunkline.audit.models import ObjectChange
    from trunkline.core.context import change_context
    from trunkline.routing.models import Rate, RateCard, RateRevision
    from trunkline.routing.ratefile import COLUMNS, parse_rates
    from trunkline.routing.services.ratecards import rate_card_import

    call_command("migrate", verbosity=0)
    text = Path(args.csv).read_text()
    with change_context(source="command"):
        card = RateCard(name="Bench deck", kind="customer", currency="USD")
        card.full_clean()
        card.save()

    started = time.perf_counter()
    parsed = parse_rates(text)
    parse_seconds = time.perf_counter() - started
    assert not parsed.errors, parsed.errors

    changes_before = ObjectChange.objects.count()
    started = time.perf_counter()
    with change_context(source="command"):
        result = rate_card_import(card=card, text=text)
    import_seconds = time.perf_counter() - started
    assert not result.errors, result.errors
    card.refresh_from_db()
    stored = Rate.objects.filter(revision=card.active_revision).count()
    assert stored == args.rows == card.active_revision.row_count, (stored, args.rows)
    audit_entries = ObjectChange.objects.count() - changes_before

    # Baseline: the same rows, already parsed, in one plain executemany INSERT, in one transaction.
    with change_context(source="command"):
        baseline_revision = RateRevision.objects.create(card=card, number=2, source="import")
    table = Rate._meta.db_table
    placeholders = ", ".join(["%s"] * (len(COLUMNS) + 1))
    params = [(baseline_revision.pk, *row) for row in parsed.rows]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} (revision_id, {', '.join(COLUMNS)}) VALUES ({placeholders})",
                           params)
    baseline_seconds = time.perf_counter() - started

    Path(args.json_out).write_text(json.dumps({
        "backend": args.backend, "vendor": connection.vendor, "rows": stored, "import_seconds": import_seconds,
        "parse_seconds": parse_seconds, "baseline_seconds": baseline_seconds, "audit_entries": audit_entries,
    }))


def run_backend(backend: str, csv_path: Path, args: argparse.Namespace) -> dict[str, Any]:
    log(f"{backend}: importing {args.rows:,} rows")
    return run_child(script=__file__, backend=backend, database=BENCH_DB, keep=args.keep,
                     child_args=["--rows", str(args.rows), "--csv", str(csv_path)])


def report(runs: list[dict[str, Any]], rows: int) -> None:
    print(f"Rate deck import, {rows:,} rows, target <= {TARGET_SECONDS:.0f} s (import + validate + write + "
          f"activate)")
    print(f"{'backend':<10} {'import s':>9} {'rows/s':>10} {'parse s':>8} {'baseline s':>11} {'ratio':>6} "
          f"{'audit':>6}  result")
    for run in runs:
        if "error" in run:
            print(f"{run['backend']:<10} {run['error']}")
            continue
        seconds = run["import_seconds"]
        verdict = "PASS" if seconds <= TARGET_SECONDS else "FAIL"
        print(f"{run['backend']:<10} {seconds:>9.2f} {run['rows'] / seconds:>10,.0f} {run['parse_seconds']:>8.2f} "
              f"{run['baseline_seconds']:>11.2f} {seconds / run['baseline_seconds']:>5.2f}x "
              f"{run['audit_entries']:>6}  {verdict}")
    print("baseline = a plain executemany INSERT of the same parsed rows; ratio = import / baseline; "
          "audit = log entries the import wrote")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = child_parser(__doc__, rows=500_000, rows_help="rows in the deck")
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    work = Path(tempfile.mkdtemp(prefix="trunkline-rates-csv-"))
    try:
        started = time.perf_counter()
        csv_path = work / "deck.csv"
        csv_path.write_text(generate_csv(args.rows))
        log(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.1f} MB) in "
            f"{time.perf_counter() - started:.1f} s")
        backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
        runs = [run_backend(backend, csv_path, args) for backend in backends]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(runs, args.rows)
    return 0  # a benchmark reports; it does not fail the build


if __name__ == "__main__":
    sys.exit(main())
