"""rollups_apply: exact sums per (hour, customer, provider, destination), SIP codes, peaks, undo, and writers in
several processes upserting the same keys at once (no deadlock, no lost increment)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction

from trunkline.cdrs.models import Cdr, CodeRollup, PeakRollup, Rollup
from trunkline.cdrs.services.rollups import rollups_apply

T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def cdr(start: datetime, *, customer: int = 1, provider: int | None = 7, seconds: int | None = 60,
        ring: int = 5, code: int = 200, reason: str = "OK", dest: str = "UK Mobile", charge: str = "0.010000",
        cost: str = "0.005000", pdd: int | None = 800, billed: int | None = None) -> Cdr:
    """A CDR as ingest would have built it (unsaved: rollups need only its fields). seconds=None: not answered."""
    answer = None if seconds is None else start + timedelta(seconds=ring)
    end = start + timedelta(seconds=ring + (seconds or 0))
    return Cdr(call_id=f"c{start.timestamp()}", start=start, answer=answer, end=end, customer_id=customer,
               provider_id=provider, duration=seconds or 0, customer_billed=billed if billed is not None else
               (seconds or 0), provider_billed=seconds or 0, customer_charge=Decimal(charge) if seconds else
               Decimal(0), provider_charge=Decimal(cost) if seconds else Decimal(0), pdd_ms=pdd, sip_code=code,
               sip_reason=reason, customer_dest_name=dest, customer_dest_code="447")


def rollup_rows() -> list[tuple]:
    return list(Rollup.objects.order_by("hour", "customer_id", "provider_id", "destination").values_list(
        "hour", "customer_id", "provider_id", "destination", "attempts", "connected", "duration",
        "customer_billed", "provider_billed", "customer_charge", "provider_charge", "pdd_ms", "pdd_calls",
        "channel_breaches", "cps_breaches", "last_call_at"))


def apply(cdrs: list[Cdr], sign: int = 1) -> None:
    with transaction.atomic():
        rollups_apply(cdrs, sign=sign)


@pytest.mark.django_db
def test_a_batch_adds_up_per_hour_customer_provider_and_destination() -> None:
    batch = [
        cdr(T0 + timedelta(minutes=1), seconds=61, charge="0.012345"),
        cdr(T0 + timedelta(minutes=2), seconds=None, code=486, reason="Busy Here", pdd=1200),
        cdr(T0 + timedelta(minutes=59, seconds=59), seconds=30, charge="0.000001", pdd=None),
        cdr(T0 + timedelta(minutes=3), provider=None, seconds=None, code=503, reason="Channel Limit Reached",
            pdd=None),
        cdr(T0 + timedelta(minutes=4), provider=None, seconds=None, code=503, reason="CPS Limit Reached", pdd=None),
        cdr(T0 + timedelta(minutes=5), provider=None, seconds=None, code=503, reason="Service Unavailable",
            pdd=None),
        cdr(T0 + timedelta(hours=1), seconds=10, dest=""),  # next hour; no name: the code is the destination
        cdr(T0 + timedelta(minutes=6), customer=2, seconds=20, charge="1.5"),
    ]
    apply(batch)
    h0, h1 = T0, T0 + timedelta(hours=1)
    assert rollup_rows() == [
        (h0, 1, 0, "UK Mobile", 3, 0, 0, 0, 0, Decimal(0), Decimal(0), 0, 0, 1, 1, T0 + timedelta(minutes=5)),
        (h0, 1, 7, "UK Mobile", 3, 2, 91, 91, 91, Decimal("0.012346"), Decimal("0.010000"), 2000, 2, 0, 0,
         T0 + timedelta(minutes=59, seconds=59)),
        (h0, 2, 7, "UK Mobile", 1, 1, 20, 20, 20, Decimal("1.500000"), Decimal("0.005000"), 800, 1, 0, 0,
         T0 + timedelta(minutes=6)),
        (h1, 1, 7, "447", 1, 1, 10, 10, 10, Decimal("0.010000"), Decimal("0.005000"), 800, 1, 0, 0, h1),
    ]
    assert sorted(CodeRollup.objects.values_list("hour", "customer_id", "provider_id", "sip_code", "calls")) == [
        (h0, 1, 0, 503, 3), (h0, 1, 7, 200, 2), (h0, 1, 7, 486, 1), (h0, 2, 7, 200, 1), (h1, 1, 7, 200, 1)]


@pytest.mark.django_db
def test_a_second_batch_adds_to_the_same_rows_and_last_call_keeps_the_latest() -> None:
    apply([cdr(T0 + timedelta(minutes=30), charge="0.100001")])
    apply([cdr(T0 + timedelta(minutes=10), charge="0.200002"), cdr(T0 + timedelta(minutes=20), seconds=None)])
    assert rollup_rows() == [(T0, 1, 7, "UK Mobile", 3, 2, 120, 120, 120, Decimal("0.300003"),
                              Decimal("0.010000"), 2400, 3, 0, 0, T0 + timedelta(minutes=30))]
    assert list(CodeRollup.objects.values_list("sip_code", "calls").order_by("sip_code")) == [(200, 3)]


@pytest.mark.django_db
def test_undo_then_redo_gives_the_re_rated_figures_and_leaves_peaks_alone() -> None:
    old = [cdr(T0 + timedelta(minutes=i), seconds=3600, charge="0.360000", billed=3600) for i in range(3)]
    apply(old)
    peaks_before = list(PeakRollup.objects.values_list("hour", "scope", "scope_id", "channels", "cps"))
    assert sorted(peaks_before) == [(T0, "customer", 1, 3, 1), (T0, "provider", 7, 3, 1),
                                    (T0 + timedelta(hours=1), "customer", 1, 3, 0),
                                    (T0 + timedelta(hours=1), "provider", 7, 3, 0)]
    new = [cdr(T0 + timedelta(minutes=i), seconds=60, charge="0.006000", billed=60) for i in range(3)]
    apply(old, sign=-1)
    assert rollup_rows() == [(T0, 1, 7, "UK Mobile", 0, 0, 0, 0, 0, Decimal(0), Decimal(0), 0, 0, 0, 0,
                              T0 + timedelta(minutes=2))]
    assert list(CodeRollup.objects.values_list("calls", flat=True)) == [0]
    apply(new)
    assert rollup_rows() == [(T0, 1, 7, "UK Mobile", 3, 3, 180, 180, 180, Decimal("0.018000"),
                              Decimal("0.015000"), 2400, 3, 0, 0, T0 + timedelta(minutes=2))]
    # The shorter calls' peaks are lower: max() keeps the old ones.
    assert sorted(PeakRollup.objects.values_list("hour", "scope", "scope_id", "channels", "cps")) == sorted(
        peaks_before)


@pytest.mark.django_db
def test_sign_must_be_one_or_minus_one() -> None:
    with pytest.raises(ValueError, match=r"^sign must be 1 or -1, not 2\.$"):
        rollups_apply([cdr(T0)], sign=2)
    assert not Rollup.objects.exists()


@pytest.mark.django_db
def test_peaks_sweep_concurrent_calls_and_calls_started_in_one_second() -> None:
    second = T0 + timedelta(minutes=50)
    batch = [
        # Three calls up together from 10:50:00.5 (ring 5 s + 600 s each), the third crossing into 11:00.
        cdr(second + timedelta(milliseconds=100), seconds=600),
        cdr(second + timedelta(milliseconds=900), seconds=600),
        cdr(second + timedelta(seconds=1), seconds=600, provider=8),
        # Back to back with nothing else: ends before the next starts at the same moment.
        cdr(T0 + timedelta(minutes=1), seconds=55, customer=2),
        cdr(T0 + timedelta(minutes=2), seconds=10, customer=2),
        # Refused at the decision: no channel held (end == start), but an attempt in its second.
        Cdr(call_id="r", start=T0 + timedelta(minutes=3), end=T0 + timedelta(minutes=3), customer_id=2,
            provider_id=None, sip_code=503, sip_reason="Channel Limit Reached"),
        cdr(T0 + timedelta(minutes=3, milliseconds=500), seconds=None, customer=2, provider=None),
    ]
    apply(batch)
    h1 = T0 + timedelta(hours=1)
    assert sorted(PeakRollup.objects.values_list("hour", "scope", "scope_id", "channels", "cps")) == [
        (T0, "customer", 1, 3, 2),
        (T0, "customer", 2, 1, 2),
        (T0, "provider", 7, 2, 2),
        (T0, "provider", 8, 1, 1),
        (h1, "customer", 1, 3, 0),
        (h1, "provider", 7, 2, 0),
        (h1, "provider", 8, 1, 0),
    ]
    # A later batch with a lower peak keeps the higher one; a higher one raises it.
    apply([cdr(T0 + timedelta(minutes=5), seconds=10)]
          + [cdr(T0 + timedelta(minutes=5), seconds=10, provider=8) for _ in range(4)])
    assert sorted(PeakRollup.objects.filter(hour=T0).values_list("scope", "scope_id", "channels", "cps")) == [
        ("customer", 1, 5, 5), ("customer", 2, 1, 2), ("provider", 7, 2, 2), ("provider", 8, 4, 4)]


@pytest.mark.django_db
def test_many_keys_go_out_in_several_statements() -> None:
    # More keys than one statement holds on SQLite (999 parameters / 16 columns).
    batch = [cdr(T0 + timedelta(seconds=i), customer=i % 500 + 1, dest=f"D{i % 3}") for i in range(3000)]
    apply(batch)
    apply(batch)
    assert Rollup.objects.count() == 1500
    assert sum(Rollup.objects.values_list("attempts", flat=True)) == 6000
    assert set(Rollup.objects.values_list("customer_charge", flat=True)) == {Decimal("0.040000")}


WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal
    import django
    django.setup()
    from django.db import transaction
    from trunkline.cdrs.models import Cdr
    from trunkline.cdrs.services.rollups import rollups_apply
    T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    writer, batches, size = (int(arg) for arg in sys.argv[1:4])
    for batch in range(batches):
        cdrs = []
        for i in range(size):
            # The same keys in every writer, in a different order in each (rollups_apply sorts them).
            n = ((size - 1 - i) if writer % 2 else i + batch) % size
            start = T0 + timedelta(hours=n % 4, seconds=n)
            cdrs.append(Cdr(start=start, answer=start, end=start + timedelta(seconds=30), customer_id=n % 5 + 1,
                            provider_id=n % 3, duration=30, customer_billed=30, provider_billed=30,
                            customer_charge=Decimal("0.000123"), provider_charge=Decimal("0.000100"),
                            pdd_ms=100, sip_code=200 if n % 2 else 486, customer_dest_name=f"D{n % 7}"))
        with transaction.atomic():
            rollups_apply(cdrs)
""")


def _database_url() -> str:
    from django.db import connection

    data = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{data['NAME']}"
    credentials = data["USER"] + (f":{data['PASSWORD']}" if data["PASSWORD"] else "")
    return f"postgresql://{credentials}@{data['HOST'] or '127.0.0.1'}:{data['PORT'] or 5432}/{data['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_writers_in_several_processes_upserting_the_same_keys_lose_nothing(settings) -> None:
    writers, batches, size = 4, 10, 400
    env = {**os.environ, "DATABASE_URL": _database_url(), "TRUNKLINE_VAR_DIR": str(settings.VAR_DIR),
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, str(w), str(batches), str(size)], env=env,
                                  cwd=ROOT, stderr=subprocess.PIPE, text=True) for w in range(writers)]
    for process in processes:
        _, errors = process.communicate(timeout=240)
        assert process.returncode == 0, errors
    total = writers * batches * size
    assert sum(Rollup.objects.values_list("attempts", flat=True)) == total
    assert sum(Rollup.objects.values_list("connected", flat=True)) == total
    assert sum(Rollup.objects.values_list("duration", flat=True)) == total * 30
    assert sum(Rollup.objects.values_list("customer_charge", flat=True)) == Decimal("0.000123") * total
    assert sum(Rollup.objects.values_list("provider_charge", flat=True)) == Decimal("0.000100") * total
    assert sum(CodeRollup.objects.values_list("calls", flat=True)) == total
    # Each key got the same count from every batch of every writer.
    assert Rollup.objects.count() == size
    assert set(Rollup.objects.values_list("attempts", flat=True)) == {writers * batches}
