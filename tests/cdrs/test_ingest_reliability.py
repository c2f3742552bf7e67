"""Ingest under real concurrency and real crashes (issue 11, Reliability): writer processes and manual adjustments on
one customer at once, and a writer killed with SIGKILL mid-batch then run again. The processes are real
(`trunkline ingest_cdrs`), on this test run's database: SQLite's is a file (WAL, busy timeout), PostgreSQL's a
server database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from tests.routing.helpers import SIMULATE_IP, simulate_world
from trunkline.cdrs.models import Cdr, Rollup
from trunkline.core.context import change_context
from trunkline.core.models import User
from trunkline.customers.models import Customer
from trunkline.ledger.models import LedgerEntry
from trunkline.ledger.services import customer_adjust_balance, entries_total

TRUNKLINE = str(Path(sys.executable).with_name("trunkline"))
WRITERS = 8
PER_WRITER = 10_000
KILLED = 8_000  # CDRs of the writer killed mid-file, in batches of 500


def _database_url() -> str:
    data = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{data['NAME']}"
    credentials = data["USER"] + (f":{data['PASSWORD']}" if data["PASSWORD"] else "")
    return f"postgresql://{credentials}@{data['HOST'] or '127.0.0.1'}:{data['PORT'] or 5432}/{data['NAME']}"


def _env(var_dir: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": _database_url(), "TRUNKLINE_VAR_DIR": str(var_dir)}


def _cdr_file(path: Path, world: Any, prefix: str, count: int) -> Path:
    """`count` answered calls of 1 to 600 s (billed by 6/6 at 0.05/min: charges from 0.0050 to 0.5000)."""
    start = world.t0
    lines = []
    for number in range(count):
        talk = 1 + number % 600
        answer = start + timedelta(seconds=number % 3600)
        lines.append(json.dumps({
            "call_id": f"{prefix}-{number:06d}", "customer": world.customer.pk, "ip": SIMULATE_IP,
            "cli": "441234567890", "dst": "447911123456", "start": _iso(answer - timedelta(seconds=3)),
            "answer": _iso(answer), "end": _iso(answer + timedelta(seconds=talk)), "sip_code": 200,
            "release_reason": "Downstream BYE", "provider": world.cheap.provider_id}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _iso(moment: Any) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def world(db):
    world = simulate_world()
    world.t0 = (timezone.now() + timedelta(seconds=2)).replace(microsecond=0)
    with change_context(source="test"):
        world.operator = User.objects.create_user(username="ops", password="x-Secret-99", role=User.Role.OPERATOR)
    return world


def _ledger_is_exact(world: Any, cdrs: int) -> Decimal:
    """One charge entry per CDR of the gross it holds; the balance is the sum of the entries. Returns the balance."""
    customer = Customer.objects.get(pk=world.customer.pk)
    charges = LedgerEntry.objects.filter(kind="charge")
    assert Cdr.objects.count() == cdrs
    assert charges.count() == cdrs
    assert charges.values("cdr_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    # Summed here, not by the database: SQLite adds decimals as floating point.
    assert _total(charges.values_list("amount", flat=True)) == -_total(Cdr.objects.values_list("ledger_total",
                                                                                               flat=True))
    assert entries_total(LedgerEntry.objects.all()) == customer.balance
    assert Rollup.objects.aggregate(total=Sum("attempts"))["total"] == cdrs
    return customer.balance


def _total(amounts: Any) -> Decimal:
    return sum(amounts.iterator(chunk_size=10_000), Decimal(0))


def _expected_charges(count: int) -> Decimal:
    """The sum of the gross charges of _cdr_file's `count` calls: 6/6 at 0.05/min (0.0050 a 6 s pulse), no tax."""
    total = Decimal(0)
    for number in range(count):
        talk = 1 + number % 600
        billed = 6 if talk <= 6 else 6 + -(-(talk - 6) // 6) * 6
        total += Decimal("0.05") * billed / 60
    return total


@pytest.mark.django_db(transaction=True)
def test_eight_writer_processes_and_adjustments_on_one_customer_lose_nothing(world, tmp_path) -> None:
    files = [_cdr_file(tmp_path / f"w{n}.jsonl", world, f"w{n}", PER_WRITER) for n in range(WRITERS)]
    writers = [subprocess.Popen([TRUNKLINE, "ingest_cdrs", str(path), "--batch-size", "1000"], env=_env(tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for path in files]
    # Adjustments meanwhile, from this process: credits and debits with a reason, each its own transaction.
    adjustments: list[Decimal] = []
    stop = threading.Event()

    def adjust() -> None:
        try:
            number = 0
            while not stop.is_set() or number < 20:
                amount = Decimal("10.000001") if number % 2 == 0 else Decimal("-3.5")
                customer_adjust_balance(customer_id=world.customer.pk, amount=amount, reason=f"test {number}",
                                        actor=world.operator)
                adjustments.append(amount)
                number += 1
        finally:
            connection.close()

    adjuster = threading.Thread(target=adjust)
    adjuster.start()
    outputs = [writer.communicate(timeout=900) for writer in writers]
    stop.set()
    adjuster.join()
    assert [writer.returncode for writer in writers] == [0] * WRITERS, [err.decode()[-2000:] for _, err in outputs]
    assert [out.decode() for out, _ in outputs] == ["10000 new, 0 duplicates.\n"] * WRITERS
    balance = _ledger_is_exact(world, WRITERS * PER_WRITER)
    assert len(adjustments) >= 20
    assert balance == sum(adjustments) - WRITERS * _expected_charges(PER_WRITER)
    assert LedgerEntry.objects.filter(kind="adjustment").count() == len(adjustments)


@pytest.mark.django_db(transaction=True)
def test_a_writer_killed_mid_batch_and_run_again_charges_every_cdr_once(world, tmp_path) -> None:
    path = _cdr_file(tmp_path / "kill.jsonl", world, "k", KILLED)
    command = [TRUNKLINE, "ingest_cdrs", str(path), "--batch-size", "500"]
    writer = subprocess.Popen(command, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Killed once some batches are in, while it writes the next (a batch takes tens of milliseconds).
        while Cdr.objects.count() < 1000:
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
            time.sleep(0.005)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    written = Cdr.objects.count()
    assert 1000 <= written < KILLED and written % 500 == 0  # whole batches only: the one in hand left nothing
    _ledger_is_exact(world, written)
    again = subprocess.run(command, env=_env(tmp_path), capture_output=True, timeout=900)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert again.stdout.decode() == f"{KILLED - written} new, {written} duplicates.\n"
    balance = _ledger_is_exact(world, KILLED)
    assert balance == -_expected_charges(KILLED)
