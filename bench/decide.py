"""Call decision benchmark: route_call(), the switch's entry, in process on DESIGN.md's anchor data set, one
core, against decide() (the traced decision) and the peers' SQL way.

    .venv/bin/python bench/decide.py [--customers N] [--prefixes N] [--calls N] [--rounds R] [--seed S]
                                     [--backend sqlite|postgres|both|none] [--sql-calls N] [--sql-seconds S]
                                     [--fast-only] [--keep]

Builds a RoutingSnapshot of 10,000 customers with 2 IP-auth entries each (20,000; every tenth a /29 network,
the rest single addresses), one ingress route each, CLI rules on 10% of them, a customer card and 5 provider
cards of 100,000 prefixes each (bench/prefix.py's generator), indexes it (SnapshotIndex, then the fast path's
FastIndex over it: build time and resident-memory growth of each are printed) and times random (source,
12-digit number) calls through `trunkline.switch.fast.route_call`: the fast path (per IP-auth entry a prebuilt
context, per route policy and destination a plan with the ordered, profit-checked egress and the first
increment in integer micro-units, no trace) and decide() for calls outside its shape. Throughput is the
median of R rounds over the same calls; the first pass (every number new to the index, so the plans are
worked out there) is timed apart and given as a percentage of that median; p50/p99 come from a pass timing
each call. The snapshot is frozen out of the collector's reach (gc.freeze) before the first pass, as a switch
process would after loading it; the collector stays on for that pass and is off for the timed rounds. The
same is then measured for decide() alone, on a fresh index of its own (unless --fast-only), and both ways must
give the same decision, trace aside, for every call of the set (the count is printed; tests/switch/
test_fast_path.py checks it on calls of every shape).

Then, in the same run, the same data set goes into a database as plain tables with their own DDL: a temporary
SQLite file by default; PostgreSQL in a dedicated `trunkline_decide_bench` database created and dropped through
the server's `postgres` database (BENCH_POSTGRES_URL, bench/harness.py's helpers; no child process, since no
Django settings are read). The first --sql-calls of the same calls (time-boxed by --sql-seconds) are decided
the way ASTPP / MagnusBilling / A2Billing do it (peers.md §5), with raw DB-API cursors and bound parameters
(psycopg prepares repeated statements), no ORM:

  (a) identify: ASTPP's CIDR math in SQL, each IP-auth entry stored as an integer range (INET_ATON of the
      network and broadcast address), `WHERE ip_start <= ip AND ip_end >= ip`, most specific first, joined to
      the account row for status, balance and debit limit and to its route for the rate card (ASTPP's
      pricelist_id) and profit assurance;
  (b) sell rate: one query on the customer card with every prefix of the number, `prefix IN (...) ORDER BY
      LENGTH(prefix) DESC LIMIT 1` (MagnusBilling's searchTariff, A2Billing's dialprefix IN);
  (c) buy rates: one query over the card's provider cards with the same IN list, `ORDER BY LENGTH(prefix) DESC,
      rate` (ASTPP's termination LCR), keeping the longest row per card in Python, then the same filters
      (blocked, profit assurance) and LCR order as decide().

The SQL way must pick the same customer, sell prefix and provider order as route_call() for every sampled call;
the agreement count is printed. Its rate is the median of R equal slices of its calls, so the ratio divides
median by median. Targets: route_call() >= 100x the SQL way's rate, first pass >= 80% of the warm rate. A
benchmark is not a test: the exit code is 0.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from harness import PG_ADMIN_URL, log, pg_admin, pg_url  # bench/ is the script's directory, so on the path
from prefix import build_cards, percentile, timer_overhead_ns

from trunkline.contracts.snapshot import (
    CliRule,
    Customer,
    CustomerStatus,
    Gateway,
    IngressRoute,
    IpAuth,
    Provider,
    RateCard,
    RateRow,
    RateStatus,
    RoutingSnapshot,
)
from trunkline.switch.counters import Counters, MemoryCounters
from trunkline.switch.decide import decide
from trunkline.switch.egress import PROFIT_CHECK_SECONDS
from trunkline.switch.fast import FastIndex, route_call
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.rating import first_increment_charge, max_duration, rate_call
from trunkline.switch.types import Call, Decision

SEED = 20261128
# DESIGN.md, "Performance targets": call decisions in process, 100k-prefix cards, 10k customers.
TARGET_PER_SECOND = 100_000
TARGET_P99_US = 50.0
CUSTOMER_CARD = 1
TARGET_SQL_RATIO = 100.0
TARGET_COLD_SHARE = 0.8  # DESIGN.md: the first pass over unseen numbers at >= 80 % of the warm rate
BENCH_DB = "trunkline_decide_bench"


def build_snapshot(generator: random.Random, customers: int, prefixes: int) -> tuple[RoutingSnapshot, MemoryCounters]:
    """The snapshot, and the counters holding the customers' balances (not in the snapshot since schema v3)."""
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
    counters = MemoryCounters()
    for number in range(1, customers + 1):
        counters.set_balance(number, Decimal(generator.randint(1, 500)))
    return RoutingSnapshot(
        revision=1, generated_at=datetime.now(UTC),
        rate_cards=(customer_card, *provider_cards),
        customers=tuple(Customer(number, f"Customer {number}", channels=100, cps=10)
                        for number in range(1, customers + 1)),
        ip_auths=tuple(ip_auths),
        providers=tuple(Provider(100 + number, f"Carrier {number}", (Gateway(f"gw{number}.example"),))
                        for number in range(1, 6)),
        ingress_routes=tuple(IngressRoute(number, number, CUSTOMER_CARD, channels=50, cps=5,
                                          profit_assurance=number % 2 == 0) for number in range(1, customers + 1)),
        cli_rules=tuple(CliRule(number, number, cli=r"^\d{6,15}$") for number in range(1, customers + 1, 10)),
    ), counters


def make_calls(generator: random.Random, snapshot: RoutingSnapshot, count: int) -> list[Call]:
    sources = [entry.ip.split("/")[0] for entry in snapshot.ip_auths]
    return [Call(generator.choice(sources), str(generator.randrange(10**11, 10**12)),
                 str(generator.randrange(10**9, 10**10))) for _ in range(count)]


class Answer(NamedTuple):
    """What both ways must agree on for a call."""

    customer: int | None
    sell: str | None  # the customer card's prefix, when it is a row that can route
    providers: tuple[int, ...]  # provider card ids in the order they are tried


def decision_answer(decision: Decision) -> Answer:
    return Answer(decision.customer.id if decision.customer is not None else None,
                  decision.rate.prefix if decision.rate is not None else None,
                  tuple(item.card_id for item in decision.routes))


# Plain tables in the shape of the peers' (ASTPP's accounts/ip_map/routes/outbound routes, MagnusBilling's
# pkg_prefix+pkg_rate folded into one rates table), with the indexes those queries need.
SCHEMA = (
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, status VARCHAR(30) NOT NULL, balance NUMERIC(20, 6) NOT NULL, "
    "debit_limit NUMERIC(20, 6) NOT NULL)",
    "CREATE TABLE ip_map (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, ip_start BIGINT NOT NULL, "
    "ip_end BIGINT NOT NULL)",
    # In the identify query's order, so the most specific block holding an address is the first index entry read.
    "CREATE INDEX ip_map_range ON ip_map (ip_start, ip_end DESC)",
    "CREATE TABLE routes (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, card_id INTEGER NOT NULL, "
    "profit_assurance BOOLEAN NOT NULL, max_duration INTEGER NOT NULL)",
    "CREATE INDEX routes_account ON routes (account_id)",
    "CREATE TABLE providers (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, status VARCHAR(30) NOT NULL)",
    "CREATE TABLE cards (id INTEGER PRIMARY KEY, provider_id INTEGER)",
    "CREATE TABLE card_egress (card_id INTEGER NOT NULL, egress_card_id INTEGER NOT NULL, "
    "position INTEGER NOT NULL, PRIMARY KEY (card_id, egress_card_id))",
    "CREATE TABLE rates (card_id INTEGER NOT NULL, prefix VARCHAR(20) NOT NULL, rate NUMERIC(12, 6) NOT NULL, "
    "connection_fee NUMERIC(12, 6) NOT NULL, mcd INTEGER NOT NULL, pulse INTEGER NOT NULL, grace INTEGER NOT NULL, "
    "status VARCHAR(10) NOT NULL, PRIMARY KEY (card_id, prefix))",
)
RATE_COLUMNS = "card_id, prefix, rate, connection_fee, mcd, pulse, grace, status"


def table_rows(snapshot: RoutingSnapshot, counters: MemoryCounters) -> dict[str, list[tuple[object, ...]]]:
    """The snapshot as rows of SCHEMA's tables, money as text (exact in NUMERIC; SQLite keeps 6 places in REAL)."""
    ranges = []
    for entry in snapshot.ip_auths:
        network = ipaddress.ip_network(entry.ip, strict=False)
        ranges.append((entry.id, entry.customer_id, int(network.network_address), int(network.broadcast_address)))
    return {
        "accounts": [(customer.id, str(customer.status), str(counters.balance(customer.id)), str(customer.debit_limit))
                     for customer in snapshot.customers],
        "ip_map": ranges,
        "routes": [(route.id, route.customer_id, route.rate_card_id, route.profit_assurance, route.max_duration or 0)
                   for route in snapshot.ingress_routes],
        "providers": [(provider.id, provider.name, str(provider.status)) for provider in snapshot.providers],
        "cards": [(card.id, card.provider_id) for card in snapshot.rate_cards],
        "card_egress": [(card.id, egress, position) for card in snapshot.rate_cards
                        for position, egress in enumerate(card.egress_card_ids)],
        "rates": [(card.id, row.prefix, str(row.rate), str(row.connection_fee), row.mcd, row.pulse, row.grace,
                   str(row.status)) for card in snapshot.rate_cards for row in card.rows],
    }


def load(connection: Any, backend: str, snapshot: RoutingSnapshot, counters: MemoryCounters) -> None:
    placeholder = "?" if backend == "sqlite" else "%s"
    cursor = connection.cursor()
    for statement in SCHEMA:
        cursor.execute(statement)
    for table, rows in table_rows(snapshot, counters).items():
        if backend == "postgres" and table == "rates":
            with cursor.copy(f"COPY rates ({RATE_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join([placeholder] * len(rows[0]))
            cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    connection.commit()
    cursor.execute("ANALYZE")
    connection.commit()


IDENTIFY_SQL = (
    "SELECT a.id, a.status, a.balance, a.debit_limit, r.card_id, r.profit_assurance, r.max_duration "
    "FROM ip_map m JOIN accounts a ON a.id = m.account_id JOIN routes r ON r.account_id = a.id "
    # CIDR blocks nest or are disjoint: scanning back from the address, the first block holding it is the most
    # specific one. (The bench's addresses are not shared, so the tech-prefix tie-break never comes up.)
    "WHERE m.ip_start <= {p} AND m.ip_end >= {p} ORDER BY m.ip_start DESC, m.ip_end LIMIT 1")
SELL_SQL = ("SELECT prefix, rate, connection_fee, mcd, pulse, grace, status FROM rates "
            "WHERE card_id = {p} AND prefix IN ({prefixes}) ORDER BY LENGTH(prefix) DESC LIMIT 1")
BUY_SQL = (
    "SELECT r.card_id, r.prefix, r.rate, r.connection_fee, r.mcd, r.pulse, r.grace, r.status, p.name, p.status, "
    "e.position FROM card_egress e JOIN rates r ON r.card_id = e.egress_card_id JOIN cards c ON c.id = r.card_id "
    "JOIN providers p ON p.id = c.provider_id "
    "WHERE e.card_id = {p} AND r.prefix IN ({prefixes}) ORDER BY LENGTH(r.prefix) DESC, r.rate, e.position")


def sql_decider(connection: Any, backend: str, digits: int) -> Callable[[Call], Answer]:
    """The peers' decision for one call: three queries, then the same money, filters and LCR order in Python."""
    placeholder = "?" if backend == "sqlite" else "%s"
    prefixes = ", ".join([placeholder] * digits)  # every prefix of the number, 1..digits long
    identify = IDENTIFY_SQL.format(p=placeholder)
    sell_sql = SELL_SQL.format(p=placeholder, prefixes=prefixes)
    buy_sql = BUY_SQL.format(p=placeholder, prefixes=prefixes)
    money: Callable[[Any], Decimal] = Decimal if backend == "postgres" else lambda value: Decimal(str(value))
    cursor = connection.cursor()
    active, blocked = str(CustomerStatus.ACTIVE), str(RateStatus.BLOCKED)

    def row_of(prefix: str, rate: Any, fee: Any, mcd: int, pulse: int, grace: int, status: str) -> RateRow:
        return RateRow(prefix, money(rate), connection_fee=money(fee), mcd=mcd, pulse=pulse, grace=grace,
                       status=RateStatus(status))

    def decide_sql(call: Call) -> Answer:
        address = int(ipaddress.ip_address(call.source_ip))
        cursor.execute(identify, (address, address))
        found = cursor.fetchone()
        if found is None:
            return Answer(None, None, ())
        customer, status, balance, debit_limit, card, profit_assurance, route_max = found
        if status != active:
            return Answer(customer, None, ())
        number = call.destination
        candidates = [number[:length] for length in range(len(number), 0, -1)]
        cursor.execute(sell_sql, (card, *candidates))
        found = cursor.fetchone()
        if found is None or found[6] == blocked:
            return Answer(customer, None, ())
        sell = row_of(*found)
        available = money(balance) + money(debit_limit)
        if available < first_increment_charge(sell):
            return Answer(customer, sell.prefix, ())
        seconds = max_duration(sell, available)
        if route_max and (seconds is None or seconds > route_max):
            seconds = route_max
        cursor.execute(buy_sql, (card, *candidates))
        longest: dict[int, tuple[Any, ...]] = {}
        for row in cursor.fetchall():
            longest.setdefault(row[0], row)  # longest prefix first, so the first row per card is its match
        kept = []
        for egress_card, *terms, provider, provider_status, position in longest.values():
            if terms[-1] == blocked or provider_status != "active":
                continue
            buy = row_of(*terms)
            if profit_assurance and not all(rate_call(sell, length) >= rate_call(buy, length)
                                            for length in PROFIT_CHECK_SECONDS):
                continue
            kept.append((buy.rate, buy.connection_fee, provider, position, egress_card))
        kept.sort()
        return Answer(customer, sell.prefix, tuple(item[-1] for item in kept))

    return decide_sql


@contextmanager
def scratch_database(backend: str, keep: bool) -> Iterator[Any]:
    """A DB-API connection to an empty database of `backend`, removed afterwards unless `keep`."""
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="trunkline-decide-bench-"))
        connection = sqlite3.connect(directory / "bench.sqlite3")
        try:
            yield connection
        finally:
            connection.close()
            if keep:
                log(f"sqlite: kept {directory}")
            else:
                shutil.rmtree(directory, ignore_errors=True)
        return
    import psycopg

    pg_admin(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {BENCH_DB}")
    connection = psycopg.connect(pg_url(BENCH_DB), connect_timeout=5)
    try:
        yield connection
    finally:
        connection.close()
        if keep:
            log(f"postgres: kept database {BENCH_DB}")
        else:
            pg_admin(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


class SqlRun(NamedTuple):
    backend: str
    calls: int
    per_second: float  # the median of equal slices' rates
    p50: float  # µs
    p99: float
    agreeing: int
    mismatches: list[tuple[Call, Answer, Answer]]
    load_seconds: float


def run_sql(backend: str, snapshot: RoutingSnapshot, counters: MemoryCounters, calls: Sequence[Call],
            expected: Sequence[Answer], seconds: float, keep: bool, rounds: int) -> SqlRun:
    with scratch_database(backend, keep) as connection:
        started = time.perf_counter()
        load(connection, backend, snapshot, counters)
        loaded = time.perf_counter() - started
        digits = {len(call.destination) for call in calls}
        assert len(digits) == 1, "one statement shape: every number has the same length"
        decide_sql = sql_decider(connection, backend, digits.pop())
        for call in calls[:20]:  # warm-up: statement caches, prepared statements (psycopg prepares on reuse)
            decide_sql(call)
        clock = time.perf_counter_ns
        latencies: list[int] = []
        answers: list[Answer] = []
        deadline = clock() + int(seconds * 1e9)
        for call in calls:
            began = clock()
            answers.append(decide_sql(call))
            ended = clock()
            latencies.append(ended - began)
            if ended > deadline:
                break
    mismatches = [(call, want, got) for call, want, got in zip(calls, expected, answers, strict=False) if want != got]
    size = max(1, len(latencies) // rounds)
    slices = [latencies[start:start + size] for start in range(0, size * rounds, size) if latencies[start:start + size]]
    per_second = statistics.median(len(part) / (sum(part) / 1e9) for part in slices)
    return SqlRun(backend, len(answers), per_second, percentile(latencies, 0.5),
                  percentile(latencies, 0.99), len(answers) - len(mismatches), mismatches, loaded)


class Timing(NamedTuple):
    cold: float  # decisions/s on the first pass
    rates: list[float]  # decisions/s of each timed round
    p50: float  # µs
    p99: float

    @property
    def warm(self) -> float:
        return statistics.median(self.rates)


def time_way(way: Callable[[Any, Counters, Call, random.Random], Decision], target: Any, counters: Counters,
             calls: Sequence[Call], rounds: int, rng: random.Random) -> Timing:
    """A first pass with the collector on, `rounds` timed rounds and a pass timing each call, with it off."""
    gc.collect()
    gc.freeze()  # the snapshot and index are permanent, as in the switch: the collector never walks them
    began = time.perf_counter()
    for call in calls:
        way(target, counters, call, rng)
    cold = len(calls) / (time.perf_counter() - began)
    gc.collect()
    gc.disable()
    rates = []
    for _ in range(rounds):
        began = time.perf_counter()
        for call in calls:
            way(target, counters, call, rng)
        rates.append(len(calls) / (time.perf_counter() - began))
    clock = time.perf_counter_ns
    latencies = []
    for call in calls:
        began_ns = clock()
        way(target, counters, call, rng)
        latencies.append(clock() - began_ns)
    gc.enable()
    return Timing(cold, rates, percentile(latencies, 0.5), percentile(latencies, 0.99))


def report(name: str, timing: Timing) -> None:
    rounds = ", ".join(f"{rate:,.0f}" for rate in timing.rates)
    print(f"{name}: {timing.warm:,.0f} decisions/s (median of {len(timing.rates)} rounds: {rounds}); first pass "
          f"(every number new to the index) {timing.cold:,.0f}/s = {timing.cold / timing.warm:.0%} of warm; "
          f"p50 {timing.p50:.1f} µs, p99 {timing.p99:.1f} µs")


def resident_mb() -> float:
    """This process's resident set (Linux /proc): what a build adds is the difference before and after."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--prefixes", type=int, default=100_000, help="prefixes per card")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both", "none"), default="sqlite",
                        help="database(s) for the SQL baseline (default sqlite; none skips it)")
    parser.add_argument("--sql-calls", type=int, default=3_000, help="calls decided the SQL way, per backend")
    parser.add_argument("--sql-seconds", type=float, default=30.0, help="time box of the SQL way, per backend")
    parser.add_argument("--fast-only", action="store_true",
                        help="time route_call() only: no second index for decide() (saves memory at 1M prefixes)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    options = parser.parse_args()

    generator = random.Random(options.seed)
    print(f"Call decisions: {options.customers:,} customers, {2 * options.customers:,} IP-auth entries, "
          f"1 customer + 5 provider cards x {options.prefixes:,} prefixes, CLI rules on 10%, seed {options.seed}")
    gc.collect()
    memory = resident_mb()
    started = time.perf_counter()
    snapshot, counters = build_snapshot(generator, options.customers, options.prefixes)
    built, after_snapshot = time.perf_counter(), resident_mb()
    index = SnapshotIndex(snapshot)
    indexed, after_index = time.perf_counter(), resident_mb()
    fast = FastIndex(index)
    contexts, after_fast = time.perf_counter(), resident_mb()
    print(f"  snapshot built in {built - started:.1f} s (+{after_snapshot - memory:,.0f} MB resident); "
          f"SnapshotIndex in {indexed - built:.1f} s (+{after_index - after_snapshot:,.0f} MB); "
          f"FastIndex in {contexts - indexed:.2f} s (+{after_fast - after_index:,.0f} MB)")
    calls = make_calls(generator, snapshot, options.calls)
    rng = random.Random(options.seed)

    fast_timing = time_way(route_call, fast, counters, calls, options.rounds, rng)
    # Counted on a pass of its own: holding 100,000 decisions during the timed passes would time the collector.
    outcomes = Counter(f"{decision.code} {decision.reason}" for call in calls
                       for decision in (route_call(fast, counters, call, rng),))
    untraced = sum(not route_call(fast, counters, call, rng).trace for call in calls)
    print(f"  after the passes, the plans worked out on first use: +{resident_mb() - after_fast:,.0f} MB resident")
    print("  outcomes: " + ", ".join(f"{reason} x{count:,}" for reason, count in outcomes.most_common()))
    print(f"  answered by the fast path: {untraced:,} of {len(calls):,} calls; the rest by decide()")
    print()
    report("route_call() (fast path + decide() fallback)", fast_timing)
    print(f"  (latencies include the clock's own {timer_overhead_ns(len(calls)) / 1000:.2f} µs)")
    verdict = "PASS" if fast_timing.warm >= TARGET_PER_SECOND and fast_timing.p99 <= TARGET_P99_US else "FAIL"
    print(f"  {verdict}: target >= {TARGET_PER_SECOND:,}/s and p99 <= {TARGET_P99_US:.0f} µs")
    share = fast_timing.cold / fast_timing.warm
    print(f"  {'PASS' if share >= TARGET_COLD_SHARE else 'FAIL'}: first pass >= {TARGET_COLD_SHARE:.0%} of warm")
    if not options.fast_only:
        traced_index = SnapshotIndex(snapshot)  # its own: nothing route_call() memoised may help decide() here
        traced = time_way(decide, traced_index, counters, calls, options.rounds, rng)
        report("decide() (traced, as Simulate runs it)", traced)
        print(f"  route_call()/decide(): {fast_timing.warm / traced.warm:.2f}x warm, "
              f"{fast_timing.cold / traced.cold:.2f}x first pass")
        disagreeing = sum(route_call(fast, counters, call, rng)._replace(trace=())
                          != decide(traced_index, counters, call, rng)._replace(trace=()) for call in calls)
        print(f"  {'FAIL' if disagreeing else 'PASS'}: same decision both ways (every field but the trace): "
              f"{len(calls) - disagreeing:,}/{len(calls):,}")
        del traced_index

    backends = {"both": ["sqlite", "postgres"], "none": []}.get(options.backend, [options.backend])
    if not backends:
        print("SQL baseline: skipped (--backend none)")
        return
    sample = calls[:options.sql_calls]
    expected = [decision_answer(route_call(fast, counters, call, rng)) for call in sample]
    print()
    print(f"SQL baseline, the peers' way (identify by IP range, 1 sell + 1 buy query listing all "
          f"{len(sample[0].destination)} prefixes of the number, longest first), first {len(sample):,} calls of the "
          f"same set, time box {options.sql_seconds:.0f} s per backend:")
    for backend in backends:
        log(f"{backend}: loading {sum(len(card.rows) for card in snapshot.rate_cards):,} rate rows")
        try:
            run = run_sql(backend, snapshot, counters, sample, expected, options.sql_seconds, options.keep,
                          options.rounds)
        except Exception as error:  # e.g. no PostgreSQL server: the in-process figures above still stand
            where = f" at {PG_ADMIN_URL}" if backend == "postgres" else ""
            print(f"  {backend:<9} unavailable{where}: {error}")
            continue
        ratio = fast_timing.warm / run.per_second
        print(f"  {backend:<9} {run.per_second:>9,.0f} decisions/s (median of {options.rounds} slices), p50 "
              f"{run.p50:,.0f} µs, p99 {run.p99:,.0f} µs over {run.calls:,} calls (data loaded in "
              f"{run.load_seconds:.1f} s); same customer, sell prefix and provider order as route_call(): "
              f"{run.agreeing:,}/{run.calls:,}")
        for call, want, got in run.mismatches[:5]:
            print(f"    MISMATCH {call.source_ip} {call.destination}: route_call() {want}, SQL {got}")
        verdict = "PASS" if ratio >= TARGET_SQL_RATIO else "FAIL"
        print(f"  {backend:<9} ratio route_call()/SQL, median by median: {ratio:,.0f}x  {verdict}: target >= "
              f"{TARGET_SQL_RATIO:.0f}x")


if __name__ == "__main__":
    main()
