"""Stats and Summary benchmark: p50/p95 of the rollup queries over 10 million CDRs' worth of rollups (PostgreSQL).

Issue 11's target: Stats and Summary over 10 million CDRs, p95 <= 300 ms on PostgreSQL.

    .venv/bin/python bench/stats.py [--rows N] [--repeat R] [--keep] [--reuse]

--reuse measures again on the database an earlier run kept (--keep) instead of generating it anew (about half an
hour at 10 million CDRs); it is migrated first, so new indexes are built on the kept rows, and kept afterwards.

A fresh database `trunkline_bench_stats` is created through the server's `postgres` database (BENCH_POSTGRES_URL,
default postgresql://postgres@127.0.0.1:5432/postgres), migrated, and filled in SQL with generate_series: rollups
for 10,000 customers, 20 providers and 50 destinations over 90 days of UTC hours, as rollups_apply would have
written them for about --rows CDRs (200 busy customers call every hour to three destinations; 1,800 call in
15% of the hours, 8,000 in 5%). Code and peak rollups alike. Each query is timed through trunkline.cdrs.stats
(ORM, conversion, ratios) as the pages call it: traffic by hour (24 h), day (31 days) and month (90 days) for a
busy customer and for a provider, per provider, SIP codes, the Main tab's Summary (24 h, daily, monthly, and the
panel's HTML), the board's page of 50 customers and the carrier table (ASR/ACD per carrier over 30 days, of one
customer on its Stats tab, of all customers on the Provider page).

Baseline in the same run: the CDRs behind provider 1's rollups (one twentieth of the traffic) are written out as a
narrow raw table (start, customer, provider, answered, duration, charge; indexed by provider and start) and the
question "provider 1 by day over 31 days" is answered from it too: ratio = raw-table p50 / rollup p50, i.e.
how much the rollups save on that one question even against a table 20x smaller than the full CDR set.

A benchmark is not a test: the exit code is 0 whatever the figures; misses are printed as FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import ROOT, child_parser, log, pg_url, run_child

TARGET_P95_MS = 300.0
BENCH_DB = "trunkline_bench_stats"
DAYS = 90
CUSTOMERS = 10_000
PROVIDERS = 20
DESTINATIONS = 50
# The last generated hour: the benchmark's "now" is inside it, so the 24 h views hit data.
END = datetime(2026, 12, 1, tzinfo=UTC)


def generate(connection: Any, cdrs: int) -> dict[str, int]:
    """Fill the rollup tables in SQL; attempts scale so the rollups stand for about `cdrs` CDRs."""
    scale = cdrs / 11_470_000  # about what the shape below gives at scale 1
    start = END - timedelta(days=DAYS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        # Busy customers 1..200: every hour, three (provider, destination) keys, ~5.5 attempts each.
        # The others: customers 201..2000 in 15% of hours, 2001..10000 in 5%, one key, ~3 attempts.
        cursor.execute(f"""
            INSERT INTO cdrs_rollup (hour, customer_id, provider_id, destination, attempts, connected, duration,
                customer_billed, provider_billed, customer_charge, provider_charge, pdd_ms, pdd_calls,
                channel_breaches, cps_breaches, last_call_at)
            SELECT hour, customer_id, provider_id, destination, attempts, connected, connected * acd,
                connected * acd, connected * acd, round(connected * acd * 0.0002, 6),
                round(connected * acd * 0.00015, 6),
                attempts * 1800, attempts, (attempts > 9)::int, 0, hour + interval '59 minutes'
            FROM (
                SELECT hour, customer_id, provider_id, destination, attempts,
                       greatest(0, least(attempts, round(attempts * (0.35 + random() * 0.4))::int)) AS connected,
                       30 + (random() * 240)::int AS acd
                FROM (
                    SELECT %s::timestamptz + h * interval '1 hour' AS hour, c AS customer_id,
                           1 + (c * 7 + k * 5 + h / 24) %% {PROVIDERS} AS provider_id,
                           'Destination ' || lpad(((c * 13 + k * 17) %% {DESTINATIONS})::text, 2, '0') AS destination,
                           greatest(1, round((1 + random() * 9) * %s)::int) AS attempts
                    FROM generate_series(0, {DAYS * 24 - 1}) h, generate_series(1, 200) c, generate_series(0, 2) k
                    UNION ALL
                    SELECT %s::timestamptz + h * interval '1 hour', c, 1 + (c * 7 + h / 24) %% {PROVIDERS},
                           'Destination ' || lpad(((c * 13) %% {DESTINATIONS})::text, 2, '0'),
                           greatest(1, round((1 + random() * 4) * %s)::int)
                    FROM generate_series(0, {DAYS * 24 - 1}) h, generate_series(201, {CUSTOMERS}) c
                    WHERE random() < CASE WHEN c <= 2000 THEN 0.15 ELSE 0.05 END
                ) keys
            ) rows
        """, [start, scale, start, scale])
        cursor.execute("""
            INSERT INTO cdrs_coderollup (hour, customer_id, provider_id, sip_code, calls)
            SELECT hour, customer_id, provider_id, 200, sum(connected) FROM cdrs_rollup
            WHERE connected > 0 GROUP BY hour, customer_id, provider_id
            UNION ALL
            SELECT hour, customer_id, provider_id, (ARRAY[404, 486, 487, 503])[1 + customer_id % 4],
                   sum(attempts - connected) FROM cdrs_rollup
            WHERE attempts > connected GROUP BY hour, customer_id, provider_id
        """)
        cursor.execute("""
            INSERT INTO cdrs_peakrollup (hour, scope, scope_id, channels, cps)
            SELECT hour, 'customer', customer_id, greatest(1, sum(attempts) / 3), greatest(1, sum(attempts) / 20)
            FROM cdrs_rollup GROUP BY hour, customer_id
            UNION ALL
            SELECT hour, 'provider', provider_id, greatest(1, sum(attempts) / 3), greatest(1, sum(attempts) / 20)
            FROM cdrs_rollup GROUP BY hour, provider_id
        """)
        # The baseline's raw CDRs: provider 1's calls, one row per attempt, spread over their hour.
        cursor.execute("""
            CREATE TABLE bench_raw_cdr (start timestamptz NOT NULL, customer_id bigint NOT NULL,
                provider_id bigint NOT NULL, answered boolean NOT NULL, duration integer NOT NULL,
                charge numeric(20, 6) NOT NULL)
        """)
        cursor.execute("""
            INSERT INTO bench_raw_cdr
            SELECT hour + random() * interval '1 hour', customer_id, provider_id, n <= connected,
                   CASE WHEN n <= connected THEN duration / connected ELSE 0 END,
                   CASE WHEN n <= connected THEN round(customer_charge / connected, 6) ELSE 0 END
            FROM cdrs_rollup, generate_series(1, attempts) n WHERE provider_id = 1
        """)
        cursor.execute("CREATE INDEX bench_raw_cdr_provider_start ON bench_raw_cdr (provider_id, start)")
        for table in ("cdrs_rollup", "cdrs_coderollup", "cdrs_peakrollup", "bench_raw_cdr"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        counts = {}
        cursor.execute("SELECT count(*), coalesce(sum(attempts), 0) FROM cdrs_rollup")
        counts["rollup_rows"], counts["cdrs"] = cursor.fetchone()
        for table in ("cdrs_coderollup", "cdrs_peakrollup", "bench_raw_cdr"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return {key: int(value) for key, value in counts.items()}


def kept_counts(connection: Any) -> dict[str, int]:
    """The figures generate() gave for a kept database, after a VACUUM ANALYZE (a migration may have added an
    index: its statistics, and a visibility map for index-only scans)."""
    counts = {}
    with connection.cursor() as cursor:
        for table in ("cdrs_rollup", "cdrs_coderollup", "cdrs_peakrollup", "bench_raw_cdr"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT count(*), coalesce(sum(attempts), 0) FROM cdrs_rollup")
        counts["rollup_rows"], counts["cdrs"] = cursor.fetchone()
        for table in ("cdrs_coderollup", "cdrs_peakrollup", "bench_raw_cdr"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return {key: int(value) for key, value in counts.items()}


def run_reused(args: argparse.Namespace, json_out: Path) -> dict[str, Any]:
    """The child on the kept database (run_child would drop it first)."""
    import psycopg

    try:
        with psycopg.connect(pg_url(BENCH_DB), connect_timeout=5) as conn:
            conn.execute("SELECT 1 FROM cdrs_rollup LIMIT 1")
    except Exception as error:
        return {"backend": "postgres", "error": f"no kept database {BENCH_DB} to reuse (run with --keep once): "
                                                f"{error}"}
    env = {**os.environ, "DATABASE_URL": pg_url(BENCH_DB), "DJANGO_SETTINGS_MODULE": "config.settings",
           "TRUNKLINE_VAR_DIR": str(json_out.parent)}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--backend", "postgres", "--reuse",
               "--repeat", str(args.repeat), "--warmup", str(args.warmup), "--json-out", str(json_out)]
    completed = subprocess.run(command, env=env, cwd=ROOT, check=False)
    if completed.returncode != 0 or not json_out.exists():
        return {"backend": "postgres", "error": f"the benchmark process exited with {completed.returncode}"}
    log(f"postgres: kept database {BENCH_DB}")
    return json.loads(json_out.read_text())


def timed(function: Callable[[], Any], repeat: int, warmup: int) -> tuple[list[float], Any]:
    result = None
    for _ in range(warmup):
        result = function()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - began) * 1000)
    return times, result


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory

    from trunkline.cdrs import stats, stats_charts
    from trunkline.cdrs.summary_views import summary_panel
    from trunkline.customers.models import Customer

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    if args.reuse:
        counts = kept_counts(connection)
        load_seconds = time.perf_counter() - began
        log(f"reused {counts}, migrated and analysed in {load_seconds:.0f} s")
    else:
        counts = generate(connection, args.rows)
        load_seconds = time.perf_counter() - began
        log(f"generated {counts} in {load_seconds:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(",")[0]

    now = END - timedelta(minutes=30)
    stats.timezone = type("FixedNow", (), {"now": staticmethod(lambda: now)})  # the pages' "now" is the data's
    busy, light, provider = 17, 4321, 1
    day, month = now - timedelta(days=31), now - timedelta(days=DAYS)
    hour = now - timedelta(hours=24)
    customer = Customer(pk=busy, name="Busy", currency="USD")
    request = RequestFactory().get(f"/customers/{busy}/?summary=daily")
    page = list(range(1, 51))
    last_30_days = stats_charts.preset_period("30d", None, now)  # the Provider page's and Stats tab's carrier table
    day0 = day.replace(hour=0, minute=0)  # the baseline's question: whole UTC days up to the data's end

    def rollup_provider_days() -> list[dict[str, Any]]:
        return stats.traffic(provider_id=provider, start=day0, end=END, grain="day")

    def raw_provider_days() -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute("""
                SELECT date_trunc('day', start AT TIME ZONE 'UTC'), count(*), count(*) FILTER (WHERE answered),
                       sum(duration), sum(charge)
                FROM bench_raw_cdr WHERE provider_id = %s AND start >= %s AND start < %s GROUP BY 1 ORDER BY 1
            """, [provider, day0, END])
            return cursor.fetchall()

    operations: list[tuple[str, Callable[[], Any]]] = [
        ("traffic customer hour 24h", lambda: stats.traffic(customer_id=busy, start=hour, end=now, grain="hour")),
        ("traffic customer day 31d", lambda: stats.traffic(customer_id=busy, start=day, end=now, grain="day")),
        ("traffic customer month 90d", lambda: stats.traffic(customer_id=busy, start=month, end=now,
                                                             grain="month")),
        ("traffic customer day 31d by provider", lambda: stats.traffic(customer_id=busy, start=day, end=now,
                                                                       grain="day", by_provider=True)),
        ("traffic provider hour 24h", lambda: stats.traffic(provider_id=provider, start=hour, end=now,
                                                            grain="hour")),
        ("traffic provider day 31d", lambda: stats.traffic(provider_id=provider, start=day, end=now, grain="day")),
        ("traffic provider month 90d", lambda: stats.traffic(provider_id=provider, start=month, end=now,
                                                             grain="month")),
        ("codes customer day 31d", lambda: stats.codes(customer_id=busy, start=day, end=now, grain="day")),
        ("codes provider hour 24h", lambda: stats.codes(provider_id=provider, start=hour, end=now, grain="hour")),
        ("codes provider day 31d", lambda: stats.codes(provider_id=provider, start=day, end=now, grain="day")),
        ("summary 24h busy customer", lambda: stats.summary(customer_id=busy, period="24h")),
        ("summary daily busy customer", lambda: stats.summary(customer_id=busy, period="daily")),
        ("summary monthly busy customer", lambda: stats.summary(customer_id=busy, period="monthly")),
        ("summary monthly light customer", lambda: stats.summary(customer_id=light, period="monthly")),
        ("summary panel HTML daily", lambda: summary_panel(request, customer)),
        ("board_live 50 customers", lambda: stats.board_live(page)),
        ("carrier table customer 30d", lambda: stats_charts.carrier_table(period=last_30_days, customer_id=busy)),
        ("carrier table all customers 30d", lambda: stats_charts.carrier_table(period=last_30_days)),
    ]
    results = []
    for label, function in operations:
        times, result = timed(function, args.repeat, args.warmup)
        results.append({"label": label, "p50": statistics.median(times), "p95": p95(times),
                        "rows": len(result) if hasattr(result, "__len__") else 0})
    # Interleaved, so a noisy moment of the shared machine hits both alike.
    baseline_times, rollup_times = [], []
    baseline_rows: Any = None
    check: Any = None
    for _ in range(args.warmup + args.repeat):
        times, baseline_rows = timed(raw_provider_days, 1, 0)
        baseline_times += times
        times, check = timed(rollup_provider_days, 1, 0)
        rollup_times += times
    baseline_times, rollup_times = baseline_times[args.warmup:], rollup_times[args.warmup:]
    same = [(r["attempts"], r["connected"]) for r in check] == [(row[1], row[2]) for row in baseline_rows]
    Path(args.json_out).write_text(json.dumps({
        "backend": args.backend, "version": version, "counts": counts, "load_seconds": load_seconds,
        "results": results, "baseline": {"label": "raw CDRs of provider 1, by day 31d", "p50":
                                         statistics.median(baseline_times), "p95": p95(baseline_times),
                                         "rows": len(baseline_rows), "same_answer": same,
                                         "rollup_p50": statistics.median(rollup_times)},
    }))


def report(run: dict[str, Any], args: argparse.Namespace) -> None:
    width = 100
    print("=" * width)
    print(f"Stats and Summary from rollups — {args.repeat} timed runs after {args.warmup} warm-ups, ms; "
          f"target p95 <= {TARGET_P95_MS:.0f} ms")
    print("=" * width)
    if "error" in run:
        print(f"postgres: NOT RUN — {run['error']}")
        return
    counts = run["counts"]
    print(f"{run['version']}; {counts['cdrs']:,} CDRs' worth of rollups: {counts['rollup_rows']:,} rollup rows, "
          f"{counts['cdrs_coderollup']:,} code rows, {counts['cdrs_peakrollup']:,} peak rows "
          f"({'reused, migrated' if args.reuse else 'generated'} in {run['load_seconds']:.0f} s)")
    print(f"{'operation':<40} {'rows':>6} {'p50':>9} {'p95':>9}  result")
    print("-" * width)
    failures = []
    for r in run["results"]:
        ok = r["p95"] <= TARGET_P95_MS
        if not ok:
            failures.append(r["label"])
        print(f"{r['label']:<40} {r['rows']:>6} {r['p50']:>9.1f} {r['p95']:>9.1f}  {'PASS' if ok else 'FAIL <<<<'}")
    base = run["baseline"]
    print("-" * width)
    print(f"baseline: {base['label']} over {counts['bench_raw_cdr']:,} raw rows: p50 {base['p50']:.1f} ms, "
          f"p95 {base['p95']:.1f} ms ({'same' if base['same_answer'] else 'DIFFERENT'} attempts/connected as the "
          f"rollups)")
    print(f"ratio raw / rollup, same question and range, interleaved (p50): "
          f"{base['p50']:.1f} / {base['rollup_p50']:.1f} ms = {base['p50'] / base['rollup_p50']:.1f}x")
    print("=" * width)
    if failures:
        print(f"FAIL: {len(failures)} over {TARGET_P95_MS:.0f} ms p95: {', '.join(failures)}")
    else:
        print(f"PASS: every query within {TARGET_P95_MS:.0f} ms p95.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = child_parser(__doc__, rows=10_000_000, rows_help="CDRs the rollups stand for")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per query (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--reuse", action="store_true", help="measure on the database a --keep run left (no "
                                                             "generation; migrated, then kept)")
    args = parser.parse_args(argv)
    if args.rows < 100_000 or args.repeat < 1 or args.warmup < 0:
        parser.error("--rows must be at least 100000, --repeat at least 1, --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.reuse:
        with tempfile.TemporaryDirectory(prefix="trunkline-bench-postgres-") as var_dir:
            run = run_reused(args, Path(var_dir) / "results.json")
    else:
        run = run_child(script=__file__, backend="postgres", database=BENCH_DB, keep=args.keep,
                        child_args=["--rows", str(args.rows), "--repeat", str(args.repeat), "--warmup",
                                    str(args.warmup)])
    report(run, args)
    return 0  # a benchmark reports; it does not fail the build


if __name__ == "__main__":
    sys.exit(main())
