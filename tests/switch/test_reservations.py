"""Reservations (issue 11, point 4): the money a live call holds, in the counters (memory and Redis), the slice
arithmetic, and the engine's renewals, Balance Disconnect through a real HTTP JSON-RPC server, and the release
once balances.json shows the call charged. The engine runs on a fake clock."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.switch.redis_helpers import redis_url_or_skip, unique_prefix
from tests.switch.test_engine import CLI, NUMBER, PREPAID_IP, T0, Clock, snapshot
from trunkline.contracts.calls import EventKind
from trunkline.contracts.codec import write_snapshot
from trunkline.contracts.snapshot import RateRow
from trunkline.switch.counters import MemoryCounters, RedisCounters
from trunkline.switch.engine import Engine
from trunkline.switch.reserve import first_reserve, gross_charge, paid_seconds
from trunkline.switch.sip.nonce import Nonces
from trunkline.switch.spool import FileSpool, RedisSpool, read_spool_lines
from trunkline.switch.types import Call

D = Decimal


# --- arithmetic ------------------------------------------------------------------------------------------------


def test_a_slice_costs_the_net_charge_plus_the_customers_tax() -> None:
    row = RateRow("44", D("0.05"), connection_fee=D("0.01"), mcd=30, pulse=6)
    assert gross_charge(row, 60, D(0)) == D("0.060000")  # 0.01 + 0.05 x 60/60
    assert gross_charge(row, 60, D("20")) == D("0.072000")
    assert gross_charge(row, 61, D("20")) == D("0.078000")  # 66 s billed: 0.01 + 0.055 = 0.065, + 20 %
    # Less available than the slice: what is available.
    assert first_reserve(row, D("20"), 60, None, D("0.05")) == D("0.05")
    # A max duration shorter than the slice bounds it.
    assert first_reserve(row, D(0), 60, 30, D(100)) == D("0.035000")


def test_paid_time_is_the_longest_call_the_reservation_covers_on_the_billing_grid() -> None:
    row = RateRow("44", D("0.06"), mcd=30, pulse=6)
    assert paid_seconds(row, D("0.06"), D(0)) == 60
    assert paid_seconds(row, D("0.0599"), D(0)) == 54
    assert paid_seconds(row, D("0.072"), D("20")) == 60
    assert paid_seconds(row, D("0.071999"), D("20")) == 54
    assert paid_seconds(row, D("0.01"), D(0)) == 0  # under the 30 s MCD's 0.03
    assert paid_seconds(RateRow("44", D(0)), D(0), D(0)) is None  # free: never runs out


# --- counters ----------------------------------------------------------------------------------------------------


def test_memory_reservations_take_what_is_available_and_let_it_go_once() -> None:
    counters = MemoryCounters()
    assert counters.reserve_call("a", 3, D("0.60"), D("0.01"), D("1.00"), T0 + 100) == D("0.60")
    assert counters.reserve_call("b", 3, D("0.60"), D("0.01"), D("1.00"), T0 + 200) == D("0.40")  # what is left
    assert counters.reserve_call("c", 3, D("0.60"), D("0.01"), D("1.00"), T0 + 100) is None  # first increment
    assert counters.reserve_call("a", 3, D("0.60"), D(0), D("1.00"), T0 + 100) == D(0)  # a renewal finds nothing
    assert (counters.reserved(3), counters.reservations()) == (D("1.00"), {"a": D("0.60"), "b": D("0.40")})
    assert counters.release_reservation("a") == D("0.60")
    assert counters.release_reservation("a") == D(0)
    assert counters.reserved(3) == D("0.40")
    assert counters.expire_reservations(T0 + 199) == [] and counters.expire_reservations(T0 + 200) == ["b"]
    assert (counters.reserved(3), counters.reservations()) == (D(0), {})


def test_redis_reservations_are_one_total_per_customer_for_every_node() -> None:
    url = redis_url_or_skip()
    prefix = unique_prefix()

    async def scenario() -> list[object]:
        one, two = RedisCounters(url, prefix=prefix), RedisCounters(url, prefix=prefix)
        try:
            taken = await asyncio.gather(*(
                (one if number % 2 else two).reserve_call(f"call-{number}", 3, D("0.30"), D("0.01"), D("1.00"),
                                                          T0 + 100 + number) for number in range(5)))
            total = await one.customer_reserved(3)
            renewal = await two.reserve_call("call-0", 3, D("0.30"), D(0), D("1.00"), T0 + 100)
            holding = await one.reservations()
            released = await one.release_reservation("call-1")
            again = await two.release_reservation("call-1")
            after = await two.customer_reserved(3)
            expired = await one.expire_reservations(T0 + 102)  # call-0 and call-2 (call-1 is let go already)
            left = await one.reservations(), await two.customer_reserved(3)
            return [sorted(taken, key=lambda value: (value is None, value)), total, renewal,
                    (released, holding.get("call-1", D(0))), again, after, sorted(expired), (*left, holding)]
        finally:
            keys = [key async for key in one.redis.scan_iter(f"{prefix}:*")]
            if keys:
                await one.redis.delete(*keys)
            await one.aclose()
            await two.aclose()

    taken, total, renewal, released, again, after, expired, left = asyncio.run(scenario())
    # Five calls at once on 1.00: three slices of 0.30, then the 0.10 left, then nothing (under the increment).
    assert taken == [D("0.1"), D("0.3"), D("0.3"), D("0.3"), None]
    assert (total, renewal) == (D("1.0"), D(0))
    assert released[0] == released[1] and again == D(0) and after == D("1.0") - released[0]
    assert expired == ["call-0", "call-2"]
    holding = left[2]
    assert left[1] == sum(left[0].values(), D(0)) == D("1.0") - released[0] - holding["call-0"] - holding["call-2"]


# --- the engine ----------------------------------------------------------------------------------------------------


class EdgeRpc:
    """A JSON-RPC endpoint standing in for Kamailio's: records every call, answers a result."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, list[Any]]] = []
        self.clock: Clock | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append((self.clock.now if self.clock else 0.0, body["method"], body["params"]))
        return web.json_response({"jsonrpc": "2.0", "result": {}, "id": body["id"]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/RPC", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/RPC"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def _balances_v2(path: Path, balance: str, charged: dict[str, int | str] | None = None) -> None:
    path.write_text(json.dumps({"version": 2, "written_at": T0, "customers": {
        "1": {"balance": "10", "tax_rate": "0"}, "3": {"balance": balance, "tax_rate": "0"}},
        "charged_through": charged or {}}))


def test_two_calls_renew_slices_until_the_money_runs_out_then_end_at_their_paid_time(tmp_path: Path) -> None:
    routing = tmp_path / "routing-snapshot.json"
    write_snapshot(snapshot(), routing)
    _balances_v2(tmp_path / "balances.json", "0.15")  # three 60 s slices at 0.05/min
    clock = Clock()
    counters = MemoryCounters(clock)
    spool = FileSpool(tmp_path / "spool", "node-a")
    edge = EdgeRpc()
    edge.clock = clock

    async def scenario() -> dict[str, Any]:
        await edge.start()
        engine = Engine(routing_file=routing, counters=counters, spool=spool, node="node-a", nonces=Nonces(b"s"),
                        clock=clock, edge_rpc_url=edge.url)
        engine.load()
        found: dict[str, Any] = {}
        try:
            first = await engine.route(Call(PREPAID_IP, NUMBER, CLI), call_id="A", transport="http")
            second = await engine.route(Call(PREPAID_IP, NUMBER, CLI), call_id="B", transport="http")
            found["decisions"] = [(d.code, d.max_duration, d.reserve) for d in (first, second)]
            found["reserved at start"] = counters.reserved(3)
            for call_id, h_id in (("A", 11), ("B", 22)):
                await engine.event(call_id, EventKind.ANSWERED, {"at": T0, "dialog": {"h_entry": 7, "h_id": h_id}})
            for now in (T0 + 49, T0 + 50, T0 + 59.9, T0 + 60, T0 + 110, T0 + 119.9, T0 + 120):
                clock.now = now
                found[f"disconnected by {now - T0:g}"] = await engine.renew(now)
            found["reservations"] = counters.reservations()
            found["rpc"] = list(edge.calls)
            # Kamailio reports both ends (release reason "MI Termination" for a dlg.end_dlg).
            for call_id, at in (("B", T0 + 60.2), ("A", T0 + 120.2)):
                clock.now = at
                await engine.event(call_id, EventKind.ENDED, {"at": at, "release_reason": "MI Termination",
                                                             "duration": round(at - T0)})
            found["reserved after the ends"] = counters.reserved(3)
            position = spool.position()
            assert position is not None
            # The worker charges B only: A's money stays reserved until its own line is charged.
            data = cast_path(spool.path).read_bytes()
            size_after_b = data.index(b"\n", data.index(b'"kind":"ended","call_id":"B"')) + 1
            _balances_v2(tmp_path / "balances.json", "0.10", {position[0]: size_after_b})
            await engine.reload_if_changed()
            found["after B charged"] = (counters.reserved(3), counters.reservations())
            _balances_v2(tmp_path / "balances.json", "0.00", {position[0]: position[1]})
            await engine.reload_if_changed()
            found["after both charged"] = (counters.reserved(3), counters.reservations())
            found["lines"] = [(line["kind"], line["call_id"], line.get("reason")) for line in
                              read_spool_lines(cast_path(spool.path))[0] if line["kind"] in ("disconnect", "ended")]
            found["disconnected"] = engine.disconnected
        finally:
            await engine.close()
            await edge.stop()
        return found

    found = asyncio.run(scenario())
    # A is routed with 0.15 available (180 s), B with 0.10 (120 s); each reserves one 60 s slice.
    assert found["decisions"] == [(200, 180, D("0.050000")), (200, 120, D("0.050000"))]
    assert found["reserved at start"] == D("0.10")
    # At 50 s (10 s before 60 s of paid time) A takes the last 0.05, B finds nothing: B ends at 60 s, A at 120 s.
    assert [found[f"disconnected by {t}"] for t in ("49", "50", "59.9", "60", "110", "119.9", "120")] == [
        0, 0, 0, 1, 0, 0, 1]
    assert found["reservations"] == {"A": D("0.10"), "B": D("0.05")}
    assert found["rpc"] == [(T0 + 60, "dlg.end_dlg", [7, 22]), (T0 + 120, "dlg.end_dlg", [7, 11])]
    assert found["reserved after the ends"] == D("0.15")  # ended, not yet charged: still reserved
    assert found["after B charged"] == (D("0.10"), {"A": D("0.10")})
    assert found["after both charged"] == (D(0), {})
    assert found["lines"] == [("disconnect", "B", "Balance Disconnect"), ("disconnect", "A", "Balance Disconnect"),
                              ("ended", "B", None), ("ended", "A", None)]
    assert found["disconnected"] == 2


def test_a_failed_call_lets_its_money_go_at_once_and_a_redirect_takes_none(tmp_path: Path) -> None:
    routing = tmp_path / "routing-snapshot.json"
    write_snapshot(snapshot(), routing)
    _balances_v2(tmp_path / "balances.json", "0.15")
    clock = Clock()
    counters = MemoryCounters(clock)
    engine = Engine(routing_file=routing, counters=counters, spool=FileSpool(tmp_path / "spool", "node-a"),
                    node="node-a", nonces=Nonces(b"s"), clock=clock)
    engine.load()

    async def scenario() -> list[object]:
        redirect = await engine.route(Call(PREPAID_IP, NUMBER, CLI), call_id="R", transport="udp")
        after_redirect = counters.reserved(3)
        await engine.route(Call(PREPAID_IP, NUMBER, CLI), call_id="F", transport="http")
        held = counters.reserved(3)
        await engine.event("F", EventKind.FAILED, {"code": 486, "reason": "Busy Here", "final": True})
        return [redirect.reserve, after_redirect, held, counters.reserved(3), counters.reservations()]

    # The redirect's decision names the slice it would reserve, but a 302 takes nothing: no event will end it.
    assert asyncio.run(scenario()) == [D("0.050000"), D(0), D("0.05"), D(0), {}]


def test_an_ended_call_without_a_charge_keeps_its_money_until_the_hold_expires(tmp_path: Path) -> None:
    routing = tmp_path / "routing-snapshot.json"
    write_snapshot(snapshot(), routing)
    _balances_v2(tmp_path / "balances.json", "0.15")
    clock = Clock()
    counters = MemoryCounters(clock)
    engine = Engine(routing_file=routing, counters=counters, spool=FileSpool(tmp_path / "spool", "node-a"),
                    node="node-a", nonces=Nonces(b"s"), clock=clock)
    engine.load()

    async def scenario() -> list[object]:
        decision = await engine.route(Call(PREPAID_IP, NUMBER, CLI), call_id="E", transport="http")
        await engine.event("E", EventKind.ANSWERED, {"at": T0})
        await engine.event("E", EventKind.ENDED, {"at": T0 + 5, "release_reason": "Upstream BYE", "duration": 5})
        expires_at = T0 + cast_int(decision.max_duration) + 60
        engine.expire(expires_at - 1)
        before = counters.reserved(3)
        engine.expire(expires_at)
        return [before, counters.reserved(3)]

    assert asyncio.run(scenario()) == [D("0.05"), D(0)]


def cast_path(value: Path | None) -> Path:
    assert value is not None
    return value


def cast_int(value: int | None) -> int:
    assert value is not None
    return value


@pytest.mark.parametrize("slice_seconds", [30, 60])
def test_the_slice_is_the_engines_setting(tmp_path: Path, slice_seconds: int) -> None:
    routing = tmp_path / "routing-snapshot.json"
    write_snapshot(snapshot(), routing)
    _balances_v2(tmp_path / "balances.json", "10")
    engine = Engine(routing_file=routing, counters=MemoryCounters(Clock()),
                    spool=FileSpool(tmp_path / "spool", "node-a"), node="node-a", nonces=Nonces(b"s"), clock=Clock(),
                    slice_seconds=slice_seconds)
    engine.load()
    decision = asyncio.run(engine.route(Call(PREPAID_IP, NUMBER, CLI), call_id="S", transport="http"))
    assert decision.reserve == D("0.05") * slice_seconds / 60


def test_the_reservation_settings_come_from_the_command_line_the_environment_or_defaults(tmp_path: Path) -> None:
    from trunkline.switch.config import ConfigError, resolve

    def config(slice_seconds: int | None = None, **environ: str) -> tuple[int, int, str]:
        found = resolve(host=None, sip_port=None, http_port=None, processes=None, routing_file=tmp_path / "r.json",
                        var_dir=tmp_path, environ=environ, slice_seconds=slice_seconds)
        return found.slice_seconds, found.lead, found.edge_rpc_url

    assert config() == (60, 10, "http://127.0.0.1:5071/RPC")
    assert config(SWITCH_RESERVATION_SLICE="120", SWITCH_RESERVATION_LEAD="15",
                  SWITCH_EDGE_RPC_URL="http://10.0.0.5:5071/RPC") == (120, 15, "http://10.0.0.5:5071/RPC")
    assert config(30, SWITCH_RESERVATION_SLICE="120") == (30, 10, "http://127.0.0.1:5071/RPC")
    with pytest.raises(ConfigError, match=r"^SWITCH_RESERVATION_LEAD \(60 s\) must be shorter than the reservation "
                                          r"slice \(60 s\)$"):
        config(SWITCH_RESERVATION_LEAD="60")
    with pytest.raises(ConfigError, match=r"^--slice must be between 6 and 3600, not 5$"):
        config(5)


def test_with_redis_two_nodes_reserve_from_one_balance_and_the_charge_releases_it(tmp_path: Path) -> None:
    url = redis_url_or_skip()
    routing = tmp_path / "routing-snapshot.json"
    write_snapshot(snapshot(), routing)
    _balances_v2(tmp_path / "balances.json", "0.08")  # one slice (0.05) and 0.03 more
    prefix, stream = unique_prefix(), f"test:calls:{unique_prefix()}"

    async def scenario() -> list[object]:
        clock = Clock()
        engines = [Engine(routing_file=routing, counters=RedisCounters(url, prefix=prefix),
                          spool=RedisSpool(url, stream=stream), node=node, nonces=Nonces(b"s"), clock=clock)
                   for node in ("node-a", "node-b")]
        one, two = engines
        counters = one.counters
        assert isinstance(counters, RedisCounters)
        try:
            for engine in engines:
                engine.load()
            first = await one.route(Call(PREPAID_IP, NUMBER, CLI), call_id="r1", transport="http")
            # node-b's decide() has not seen node-a's reservation; the script in Redis has.
            second = await two.route(Call(PREPAID_IP, NUMBER, CLI), call_id="r2", transport="http")
            third = await two.route(Call(PREPAID_IP, NUMBER, CLI), call_id="r3", transport="http")
            found: list[object] = [(first.code, first.reserve), (second.code, second.reserve),
                                   (third.code, third.reason), await counters.customer_reserved(3)]
            await one.event("r1", EventKind.ANSWERED, {"at": T0})
            await one.event("r1", EventKind.ENDED, {"at": T0 + 30, "release_reason": "Upstream BYE", "duration": 30})
            found.append(await counters.customer_reserved(3))  # ended, not yet charged
            position = one.spool.position()
            assert position is not None
            # The worker charged r1 (0.025) through its ended line: node-a lets its reservation go.
            _balances_v2(tmp_path / "balances.json", "0.055", {position[0]: position[1]})
            await one.reload_if_changed()
            found.append(await counters.customer_reserved(3))
            await two.event("r2", EventKind.FAILED, {"code": 486, "reason": "Busy Here", "final": True})
            found.append(await counters.customer_reserved(3))
            return found
        finally:
            cleaner = RedisCounters(url, prefix=prefix)
            keys = [key async for key in cleaner.redis.scan_iter(match=f"{prefix}:*")]
            await cleaner.redis.delete(stream, *keys)
            await cleaner.aclose()
            for engine in engines:
                await engine.close()

    assert asyncio.run(scenario()) == [(200, D("0.050000")), (200, D("0.03")), (402, "Insufficient Balance"),
                                       D("0.08"), D("0.08"), D("0.03"), D(0)]
