"""Customer bulk import benchmark: a 200,000-row CSV imported through the API's import code, per backend.

DESIGN.md, "Performance targets": customer bulk import, 200k rows <= 60 s in <= 300 MB.

    .venv/bin/python bench/customer_import.py [--rows N] [--backend sqlite|postgres|both] [--keep]

Each backend runs in its own child process against a fresh database (bench/harness.py). The child times
`import_csv()` with CustomerSerializer over the file opened as an upload is (streamed, every row validated as an
API request, written with its audit entry, all or nothing) and reports the process's peak resident memory.

A benchmark is not a test: the exit code is 0 whatever the figures; a miss is printed as FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import ROOT, child_parser, log, run_child

TARGET_SECONDS = 60.0
TARGET_MB = 300.0
BENCH_DB = "trunkline_customers_bench"
HEADER = "name,currency,status,debit_limit,tax_rate,country,channels,cps,tags,portal_access,paypal_email\n"
CURRENCIES = ("USD", "EUR", "GBP")


def generate_csv(path: Path, rows: int) -> None:
    with path.open("w") as file:
        file.write(HEADER)
        for number in range(rows):
            file.write(f"Carrier {number:07d},{CURRENCIES[number % 3]},active,{number % 1000}.50,20,GB,"
                       f"{number % 120},{number % 20},\"wholesale, tier{number % 5}\",true,"
                       f"billing{number}@carrier.example\n")


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection

    from trunkline.audit.models import ObjectChange
    from trunkline.core.bulk_import import import_csv
    from trunkline.core.context import change_context
    from trunkline.customers.api.serializers import CustomerSerializer
    from trunkline.customers.models import Customer

    call_command("migrate", verbosity=0)
    ready_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    with open(args.csv, "rb") as file, change_context(source="command"):
        result = import_csv(serializer_class=CustomerSerializer, source=file, context={},
                            required_columns=("name", "currency"))
    seconds = time.perf_counter() - started
    assert result.written and not result.errors, result.summary
    Path(args.json_out).write_text(json.dumps({
        "backend": args.backend, "vendor": connection.vendor, "rows": Customer.objects.count(), "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ready_mb": ready_mb,
        "audit_entries": ObjectChange.objects.filter(object_type__model="customer").count(),
    }))


def report(runs: list[dict[str, Any]], rows: int) -> None:
    print(f"Customer bulk import, {rows:,} rows, target <= {TARGET_SECONDS:.0f} s in <= {TARGET_MB:.0f} MB")
    print(f"{'backend':<10} {'seconds':>8} {'rows/s':>8} {'peak MB':>8} {'before MB':>10} {'audit':>7}  result")
    for run in runs:
        if "error" in run:
            print(f"{run['backend']:<10} {run['error']}")
            continue
        verdict = "PASS" if run["seconds"] <= TARGET_SECONDS and run["peak_mb"] <= TARGET_MB else "FAIL"
        print(f"{run['backend']:<10} {run['seconds']:>8.1f} {run['rows'] / run['seconds']:>8,.0f} "
              f"{run['peak_mb']:>8.0f} {run['ready_mb']:>10.0f} {run['audit_entries']:>7}  {verdict}")
    print("peak MB = the whole process's peak resident memory; before MB = after Django and the migrations")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = child_parser(__doc__, rows=200_000, rows_help="rows in the file")
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
    work = Path(tempfile.mkdtemp(prefix="trunkline-customers-csv-"))
    try:
        csv_path = work / "customers.csv"
        generate_csv(csv_path, args.rows)
        log(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.1f} MB)")
        backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
        runs = [run_child(script=__file__, backend=backend, database=BENCH_DB, keep=args.keep,
                          child_args=["--rows", str(args.rows), "--csv", str(csv_path)]) for backend in backends]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(runs, args.rows)
    return 0  # a benchmark reports; it does not fail the build


if __name__ == "__main__":
    sys.exit(main())
