"""Customers board benchmark: server time of list, search, filter, sort and group at 100,000 customers.

DESIGN.md, "Performance targets": list/search/filter/sort <= 150 ms server time with 100k customers.

    .venv/bin/python bench/board.py [--rows N] [--backend sqlite|postgres|both] [--repeat R] [--keep]

Each backend runs in its own child process (the settings read DATABASE_URL once, at import) against a
fresh database: SQLite in a temporary TRUNKLINE_VAR_DIR, PostgreSQL in a dedicated `trunkline_bench`
database created and dropped here through the server's `postgres` database (BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres); the server's other databases are never touched. Every operation is
timed through the whole Django stack (middleware, view, queries, template or serializer) with the test
client, on the HTML board and on the API, and next to it the raw SQL the page fundamentally needs
(the page of rows plus its count, or the GROUP BY), so `ratio` = view p50 / SQL p50 shows what Django
adds. Machines are shared and noisy: operations are interleaved round by round so a noisy moment hits
them all alike, and the ratios are the figures to compare between runs.

A benchmark is not a test: the exit code is 0 whatever the figures; misses are printed as FAIL.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness import ROOT, child_parser, log, run_child

TARGET_P95_MS = 150.0
PER_PAGE = 50
SEED = 20261128
BENCH_DB = "trunkline_bench"
# The maintenance database used to create and drop BENCH_DB; override for another server.

# ---------------------------------------------------------------------------------------------------------
# Data: believable wholesale-VoIP customers, the same for a given seed and row count.
# ---------------------------------------------------------------------------------------------------------

NAME_FIRST = ["Acme", "Atlas", "Aurora", "Beacon", "Blue", "Bright", "Cedar", "Cobalt", "Coral", "Crescent",
              "Crystal", "Delta", "Eagle", "Echo", "Ember", "Evergreen", "Falcon", "Fusion", "Granite", "Harbor",
              "Horizon", "Iron", "Jade", "Keystone", "Lumen", "Magnet", "Maple", "Meridian", "Metro", "Nimbus",
              "Nova", "Northwind", "Oak", "Omega", "Onyx", "Orbit", "Pacific", "Pinnacle", "Pioneer", "Polar",
              "Prime", "Quantum", "Radiant", "Redwood", "Sapphire", "Sierra", "Silver", "Skyline", "Solar",
              "Sterling", "Summit", "Swift", "Tidal", "Titan", "Union", "Vantage", "Vertex", "Vista", "Zenith",
              "Zephyr"]
NAME_SECOND = ["Air", "Arc", "Band", "Bay", "Beam", "Bridge", "Cloud", "Coast", "Core", "Crest", "Cross", "Dale",
               "Fiber", "Field", "Gate", "Grid", "Hill", "Lake", "Land", "Light", "Line", "Link", "Loop", "Mesh",
               "Mile", "Park", "Path", "Peak", "Point", "Port", "Range", "Ridge", "River", "Rock", "Route", "Sound",
               "Spark", "Spring", "Star", "Stone", "Stream", "Tower", "Trail", "Valley", "Wave", "Way", "Wind",
               "Wire", "Wood", "Works"]
NAME_SUFFIX = ["Telecom", "Telecom Ltd", "Voice", "VoIP", "Communications", "Networks", "Connect",
               "Carrier Services", "Call Centre", "Dialer", "Telecom GmbH", "Telecom BV", "Telecom SAS",
               "Telecom SL", "Telecom Inc", "Voice LLC", "Networks Ltd", "Telco", "Interactive", "Wholesale",
               "Solutions", "Contact Centre", "Mobile", "Digital", "Systems", "Global", "Media", "Talk", "Tel",
               "Link Ltd", "Ring", "Calls", "Direct", "Exchange", "Labs"]

# country: (weight, local currency, domestic tax %, streets, [(city, region, postcode pattern, weight)])
# Postcode patterns: '#' a digit, '@' a capital letter.
PLACES: dict[str, tuple[float, str, str, list[str], list[tuple[str, str, str, float]]]] = {
    "US": (18, "USD", "0", ["Main Street", "Broadway", "Market Street", "Park Avenue", "Commerce Street"],
           [("New York", "NY", "100##", 5), ("Dallas", "TX", "752##", 3), ("Miami", "FL", "331##", 3),
            ("Los Angeles", "CA", "900##", 3), ("Chicago", "IL", "606##", 2), ("Atlanta", "GA", "303##", 2)]),
    "GB": (12, "GBP", "20", ["High Street", "Station Road", "Bishopsgate", "Deansgate", "King Street"],
           [("London", "Greater London", "EC#@ #@@", 6), ("Manchester", "Greater Manchester", "M# #@@", 3),
            ("Birmingham", "West Midlands", "B# #@@", 2), ("Glasgow", "Scotland", "G# #@@", 1)]),
    "DE": (7, "EUR", "19", ["Hauptstrasse", "Zeil", "Friedrichstrasse", "Bahnhofstrasse"],
           [("Frankfurt am Main", "Hessen", "603##", 3), ("Berlin", "Berlin", "101##", 3),
            ("Munich", "Bayern", "803##", 2), ("Hamburg", "Hamburg", "203##", 2)]),
    "NL": (5, "EUR", "21", ["Damrak", "Kalverstraat", "Coolsingel"],
           [("Amsterdam", "Noord-Holland", "10## @@", 3), ("Rotterdam", "Zuid-Holland", "30## @@", 1)]),
    "FR": (5, "EUR", "20", ["Rue de Rivoli", "Avenue des Champs-Elysees", "Rue de la Republique"],
           [("Paris", "Ile-de-France", "750##", 4), ("Lyon", "Auvergne-Rhone-Alpes", "6900#", 1),
            ("Marseille", "Provence-Alpes-Cote d'Azur", "130##", 1)]),
    "ES": (4, "EUR", "21", ["Gran Via", "Calle de Alcala", "Passeig de Gracia"],
           [("Madrid", "Madrid", "280##", 3), ("Barcelona", "Catalonia", "080##", 2)]),
    "IT": (3, "EUR", "22", ["Via Roma", "Corso Buenos Aires", "Via del Corso"],
           [("Milan", "Lombardy", "201##", 2), ("Rome", "Lazio", "001##", 1)]),
    "MT": (0.35, "EUR", "18", ["Republic Street", "Merchants Street"],
           [("Valletta", "South Eastern", "VLT ####", 1)]),
    "PL": (2, "PLN", "23", ["Marszalkowska", "Nowy Swiat"], [("Warsaw", "Masovian", "00-###", 1)]),
    "RO": (2, "RON", "19", ["Calea Victoriei", "Bulevardul Unirii"], [("Bucharest", "Bucharest", "0#####", 1)]),
    "TR": (2, "USD", "0", ["Istiklal Caddesi", "Bagdat Caddesi"], [("Istanbul", "Istanbul", "34###", 1)]),
    "IN": (6, "USD", "0", ["Marine Drive", "MG Road", "Linking Road"],
           [("Mumbai", "Maharashtra", "4000##", 3), ("Bengaluru", "Karnataka", "5600##", 2),
            ("New Delhi", "Delhi", "1100##", 2)]),
    "PK": (3, "USD", "0", ["Shahrah-e-Faisal", "Mall Road"],
           [("Karachi", "Sindh", "7####", 2), ("Lahore", "Punjab", "54###", 1)]),
    "BD": (2, "USD", "0", ["Gulshan Avenue", "Motijheel"], [("Dhaka", "Dhaka", "12##", 1)]),
    "AE": (3, "USD", "0", ["Sheikh Zayed Road", "Al Wasl Road"], [("Dubai", "Dubai", "00000", 1)]),
    "EG": (1, "USD", "0", ["Tahrir Street", "Corniche El Nil"], [("Cairo", "Cairo", "11###", 1)]),
    "NG": (4, "USD", "0", ["Broad Street", "Adeola Odeku Street"],
           [("Lagos", "Lagos", "1012##", 3), ("Abuja", "FCT", "9001##", 1)]),
    "GH": (2, "USD", "0", ["Oxford Street", "Independence Avenue"], [("Accra", "Greater Accra", "GA-###-####", 1)]),
    "KE": (2, "USD", "0", ["Kenyatta Avenue", "Moi Avenue"], [("Nairobi", "Nairobi", "00100", 1)]),
    "ZA": (2, "ZAR", "15", ["Long Street", "Rivonia Road"],
           [("Johannesburg", "Gauteng", "2###", 1), ("Cape Town", "Western Cape", "8###", 1)]),
    "PH": (3, "USD", "0", ["Roxas Boulevard", "Ayala Avenue"], [("Manila", "Metro Manila", "1###", 1)]),
    "ID": (2, "USD", "0", ["Jalan Sudirman", "Jalan Thamrin"], [("Jakarta", "DKI Jakarta", "10###", 1)]),
    "SG": (2, "SGD", "9", ["Orchard Road", "Raffles Place"], [("Singapore", "", "0#####", 1)]),
    "HK": (2, "HKD", "0", ["Queen's Road Central", "Nathan Road"], [("Hong Kong", "", "", 1)]),
    "BR": (3, "USD", "0", ["Avenida Paulista", "Rua Oscar Freire"],
           [("Sao Paulo", "SP", "01###-###", 2), ("Rio de Janeiro", "RJ", "20###-###", 1)]),
    "MX": (3, "USD", "0", ["Paseo de la Reforma", "Avenida Insurgentes"], [("Mexico City", "CDMX", "06###", 1)]),
    "CO": (2, "USD", "0", ["Carrera Septima", "Calle 72"], [("Bogota", "Bogota D.C.", "1100##", 1)]),
    "CA": (3, "CAD", "13", ["King Street West", "Yonge Street", "Rue Sainte-Catherine"],
           [("Toronto", "ON", "M5@ #@#", 2), ("Montreal", "QC", "H#@ #@#", 1), ("Vancouver", "BC", "V6@ #@#", 1)]),
    "AU": (2, "AUD", "10", ["George Street", "Collins Street"],
           [("Sydney", "NSW", "2000", 1), ("Melbourne", "VIC", "3000", 1)]),
}
# (tag, probability); every customer also carries exactly one of prepaid / postpaid.
TAGS = [("wholesale", 0.35), ("retail", 0.15), ("call-centre", 0.12), ("cli-route", 0.20), ("non-cli", 0.10),
        ("premium", 0.08), ("vip", 0.07), ("trial", 0.05), ("us-48", 0.06), ("sms", 0.04), ("a-z", 0.10),
        ("direct-route", 0.06), ("high-asr", 0.05), ("fraud-watch", 0.02)]
STATUSES = [("active", 72), ("inactive", 15), ("pending_approval", 8), ("penalty", 5)]
DEBIT_LIMITS = [500, 1000, 2000, 2500, 5000, 7500, 10000, 15000, 20000, 25000, 50000, 100000]
NOTES = ["Prefers invoices by email.", "Escalate disputes to the account manager.", "Weekly settlement agreed.",
         "Do not raise CPS without approval.", "Ported from the old platform."]

# What the searches look for: a city met a few hundred times (the generated Maltese customers, ~0.3 %),
# and, for "almost nothing", one customer's full name (chosen from the generated data).
SEARCH_SOME = "valletta"


def _postcode(rng: random.Random, pattern: str) -> str:
    return "".join(str(rng.randrange(10)) if c == "#" else chr(65 + rng.randrange(26)) if c == "@" else c
                   for c in pattern)


def _names(rng: random.Random, count: int) -> list[str]:
    """Unique names: a sample of the first x second x suffix combinations, numbered past their 105,000."""
    combos = len(NAME_FIRST) * len(NAME_SECOND) * len(NAME_SUFFIX)
    names = []
    for index in rng.sample(range(combos), min(count, combos)):
        first, rest = divmod(index, len(NAME_SECOND) * len(NAME_SUFFIX))
        second, suffix = divmod(rest, len(NAME_SUFFIX))
        names.append(f"{NAME_FIRST[first]} {NAME_SECOND[second]} {NAME_SUFFIX[suffix]}")
    names += [f"{names[i % combos]} {i // combos + 1}" for i in range(combos, count)]
    return names


def generate_customers(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    countries = list(PLACES)
    country_weights = [PLACES[c][0] for c in countries]
    statuses = [s for s, _ in STATUSES]
    status_weights = [w for _, w in STATUSES]
    rows = []
    for name in _names(rng, count):
        country = rng.choices(countries, country_weights)[0]
        _, local_currency, tax, streets, cities = PLACES[country]
        city, region, postcode_pattern, _ = rng.choices(cities, [c[3] for c in cities])[0]
        slug = re.sub(r"[^a-z0-9]", "", name.lower())
        postpaid = rng.random() < 0.4
        tags = [tag for tag, p in TAGS if rng.random() < p] + ["postpaid" if postpaid else "prepaid"]
        if postpaid:
            limit = rng.choice(DEBIT_LIMITS) if rng.random() < 0.7 else rng.randrange(5, 800) * 50
            balance = Decimal(rng.randint(-limit * 100, 2_000_000)) / 100
        else:
            limit = 0
            balance = Decimal(rng.randint(0, 500_000)) / 100
        rows.append({
            "name": name,
            "status": rng.choices(statuses, status_weights)[0],
            # Wholesale carriers often bill abroad in dollars whatever the local currency.
            "currency": local_currency if rng.random() < 0.7 else "USD",
            "country": country,
            "city": city,
            "region": region,
            "postcode": _postcode(rng, postcode_pattern),
            "address_line1": f"{rng.randint(1, 400)} {rng.choice(streets)}",
            "address_line2": (rng.choice(["Suite", "Floor", "Unit", "Office"]) + f" {rng.randint(1, 40)}"
                              if rng.random() < 0.2 else ""),
            "website": f"https://www.{slug}.example" if rng.random() < 0.8 else "",
            "paypal_email": (f"{rng.choice(['billing', 'accounts', 'finance'])}@{slug}.example"
                             if rng.random() < 0.5 else ""),
            "debit_limit": Decimal(limit),
            "minimum_payment": Decimal(rng.choice([0, 10, 20, 25, 50, 100, 250, 500])),
            "tax_rate": Decimal(tax),
            "channels": rng.choice([0, 10, 30, 60, 100, 120, 240, 300, 500, 1000]),
            "cps": rng.choice([0, 1, 2, 5, 10, 20, 30, 50, 100]),
            "tags": tags,
            "portal_access": rng.random() < 0.85,
            "email_verification": rng.random() < 0.3,
            "mobile_verification": rng.random() < 0.15,
            "approved_clis_only": rng.random() < 0.1,
            "vars": "[cli]\npersist = true\n" if rng.random() < 0.1 else "",
            "notes": rng.choice(NOTES) if rng.random() < 0.1 else "",
            "balance": balance,
        })
    return rows


# ---------------------------------------------------------------------------------------------------------
# Operations: the board request, the API request and the raw SQL each one stands for.
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Operation:
    key: str
    label: str
    html: dict[str, Any]  # query string of /customers/
    api: dict[str, Any] | None  # query string of /api/v1/customers/; None = the API has no such operation
    where: str = ""  # baseline SQL: WHERE clause ("" = none), %s placeholders
    params: list[Any] = field(default_factory=list)
    order: str = "name"
    offset: int = 0
    group: str = ""  # baseline SQL: GROUP BY column instead of a page


def operations(vendor: str, rare_name: str) -> list[Operation]:
    # Written the way Django compiles `icontains` on each vendor, so the baseline meets the same
    # indexes (or the same full scans) as the view does.
    def icontains(column: str) -> str:
        if vendor == "postgresql":
            return f"UPPER({column}::text) LIKE UPPER(%s)"
        return f"{column} LIKE %s ESCAPE '\\'"

    search_columns = ("name", "paypal_email", "website", "tags", "address_line1", "address_line2", "city",
                      "region", "postcode", "country")
    search_where = " OR ".join(icontains(c) for c in search_columns)

    def search_params(term: str) -> list[str]:
        return [f"%{term}%"] * len(search_columns)

    last_page = 500
    return [
        Operation("list", "list: first page, by name", {}, {}),
        Operation("search_some", f"search q={SEARCH_SOME}", {"q": SEARCH_SOME}, {"q": SEARCH_SOME},
                  search_where, search_params(SEARCH_SOME)),
        Operation("search_rare", f"search q={rare_name}", {"q": rare_name}, {"q": rare_name},
                  search_where, search_params(rare_name)),
        Operation("filter_status_country", "filter status=active, country=DE",
                  {"status": "active", "country": "DE"}, {"status": "active", "country": "DE"},
                  "status = %s AND country = %s", ["active", "DE"]),
        Operation("filter_tag", "filter tag=vip", {"tag": "vip"}, {"tag": "vip"}, icontains("tags"), ['%"vip"%']),
        Operation("sort_debit_limit", "sort -debit_limit", {"ordering": "-debit_limit"},
                  {"ordering": "-debit_limit"}, order="debit_limit DESC, id DESC"),
        Operation("sort_name_page", f"sort name, page {last_page}", {"ordering": "name", "page": last_page},
                  {"ordering": "name", "offset": (last_page - 1) * PER_PAGE, "limit": PER_PAGE},
                  order="name, id", offset=(last_page - 1) * PER_PAGE),
        Operation("group_status", "group_by=status", {"group_by": "status"}, None, group="status"),
        Operation("group_country", "group_by=country", {"group_by": "country"}, None, group="country"),
    ]


def baseline_sql(op: Operation, one_currency: bool) -> list[tuple[str, list[Any]]]:
    """The statements the page fundamentally needs, in plain SQL."""
    where = f" WHERE {op.where}" if op.where else ""
    table = "customers_customer"
    if op.group:
        # The board's default visible number columns; amounts (balance, debit limit) are only added up when the
        # rows share one currency, as the board does. One GROUP BY is all it takes: the totals row is the sum of
        # the groups.
        columns = ("balance", "debit_limit", "channels", "cps") if one_currency else ("channels", "cps")
        aggregates = ", ".join(f"SUM({c}), AVG({c})" for c in columns)
        return [(f"SELECT {op.group}, COUNT(id), {aggregates} FROM {table}{where} GROUP BY {op.group} "
                 f"ORDER BY {op.group}", op.params)]
    return [
        (f"SELECT * FROM {table}{where} ORDER BY {op.order} LIMIT {PER_PAGE} OFFSET {op.offset}", op.params),
        (f"SELECT COUNT(*) FROM {table}{where}", op.params),
    ]


# ---------------------------------------------------------------------------------------------------------
# Child: one backend, in a process of its own.
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    op: str
    label: str
    surface: str  # html, api, sql
    p50: float | None = None
    p95: float | None = None
    matched: int | None = None
    queries: int | None = None
    note: str = ""


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile: an observed value, no interpolation."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]



def load(rows: int) -> float:
    from trunkline.customers.models import Customer

    started = time.perf_counter()
    data = generate_customers(rows)
    log(f"  generated {rows:,} customers in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    # bulk_create sends no signals, so no change context (and no audit log) for setup data.
    for start in range(0, len(data), 1000):
        Customer.objects.bulk_create([Customer(**row) for row in data[start:start + 1000]])
    elapsed = time.perf_counter() - started
    log(f"  loaded them in {elapsed:.1f} s")
    return elapsed


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from trunkline.core.context import change_context
    from trunkline.core.models import User

    vendor = connection.vendor
    log(f"{args.backend}: migrating a fresh database")
    call_command("migrate", verbosity=0)
    load_seconds = load(args.rows)
    if vendor == "postgresql":
        # A live database has been vacuumed and analysed by autovacuum; do it now rather than wait for it.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE customers_customer")
            cursor.execute("SHOW server_version")
            version = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        import sqlite3

        version = f"SQLite {sqlite3.sqlite_version}"

    with change_context(source="command"):
        user = User.objects.create_user(username="bench", password="Bench-Password-2026", role=User.Role.OPERATOR)
        web = Client(HTTP_HOST="localhost")
        web.force_login(user)
    token = Token.objects.create(user=user)
    api = APIClient(HTTP_HOST="localhost", HTTP_ACCEPT="application/json")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    from trunkline.customers.models import Customer

    rare_name = Customer.objects.order_by("pk").values_list("name", flat=True)[args.rows // 3]
    ops = operations(vendor, rare_name)

    def html_call(op: Operation) -> Callable[[], Any]:
        def call() -> Any:
            response = web.get("/customers/", op.html)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}")
            return response

        return call

    def api_call(op: Operation) -> Callable[[], Any]:
        def call() -> Any:
            response = api.get("/api/v1/customers/", op.api)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}")
            return response

        return call

    one_currency = Customer.objects.values("currency").distinct().count() <= 1

    def sql_call(op: Operation) -> Callable[[], Any]:
        statements = baseline_sql(op, one_currency)

        def call() -> Any:
            results = []
            with connection.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute(sql, params)
                    results.append(cursor.fetchall())
            return results

        return call

    calls: list[tuple[Result, Callable[[], Any]]] = []
    results: list[Result] = []
    for op in ops:
        sql = Result(op.key, op.label, "sql")
        baseline = sql_call(op)()
        sql.matched = len(baseline[0]) if op.group else baseline[1][0][0]
        entries = [(sql, sql_call(op)), (Result(op.key, op.label, "html"), html_call(op))]
        if op.api is not None:
            entries.append((Result(op.key, op.label, "api"), api_call(op)))
        else:
            results.append(Result(op.key, op.label, "api", note="n/a: the API has no group_by"))
        for result, call in entries:
            if result.surface != "sql":
                # Queries per request, counted once outside the timed runs (after a first call, which
                # creates the operator's preferences row).
                try:
                    call()
                    with CaptureQueriesContext(connection) as captured:
                        response = call()
                except Exception as error:
                    # One broken page is reported as such; the other operations are still measured.
                    result.note = f"ERROR {type(error).__name__}: {str(error).splitlines()[0][:80]}"
                    log(f"{args.backend}: {op.label} ({result.surface}) failed: {error!r}")
                    continue
                result.queries = len(captured)
                result.matched = matched(result.surface, response, op)
                if result.matched != sql.matched:
                    result.note = f"matched {result.matched}, baseline SQL {sql.matched}"
            calls.append((result, call))
        results.extend(entry[0] for entry in entries)

    log(f"{args.backend}: {args.warmup} warm-up and {args.repeat} timed rounds of {len(calls)} calls")
    for _ in range(args.warmup):
        for _, call in calls:
            call()
    samples: dict[int, list[float]] = {id(result): [] for result, _ in calls}
    import gc

    for _ in range(args.repeat):
        # Round by round, every operation once: noise on a shared machine then hits all of them alike.
        gc.collect()
        for result, call in calls:
            started = time.perf_counter()
            call()
            samples[id(result)].append((time.perf_counter() - started) * 1000)
    for result, _ in calls:
        result.p50 = statistics.median(samples[id(result)])
        result.p95 = percentile(samples[id(result)], 95)

    order = {op.key: index for index, op in enumerate(ops)}
    surfaces = {"html": 0, "api": 1, "sql": 2}
    results.sort(key=lambda r: (order[r.op], surfaces[r.surface]))
    Path(args.json_out).write_text(json.dumps({
        "backend": args.backend, "version": version, "rows": args.rows, "load_seconds": load_seconds,
        "results": [asdict(r) for r in results],
    }))


def matched(surface: str, response: Any, op: Operation) -> int:
    """The row (or group) count the response reports, to check the baseline SQL asks the same question."""
    if surface == "api":
        return response.json()["count"]
    html = response.content.decode()
    if op.group:
        return len(re.findall(r"<tr>\s*<td>", html.split('data-testid="groups"', 1)[1].split("</tbody>", 1)[0]))
    found = re.search(r'data-testid="total">([\d,]+)<', html)
    return int(found.group(1).replace(",", "")) if found else -1


# ---------------------------------------------------------------------------------------------------------
# Parent: a fresh database per backend, one child each, one report.
# ---------------------------------------------------------------------------------------------------------


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    return run_child(script=__file__, backend=backend, database=BENCH_DB, keep=args.keep, child_args=[
        "--rows", str(args.rows), "--repeat", str(args.repeat), "--warmup", str(args.warmup)])


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    width = 118
    print()
    print("=" * width)
    print(f"Customers board — {args.rows:,} customers, {args.repeat} timed runs after {args.warmup} warm-ups, "
          f"server time in ms; target p95 <= {TARGET_P95_MS:.0f} ms")
    print("ratio = view p50 / raw-SQL p50 of the same question (what Django, DRF and the template add)")
    print("=" * width)
    header = (f"{'backend':<10} {'operation':<36} {'surface':<7} {'matched':>8} {'queries':>7} {'p50':>8} "
              f"{'p95':>8} {'SQL p50':>8} {'ratio':>7}  result")
    failures: list[str] = []
    passed = total = 0
    for run in runs:
        print()
        if "error" in run:
            print(f"{run['backend']}: NOT RUN — {run['error']}")
            failures.append(f"{run['backend']}: not run")
            continue
        print(f"{run['backend']}: {run['version']}, {run['rows']:,} rows loaded in {run['load_seconds']:.1f} s")
        print(header)
        print("-" * width)
        baseline = {r["op"]: r for r in run["results"] if r["surface"] == "sql"}
        for r in run["results"]:
            if r["surface"] == "sql":
                continue
            sql = baseline[r["op"]]
            if r["p50"] is None:
                broken = not r["note"].startswith("n/a")
                if broken:
                    total += 1
                    failures.append(f"{run['backend']} {r['surface']} {r['label']}: {r['note']}")
                print(f"{run['backend']:<10} {r['label']:<36} {r['surface']:<7} {'':>8} {'':>7} {'':>8} {'':>8} "
                      f"{'':>8} {'':>7}  {'FAIL <<<<<<<< ' if broken else ''}{r['note']}")
                continue
            total += 1
            ratio = r["p50"] / sql["p50"] if sql["p50"] else math.inf
            ok = r["p95"] <= TARGET_P95_MS
            passed += ok
            verdict = "PASS" if ok else "FAIL <<<<<<<<"
            if not ok:
                failures.append(f"{run['backend']} {r['surface']} {r['label']}: p95 {r['p95']:.1f} ms")
            note = f"  ({r['note']})" if r["note"] else ""
            print(f"{run['backend']:<10} {r['label']:<36} {r['surface']:<7} {r['matched']:>8,} {r['queries']:>7} "
                  f"{_ms(r['p50']):>8} {_ms(r['p95']):>8} {_ms(sql['p50']):>8} {ratio:>6.1f}x  {verdict}{note}")
    print()
    print("=" * width)
    print(f"SUMMARY: {passed} of {total} operations within {TARGET_P95_MS:.0f} ms p95")
    if failures:
        print("!" * width)
        print(f"!!! FAIL: {len(failures)} over target or not run:")
        for failure in failures:
            print(f"!!!   {failure}")
        print("!" * width)
    else:
        print("PASS: every operation is within target.")
    print("=" * width)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = child_parser(__doc__, rows=100_000, rows_help="customers to load")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per operation (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    args = parser.parse_args(argv)
    if args.rows < 3 or args.repeat < 1 or args.warmup < 0:
        parser.error("--rows must be at least 3, --repeat at least 1, --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    runs = [run_backend(backend, args) for backend in backends]
    report(runs, args)
    return 0  # a benchmark reports; it does not fail the build


if __name__ == "__main__":
    sys.exit(main())
