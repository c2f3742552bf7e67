"""THE reservation test of issue 11 (point 4): 20 calls on a prepaid balance worth 10 minutes, through the switch's
engine (reservations, renewals, Balance Disconnect over a real HTTP JSON-RPC edge) and the worker's loader (call
records -> CDRs charged through the ledger, balances.json v2 back to the switch), on a fake clock.

Never more is spent than the balance plus one slice per call, and the money agrees three ways: the CDRs' charges,
the ledger's charge entries and the balance's change. The figures are printed (pytest -s) for the closing note.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from django.db.models import Sum

from tests.routing.helpers import SIMULATE_IP, simulate_world
from trunkline.cdrs.models import CallRecord, Cdr
from trunkline.cdrs.services.balances import balances_write
from trunkline.cdrs.services.loading import load_spool
from trunkline.contracts.calls import EventKind
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.ledger.models import EntryKind, LedgerEntry
from trunkline.ledger.services import customer_adjust_balance
from trunkline.routing.snapshot import snapshot_publish
from trunkline.switch.counters import MemoryCounters
from trunkline.switch.engine import Engine
from trunkline.switch.reserve import gross_charge
from trunkline.switch.sip.nonce import Nonces
from trunkline.switch.spool import FileSpool
from trunkline.switch.types import Call

# transaction=True: the scenario runs in an event loop, whose context gets a database connection of its own.
pytestmark = pytest.mark.django_db(transaction=True)

CALLS = 20
SLICE = 60
TAX = Decimal("10")
# 0.05/min (6/6) on Retail, plus 10 % tax: ten minutes are 0.55.
BALANCE = Decimal("0.550000")
# How long each caller would talk if the money lasted (seconds), by call number.
WANTED = (30, 90, 240, 600, 18, 150, 400, 60, 120, 36)


class Edge:
    """Kamailio's part: its JSON-RPC endpoint (dlg.end_dlg) and the dialog events it reports."""

    def __init__(self) -> None:
        self.ended: list[tuple[int, int]] = []  # dlg.end_dlg [h_entry, h_id] in order
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def rpc(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert body["method"] == "dlg.end_dlg"
        self.ended.append((body["params"][0], body["params"][1]))
        return web.json_response({"jsonrpc": "2.0", "result": {}, "id": body["id"]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/RPC", self.rpc)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/RPC"  # type: ignore[union-attr]


def test_twenty_calls_on_ten_minutes_never_spend_more_than_the_balance_plus_a_slice_each(
        settings, tmp_path, monkeypatch, operator_user) -> None:
    # The loader and the engine share this thread's event loop, as in the test only (the worker has its own).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path
    world = simulate_world()
    Customer.objects.filter(pk=world.customer.pk).update(debit_limit=Decimal(0), tax_rate=TAX)  # prepaid
    with change_context(source="test", user=operator_user):
        customer_adjust_balance(customer_id=world.customer.pk, amount=BALANCE, reason="Prepaid top-up",
                                actor=operator_user)
    routing = snapshot_publish(tmp_path / "routing-snapshot.json")
    balances_write(tmp_path / "balances.json")
    t0 = float(int(time.time()) + 5)  # the card revisions are live from now on
    clock = _Clock(t0)
    counters = MemoryCounters(clock)
    spool = FileSpool(tmp_path / "spool", "sw1")
    edge = Edge()
    figures: dict[str, Any] = {}

    async def scenario() -> None:
        await edge.start()
        engine = Engine(routing_file=routing, counters=counters, spool=spool, node="sw1", nonces=Nonces(b"k"),
                        clock=clock, slice_seconds=SLICE, lead=10, edge_rpc_url=edge.url)
        engine.load()
        dialogs: dict[int, str] = {}
        answered: dict[str, float] = {}
        wanted: dict[str, float] = {}
        refused = 0
        try:
            for second in range(0, 1500):
                now = t0 + second
                clock.now = now
                # A new call every 3 s for the first minute: 20 callers at once on the same balance.
                if second % 3 == 0 and second // 3 < CALLS:
                    number = second // 3
                    call_id = f"call-{number:02d}"
                    decision = await engine.route(Call(SIMULATE_IP, "447911123456", "441234567890"),
                                                  call_id=call_id, transport="http")
                    if decision.accepted:
                        # Ringing 2 s, then answered (Kamailio's dialog handles: h_id = call number).
                        await engine.event(call_id, EventKind.ROUTED, {"at": now, "uri": "sip:x@cheap.example"})
                        answered[call_id] = now + 2
                        # Kamailio ends the dialog at the decision's max duration (its dialog timeout) at the latest.
                        wanted[call_id] = now + 2 + min(WANTED[number % len(WANTED)], decision.max_duration or 10**6)
                        dialogs[number] = call_id
                    else:
                        refused += 1
                for call_id, at in list(answered.items()):
                    if at == now:
                        await engine.event(call_id, EventKind.ANSWERED, {
                            "at": now, "dialog": {"h_entry": 1, "h_id": int(call_id[-2:])}})
                # The caller hangs up, or the switch ends the call (the edge then reports the end).
                before = len(edge.ended)
                await engine.renew(now)
                for _, h_id in edge.ended[before:]:
                    call_id = dialogs[h_id]
                    wanted[call_id] = now
                for call_id, at in list(wanted.items()):
                    if at == now:
                        await engine.event(call_id, EventKind.ENDED, {
                            "at": now, "release_reason": "Upstream BYE", "duration": round(now - answered[call_id])})
                        del wanted[call_id]
                if second % 2 == 0:  # the worker: load and charge, publish balances.json, the switch reloads it
                    engine.flush()
                    load_spool()
                    balances_write(tmp_path / "balances.json")
                    await engine.reload_if_changed()
                    figures["most reserved"] = max(figures.get("most reserved", Decimal(0)),
                                                   counters.reserved(world.customer.pk))
                if not wanted and second > 3 * CALLS:
                    break
            engine.flush()
            load_spool()
            balances_write(tmp_path / "balances.json")
            await engine.reload_if_changed()
            figures["refused"] = refused
            figures["disconnected"] = engine.disconnected
            figures["reserved at the end"] = counters.reserved(world.customer.pk)
        finally:
            await engine.close()
            if edge.runner is not None:
                await edge.runner.cleanup()

    asyncio.run(scenario())

    slice_gross = gross_charge(_sell_row(), SLICE, TAX)
    after = Customer.objects.get(pk=world.customer.pk).balance
    spent = BALANCE - after
    cdrs = Cdr.objects.filter(customer_id=world.customer.pk)
    cdr_total = sum((cdr.customer_charge + cdr.customer_tax for cdr in cdrs), Decimal(0))
    ledger_total = -(LedgerEntry.objects.filter(customer_id=world.customer.pk, kind=EntryKind.CHARGE)
                     .aggregate(total=Sum("amount"))["total"] or Decimal(0))
    connected = CallRecord.objects.filter(customer_id=world.customer.pk, answered_at__isnull=False).count()
    released = dict(CallRecord.objects.filter(release_reason="Balance Disconnect").values_list("call_id", "duration"))
    figures.update(balance=BALANCE, slice=slice_gross, spent=spent, final_balance=after, cdrs=cdrs.count(),
                   connected=connected, cdr_total=cdr_total, ledger_total=ledger_total,
                   talk_seconds=sum(cdr.duration or 0 for cdr in cdrs), balance_disconnects=len(released))
    print("\nreservation test:", ", ".join(f"{key} {value}" for key, value in figures.items()))

    assert spent <= BALANCE + CALLS * slice_gross  # the bound
    assert cdr_total == ledger_total == spent
    assert figures["reserved at the end"] == Decimal(0)  # every call charged: no money left reserved
    # What this deterministic run gives: the balance spent to the last decimal and no further, 600 s of talk
    # (ten minutes), 8 callers refused while the money was reserved by others, 8 calls ended at their paid time.
    assert (spent, after, figures["talk_seconds"]) == (BALANCE, Decimal(0), 600)
    assert (figures["refused"], connected, figures["disconnected"], len(released), cdrs.count()) == (8, 12, 8, 8, 20)


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _sell_row() -> Any:
    from trunkline.contracts.snapshot import RateRow

    return RateRow("44", Decimal("0.05"), mcd=6, pulse=6)
