"""The switch's Engine on a real routing file: attempt lines, live holds, events, expiry, reloads, balances.

In-process counters and a file spool: route() and event() are driven with coroutine.send(None), as the SIP
server drives them, so a test fails if either ever suspends. The Redis tests (shared counters, stream spool) skip
without a Redis unless TRUNKLINE_REQUIRE_SIP=1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.switch.redis_helpers import redis_url_or_skip, unique_prefix
from trunkline.contracts.calls import EventKind
from trunkline.contracts.codec import write_snapshot
from trunkline.contracts.snapshot import (
    Customer,
    Gateway,
    IngressRoute,
    IpAuth,
    Provider,
    RateCard,
    RateRow,
    RoutingSnapshot,
    SipUser,
)
from trunkline.switch.auth import ha1
from trunkline.switch.counters import CUSTOMER, PROVIDER, ROUTE, MemoryCounters, RedisCounters
from trunkline.switch.engine import Engine, build_engine, uri_hostport
from trunkline.switch.sip.nonce import Nonces
from trunkline.switch.spool import FileSpool, RedisSpool, read_spool_lines
from trunkline.switch.types import Call, Decision

D = Decimal
NUMBER = "441234567890"
CLI = "15551234567"
ACME_IP, BOLT_IP, PREPAID_IP = "192.0.2.10", "192.0.2.20", "192.0.2.30"
T0 = 1_000_000.0
ATTEMPT_KEYS = {"v", "kind", "call_id", "node", "at", "customer", "auth_kind", "auth_id", "source_ip", "source_port",
                "transport", "cli_in", "dst_in", "cli", "dst", "pai", "tech_prefix", "route", "code", "reason", "rate",
                "providers", "max_duration", "reserve", "recording", "expires_at"}
BRAVO = {"provider": 102, "card": 12, "rate": "0.01", "gateways": ["b.example:5080", "B2.example:5060"]}
ALPHA = {"provider": 101, "card": 11, "rate": "0.02", "gateways": ["a.example:5060"]}
UK_RATE = {"card": 1, "prefix": "44", "name": "UK", "rate": "0.05", "connection_fee": "0", "grace": 0, "mcd": 1,
           "pulse": 1}

Result = TypeVar("Result")


def drive(coroutine: Coroutine[Any, Any, Result]) -> Result:
    """Run a coroutine that must finish without suspending, as the SIP server does with .send(None)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise AssertionError("the engine suspended")


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def snapshot(revision: int = 1, *, bravo_channels: int = 0, acme_channels: int = 2) -> RoutingSnapshot:
    return RoutingSnapshot(
        revision, datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
        rate_cards=(
            RateCard(1, "Retail", "USD", (RateRow("44", D("0.05"), name="UK"),), egress_card_ids=(11, 12)),
            RateCard(11, "Alpha", "USD", (RateRow("44", D("0.02")),), provider_id=101),
            RateCard(12, "Bravo", "USD", (RateRow("44", D("0.01")),), provider_id=102)),
        customers=(Customer(1, "Acme", channels=acme_channels), Customer(2, "Bolt"), Customer(3, "Prepaid")),
        ip_auths=(IpAuth(1, 1, ACME_IP), IpAuth(2, 2, BOLT_IP), IpAuth(3, 3, PREPAID_IP)),
        sip_users=(SipUser(7, 1, "alice", ha1("alice", "trunkline", "s3cret")),),
        providers=(Provider(101, "Alpha", (Gateway("a.example"),)),
                   Provider(102, "Bravo", (Gateway("b.example", 5080), Gateway("B2.example")),
                            channels=bravo_channels)),
        ingress_routes=(IngressRoute(1, 1, 1), IngressRoute(2, 2, 1, cps=2, max_duration=60),
                        IngressRoute(3, 2, 1, tech_prefix="9#"), IngressRoute(4, 3, 1)))


def balances(path: Path, values: dict[str, str]) -> None:
    path.write_text(json.dumps(values))


@pytest.fixture
def routing(tmp_path: Path) -> Path:
    path = tmp_path / "routing-snapshot.json"
    write_snapshot(snapshot(), path)
    balances(tmp_path / "balances.json", {"1": "10", "2": "100"})
    return path


class Setup:
    def __init__(self, routing: Path, clock: Clock, **snapshot_changes: int) -> None:
        if snapshot_changes:
            write_snapshot(snapshot(**snapshot_changes), routing)
        self.clock = clock
        self.counters = MemoryCounters(clock)
        self.directory = routing.parent / "spool"
        self.spool = FileSpool(self.directory, "node-a")
        self.engine = Engine(routing_file=routing, counters=self.counters, spool=self.spool, node="node-a",
                             nonces=Nonces(b"secret"), clock=clock)
        self.engine.load()

    def route(self, call_id: str, source: str = ACME_IP, number: str = NUMBER, transport: str = "udp",
              **call: Any) -> Decision:
        return drive(self.engine.route(Call(source, number, CLI, **call), call_id=call_id, transport=transport))

    def event(self, call_id: str, kind: EventKind, **data: object) -> bool:
        return drive(self.engine.event(call_id, kind, data))

    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far (flushed), in order."""
        found: list[dict[str, Any]] = []
        if self.directory.exists():
            for path in sorted(self.directory.iterdir()):
                found += read_spool_lines(path)[0]
        return found


@pytest.fixture
def setup(routing: Path) -> Setup:
    return Setup(routing, Clock())


def test_an_accepted_call_is_spooled_with_every_field_of_the_attempt_line(setup: Setup) -> None:
    decision = setup.route("call-1", source_port=5062)
    assert (decision.accepted, decision.code, [item.provider.id for item in decision.routes]) == (True, 200, [102, 101])
    assert setup.lines() == []  # nothing written before the server's flush
    setup.engine.flush()
    [line] = setup.lines()
    assert set(line) == ATTEMPT_KEYS
    assert line == {
        "v": 1, "kind": "attempt", "call_id": "call-1", "node": "node-a", "at": T0, "customer": 1, "auth_kind": "ip",
        "auth_id": 1, "source_ip": ACME_IP, "source_port": 5062, "transport": "udp", "cli_in": CLI, "dst_in": NUMBER,
        "cli": CLI, "dst": NUMBER, "pai": None, "tech_prefix": "", "route": 1, "code": 200, "reason": "Routed",
        "rate": UK_RATE, "providers": [BRAVO, ALPHA], "max_duration": 12_000, "reserve": "0.050000",
        "recording": False, "expires_at": T0 + 12_000 + 60}
    # Acme has a channel limit: the call holds a channel until its end or expiry.
    assert setup.counters.channels(CUSTOMER, 1) == 1
    assert setup.engine.live() == [{"call_id": "call-1", "customer": 1, "route": 1, "providers": [102, 101],
                                    "transport": "udp", "started": T0, "answered": None,
                                    "expires_at": T0 + 12_060, "held": True}]


def test_the_tech_prefix_is_stripped_and_named_and_a_pai_kept(setup: Setup) -> None:
    decision = setup.route("call-1", source=BOLT_IP, number="9#" + NUMBER, pai="+15550000000")
    assert decision.accepted
    setup.engine.flush()
    [line] = setup.lines()
    assert (line["dst_in"], line["dst"], line["tech_prefix"], line["route"], line["pai"], line["max_duration"]) == (
        "9#" + NUMBER, NUMBER, "9#", 3, "+15550000000", 120_000)
    assert setup.engine.live() == []  # a SIP redirect without a channel limit: no event will come, nothing kept


def test_a_rejected_call_is_spooled_with_what_the_decision_found(setup: Setup) -> None:
    decision = setup.route("call-1", source="198.51.100.1", source_port=5070)
    assert (decision.code, decision.reason) == (403, "IP Not Authorised")
    setup.engine.flush()
    assert setup.lines() == [{
        "v": 1, "kind": "attempt", "call_id": "call-1", "node": "node-a", "at": T0, "customer": None,
        "auth_kind": None, "auth_id": None, "source_ip": "198.51.100.1", "source_port": 5070, "transport": "udp",
        "cli_in": CLI, "dst_in": NUMBER, "cli": None, "dst": None, "pai": None, "tech_prefix": None, "route": None,
        "code": 403, "reason": "IP Not Authorised", "rate": None, "providers": [], "max_duration": None,
        "reserve": "0", "recording": False, "expires_at": None}]
    assert setup.counters.held() == 0


def test_a_prepaid_customer_needs_a_balance_from_balances_json(setup: Setup, routing: Path) -> None:
    decision = setup.route("call-1", source=PREPAID_IP)
    assert (decision.code, decision.reason) == (402, "Insufficient Balance")
    balances(routing.parent / "balances.json", {"1": "10", "2": "100", "3": "0.5"})
    assert asyncio.run(setup.engine.reload_if_changed()) is False  # the index stays; the balances change
    decision = setup.route("call-2", source=PREPAID_IP)
    assert (decision.code, decision.max_duration) == (200, 600)
    setup.engine.flush()
    assert [(line["call_id"], line["code"], line["reason"], line["auth_kind"]) for line in setup.lines()] == [
        ("call-1", 402, "Insufficient Balance", "ip"), ("call-2", 200, "Routed", "ip")]


def test_a_bad_balances_file_keeps_the_balances_loaded(setup: Setup, routing: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    (routing.parent / "balances.json").write_text('{"1": 10.5}')  # a float: money is a decimal string
    with caplog.at_level(logging.ERROR):
        asyncio.run(setup.engine.reload_if_changed())
        asyncio.run(setup.engine.reload_if_changed())
    assert [record.getMessage() for record in caplog.records] == [
        f"balances file {routing.parent / 'balances.json'} not loaded (the previous balances stay): "
        f"{routing.parent / 'balances.json'}: customer '1': expected a decimal string, not 10.5"]
    assert setup.counters.balance(1) == D(10)


def test_a_challenge_writes_no_line(setup: Setup) -> None:
    decision = setup.route("call-1", sip_user="alice")
    assert (decision.code, decision.reason) == (407, "Proxy Authentication Required")
    assert setup.spool.pending == []
    setup.engine.flush()
    assert not setup.directory.exists()


def test_the_call_past_the_channel_limit_is_refused_and_holds_nothing(setup: Setup) -> None:
    assert setup.route("call-1").accepted and setup.route("call-2").accepted
    refused = setup.route("call-3")
    assert (refused.accepted, refused.code, refused.reason, refused.routes) == (
        False, 503, "Channel Limit Reached", ())
    assert setup.counters.channels(CUSTOMER, 1) == 2
    assert setup.counters.held() == 2
    assert [call["call_id"] for call in setup.engine.live()] == ["call-1", "call-2"]
    assert setup.event("call-3", EventKind.ENDED) is False  # it holds nothing to end
    setup.engine.flush()
    line = setup.lines()[2]
    assert (line["code"], line["reason"], line["customer"], line["route"], line["providers"], line["expires_at"]) == (
        503, "Channel Limit Reached", 1, 1, [], None)
    # An ended call gives its channel back: the next call passes.
    assert setup.event("call-1", EventKind.ENDED, release_reason="Downstream BYE", duration=12) is True
    assert setup.counters.channels(CUSTOMER, 1) == 1
    assert setup.route("call-4").accepted


def test_the_cps_limit_admits_exactly_its_calls_per_second(setup: Setup) -> None:
    # Bolt's route 2 (no tech prefix) allows 2 calls a second; it holds no channel.
    assert setup.route("call-1", source=BOLT_IP).accepted
    setup.clock.now = T0 + 0.5
    assert setup.route("call-2", source=BOLT_IP).accepted
    setup.clock.now = T0 + 0.999
    refused = setup.route("call-3", source=BOLT_IP)
    assert (refused.code, refused.reason) == (503, "CPS Limit Reached")
    setup.clock.now = T0 + 1.0
    assert setup.route("call-4", source=BOLT_IP).accepted
    setup.clock.now = T0 + 1.2
    assert setup.route("call-5", source=BOLT_IP).code == 503
    assert setup.counters.held() == 0
    setup.engine.flush()
    assert [(line["call_id"], line["code"], line["at"]) for line in setup.lines()] == [
        ("call-1", 200, T0), ("call-2", 200, T0 + 0.5), ("call-3", 503, T0 + 0.999), ("call-4", 200, T0 + 1.0),
        ("call-5", 503, T0 + 1.2)]


def test_a_provider_at_its_channel_limit_leaves_the_next_calls_egress(routing: Path) -> None:
    setup = Setup(routing, Clock(), bravo_channels=1)
    first = setup.route("call-1")
    assert [item.provider.id for item in first.routes] == [102, 101]
    assert setup.counters.channels(PROVIDER, 102) == 1
    second = setup.route("call-2")
    assert [item.provider.id for item in second.routes] == [101]
    assert setup.counters.channels(PROVIDER, 101) == 0  # Alpha has no limit: not counted
    setup.engine.flush()
    assert [line["providers"] for line in setup.lines()] == [[BRAVO, ALPHA], [ALPHA]]
    assert setup.event("call-1", EventKind.FAILED, code=503, reason="Service Unavailable", final=True) is True
    assert setup.counters.channels(PROVIDER, 102) == 0


def test_events_of_a_call_routed_over_http_are_spooled_and_answered_is_written_at_once(setup: Setup) -> None:
    assert setup.route("k-1", source=BOLT_IP, transport="http").accepted  # no channel limit: kept for its events
    assert setup.engine.live()[0]["held"] is False
    assert setup.event("k-1", EventKind.ROUTED, uri=f"sip:{NUMBER}@b.example:5080", at=T0 + 0.01) is True
    assert setup.event("k-1", EventKind.EARLY, uri=f"sip:{NUMBER}@b.example:5080", code=183) is True
    assert setup.event("k-1", EventKind.FAILED, uri=f"sip:{NUMBER}@b.example:5080", code=503,
                       reason="Service Unavailable", final=False) is True
    assert setup.event("k-1", EventKind.ROUTED, uri=f"sip:{NUMBER}@A.EXAMPLE;transport=udp", at=T0 + 0.2) is True
    assert setup.lines() == []
    setup.clock.now = T0 + 3
    assert setup.event("k-1", EventKind.ANSWERED, uri=f"sip:{NUMBER}@a.example:5060",
                       dialog={"h_entry": 12, "h_id": 345}) is True
    written = setup.lines()  # no flush(): the answered line is on disk before event() returns
    assert written[1:] == [
        {"v": 1, "kind": "routed", "call_id": "k-1", "node": "node-a", "at": T0 + 0.01, "provider": 102,
         "gateway": "b.example:5080", "branch": 0},
        {"v": 1, "kind": "early", "call_id": "k-1", "node": "node-a", "at": T0, "provider": 102, "code": 183},
        {"v": 1, "kind": "failed", "call_id": "k-1", "node": "node-a", "at": T0, "provider": 102, "code": 503,
         "reason": "Service Unavailable", "final": False},
        {"v": 1, "kind": "routed", "call_id": "k-1", "node": "node-a", "at": T0 + 0.2, "provider": 101,
         "gateway": "a.example:5060", "branch": 1},
        {"v": 1, "kind": "answered", "call_id": "k-1", "node": "node-a", "at": T0 + 3, "provider": 101,
         "dialog": {"h_entry": 12, "h_id": 345}}]
    assert setup.engine.live()[0]["answered"] == T0 + 3
    assert setup.event("k-1", EventKind.ENDED, release_reason="Upstream BYE", duration=57) is True
    assert setup.engine.live() == []
    assert setup.event("k-1", EventKind.ENDED, release_reason="Upstream BYE", duration=57) is False
    setup.engine.flush()
    assert setup.lines()[6:] == [{"v": 1, "kind": "ended", "call_id": "k-1", "node": "node-a", "at": T0 + 3,
                                  "release_reason": "Upstream BYE", "duration": 57}]


def test_an_event_for_an_unknown_call_or_gateway(setup: Setup) -> None:
    assert setup.event("nobody", EventKind.ANSWERED, uri="sip:1@a.example") is False
    assert setup.spool.pending == [] and setup.lines() == []
    assert setup.route("k-1", source=BOLT_IP, transport="http").accepted
    assert setup.event("k-1", EventKind.ROUTED, uri="sip:1@elsewhere.example:5070") is True
    assert setup.event("k-1", EventKind.FAILED, code=487, reason="Request Terminated", final=True) is True
    setup.engine.flush()
    assert setup.lines()[1:] == [
        {"v": 1, "kind": "routed", "call_id": "k-1", "node": "node-a", "at": T0, "provider": None,
         "gateway": "elsewhere.example:5070", "branch": None},
        {"v": 1, "kind": "failed", "call_id": "k-1", "node": "node-a", "at": T0, "provider": None, "code": 487,
         "reason": "Request Terminated", "final": True}]
    assert setup.event("k-1", EventKind.ANSWERED) is False


def test_a_final_failure_or_the_end_lets_the_channel_go_once(setup: Setup) -> None:
    assert setup.route("call-1").accepted and setup.route("call-2").accepted
    assert setup.event("call-1", EventKind.FAILED, code=486, reason="Busy Here", final=True) is True
    assert setup.event("call-1", EventKind.FAILED, code=486, reason="Busy Here", final=True) is False
    assert setup.event("call-2", EventKind.ANSWERED) is True
    assert setup.counters.channels(CUSTOMER, 1) == 1
    assert setup.event("call-2", EventKind.ENDED, release_reason="Downstream BYE", duration=3) is True
    assert (setup.counters.channels(CUSTOMER, 1), setup.counters.held(), setup.engine.live()) == (0, 0, [])


def test_expiry_lets_go_of_calls_without_an_end_with_an_expired_line(setup: Setup) -> None:
    assert setup.route("held", source=ACME_IP).accepted  # max duration 12,000 s: expires at T0 + 12,060
    assert setup.route("k-1", source=BOLT_IP, transport="http").accepted  # route 2: 60 s + 60 s
    assert setup.engine.expire(T0 + 119.999) == 0
    assert setup.engine.expire(T0 + 120) == 1
    assert setup.event("k-1", EventKind.ENDED) is False
    assert setup.counters.held() == 1
    assert setup.engine.expire(T0 + 12_059) == 0
    assert setup.engine.expire(T0 + 12_061) == 1
    assert (setup.counters.held(), setup.counters.channels(CUSTOMER, 1), setup.engine.live()) == (0, 0, [])
    assert setup.engine.expire(T0 + 99_999) == 0
    setup.engine.flush()
    assert [line for line in setup.lines() if line["kind"] == "expired"] == [
        {"v": 1, "kind": "expired", "call_id": "k-1", "node": "node-a", "at": T0 + 120},
        {"v": 1, "kind": "expired", "call_id": "held", "node": "node-a", "at": T0 + 12_061}]


def test_calls_ended_by_events_leave_no_pile_of_stale_expiry_entries(setup: Setup) -> None:
    setup.counters.set_balance(2, D(10**6))  # ended calls keep their reservations until charged
    for number in range(5_000):
        assert setup.route(f"k-{number}", source=BOLT_IP, number="9#" + NUMBER, transport="http").accepted
        assert setup.event(f"k-{number}", EventKind.ENDED, release_reason="Downstream BYE", duration=1)
    # Rebuilt empty at the 4,097th end (stale entries past 4,096 and twice the live calls); 903 ended since.
    assert len(setup.engine._wheel) == 903
    assert setup.engine.live() == []
    assert setup.engine.expire(T0 + 10**6) == 0


def test_a_changed_routing_file_swaps_in_and_a_bad_one_keeps_the_index(setup: Setup, routing: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    before = setup.engine.fast
    assert asyncio.run(setup.engine.reload_if_changed()) is False
    assert setup.engine.fast is before
    write_snapshot(snapshot(2, acme_channels=1), routing)
    assert asyncio.run(setup.engine.reload_if_changed()) is True
    assert setup.engine.fast is not before and setup.engine.fast.index.snapshot.revision == 2
    assert setup.route("call-1").accepted
    assert setup.route("call-2").reason == "Channel Limit Reached"  # the new limit applies
    good = setup.engine.fast
    routing.write_text('{"schema_version": 3, "revision": ')
    with caplog.at_level(logging.ERROR):
        assert asyncio.run(setup.engine.reload_if_changed()) is False
        assert asyncio.run(setup.engine.reload_if_changed()) is False
    assert setup.engine.fast is good
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(f"routing file {routing} not loaded (the previous index stays)")
    write_snapshot(snapshot(3), routing)
    assert asyncio.run(setup.engine.reload_if_changed()) is True
    assert setup.engine.fast.index.snapshot.revision == 3


def test_load_raises_when_the_routing_file_is_missing(tmp_path: Path) -> None:
    engine = Engine(routing_file=tmp_path / "missing.json", counters=MemoryCounters(),
                    spool=FileSpool(tmp_path, "n"), node="n", nonces=Nonces(b"x"))
    with pytest.raises(FileNotFoundError):
        engine.load()


def test_build_engine_without_counters_url_uses_memory_and_the_var_spool(routing: Path, tmp_path: Path) -> None:
    engine = build_engine(routing_file=routing, counters_url=None, node="node-b", var_dir=tmp_path / "var",
                          secret=b"secret", clock=Clock())
    engine.load()
    assert isinstance(engine.counters, MemoryCounters) and isinstance(engine.spool, FileSpool)
    assert drive(engine.route(Call(ACME_IP, NUMBER, CLI), call_id="c", transport="tcp")).accepted
    engine.flush()
    assert [path.name for path in (tmp_path / "var" / "spool").iterdir()] == [
        f"calls-node-b-{os.getpid()}-000001.jsonl"]
    asyncio.run(engine.close())


@pytest.mark.parametrize(("uri", "expected"), [
    ("sip:441234@gw.example:5080", "gw.example:5080"), ("sip:441234@GW.example", "gw.example:5060"),
    ("sip:gw.example:5070;transport=tcp", "gw.example:5070"), ("sips:1@[2001:DB8::1]:5061", "[2001:db8::1]:5061"),
    ("<sip:1@gw.example:5062>", "gw.example:5062"), ("sip:1@gw.example?x=y", "gw.example:5060"),
    ("nothing", None), ("sip:1@gw.example:port", None), ("sip:", None)])
def test_uri_hostport(uri: str, expected: str | None) -> None:
    assert uri_hostport(uri) == expected


# --- Redis -----------------------------------------------------------------------------------------------------------


def test_with_redis_a_provider_refused_at_the_acquire_leaves_the_egress_and_counts_are_shared(routing: Path) -> None:
    url = redis_url_or_skip()
    write_snapshot(snapshot(bravo_channels=1, acme_channels=2), routing)
    prefix, stream = unique_prefix(), f"test:calls:{unique_prefix()}"

    async def scenario() -> None:
        clock = Clock()
        engines = [Engine(routing_file=routing, counters=RedisCounters(url, prefix=prefix),
                          spool=RedisSpool(url, stream=stream), node=node, nonces=Nonces(b"s"), clock=clock)
                   for node in ("node-a", "node-b")]
        one, two = engines
        try:
            for engine in engines:
                engine.load()
            first = await one.route(Call(ACME_IP, NUMBER, CLI), call_id="c1", transport="http")
            assert [item.provider.id for item in first.routes] == [102, 101]
            # decide() reads no live counts from Redis: the acquire refuses Bravo, the call goes to Alpha.
            second = await two.route(Call(ACME_IP, NUMBER, CLI), call_id="c2", transport="http")
            assert (second.accepted, [item.provider.id for item in second.routes]) == (True, [101])
            third = await one.route(Call(ACME_IP, NUMBER, CLI), call_id="c3", transport="http")
            assert (third.code, third.reason, third.routes) == (503, "Channel Limit Reached", ())
            counters = one.counters
            assert isinstance(counters, RedisCounters)
            assert await counters.holds() == {"c1": T0 + 12_060, "c2": T0 + 12_060}
            assert int(await counters.redis.get(f"{prefix}:ch:{CUSTOMER}:1")) == 2
            assert await counters.redis.exists(f"{prefix}:ch:{ROUTE}:1") == 0  # no route limit: no count
            # The answered line is in the stream when event() returns.
            assert await one.event("c1", EventKind.ANSWERED, {"uri": "sip:1@b.example:5080"}) is True
            entries = await counters.redis.xrange(stream)
            # node-a's pending lines go with it (its attempts), node-b's attempt waits for node-b's flush.
            assert [(json.loads(fields["line"])["kind"], json.loads(fields["line"])["call_id"])
                    for _, fields in entries] == [("attempt", "c1"), ("attempt", "c3"), ("answered", "c1")]
            assert await one.event("c1", EventKind.ENDED, {"release_reason": "Downstream BYE"}) is True
            assert int(await counters.redis.get(f"{prefix}:ch:{PROVIDER}:102") or 0) == 0
            # node-b's call expires in Redis: any node's expiry lets it go, with an expired line.
            one.expire(T0 + 12_060)
            assert one.expiring is not None
            await one.expiring
            await one.spool.aflush()
            await two.spool.aflush()
            lines = [json.loads(fields["line"]) for _, fields in await counters.redis.xrange(stream)]
            assert [(line["kind"], line["call_id"], line["node"], line.get("code")) for line in lines] == [
                ("attempt", "c1", "node-a", 200), ("attempt", "c3", "node-a", 503),
                ("answered", "c1", "node-a", None), ("ended", "c1", "node-a", None),
                ("expired", "c2", "node-a", None), ("attempt", "c2", "node-b", 200)]
            assert lines[-1]["providers"] == [ALPHA]
            assert await counters.held() == 0
            assert int(await counters.redis.get(f"{prefix}:ch:{CUSTOMER}:1") or 0) == 0
        finally:
            cleaner = RedisCounters(url, prefix=prefix)
            keys = [key async for key in cleaner.redis.scan_iter(match=f"{prefix}:*")]
            await cleaner.redis.delete(stream, *keys)
            await cleaner.aclose()
            for engine in engines:
                await engine.close()

    asyncio.run(scenario())


def test_with_redis_a_restarted_engine_releases_the_holds_of_the_one_before(routing: Path) -> None:
    url = redis_url_or_skip()
    write_snapshot(snapshot(acme_channels=1), routing)
    prefix, stream = unique_prefix(), f"test:calls:{unique_prefix()}"

    async def scenario() -> None:
        def engine() -> Engine:
            made = Engine(routing_file=routing, counters=RedisCounters(url, prefix=prefix),
                          spool=RedisSpool(url, stream=stream), node="node-a", nonces=Nonces(b"s"), clock=Clock())
            made.load()
            return made

        before = engine()
        assert (await before.route(Call(ACME_IP, NUMBER, CLI), call_id="c1", transport="udp")).accepted
        await before.close()
        after = engine()  # a restarted switch: nothing in memory, the hold in Redis
        try:
            refused = await after.route(Call(ACME_IP, NUMBER, CLI), call_id="c2", transport="udp")
            assert refused.reason == "Channel Limit Reached"
            after.expire(T0 + 12_060)
            assert after.expiring is not None
            await after.expiring
            assert (await after.route(Call(ACME_IP, NUMBER, CLI), call_id="c3", transport="udp")).accepted
            await after.spool.aflush()
            counters = after.counters
            assert isinstance(counters, RedisCounters)
            lines = [json.loads(fields["line"]) for _, fields in await counters.redis.xrange(stream)]
            assert [(line["kind"], line["call_id"], line.get("code")) for line in lines] == [
                ("attempt", "c1", 200), ("attempt", "c2", 503), ("expired", "c1", None), ("attempt", "c3", 200)]
        finally:
            cleaner = RedisCounters(url, prefix=prefix)
            keys = [key async for key in cleaner.redis.scan_iter(match=f"{prefix}:*")]
            await cleaner.redis.delete(stream, *keys)
            await cleaner.aclose()
            await after.close()

    asyncio.run(scenario())


def test_with_redis_an_event_for_a_call_another_process_routed_is_spooled_and_lets_its_hold_go(routing: Path) -> None:
    url = redis_url_or_skip()
    write_snapshot(snapshot(acme_channels=1), routing)
    prefix, stream = unique_prefix(), f"test:calls:{unique_prefix()}"

    async def scenario() -> None:
        clock = Clock()
        engines = [Engine(routing_file=routing, counters=RedisCounters(url, prefix=prefix),
                          spool=RedisSpool(url, stream=stream), node=node, nonces=Nonces(b"s"), clock=clock)
                   for node in ("node-a", "node-b")]
        one, two = engines
        try:
            for engine in engines:
                engine.load()
            assert (await one.route(Call(ACME_IP, NUMBER, CLI), call_id="c1", transport="http")).accepted
            await one.spool.aflush()
            counters = two.counters
            assert isinstance(counters, RedisCounters)
            assert await counters.holds() == {"c1": T0 + 12_060}
            # Kamailio's events for c1 land on node-b, which never saw the call.
            assert await two.event("c1", EventKind.ROUTED, {"uri": f"sip:{NUMBER}@B.example:5080",
                                                            "at": T0 + 1}) is True
            assert await two.event("c1", EventKind.FAILED, {"uri": f"sip:{NUMBER}@b.example:5080", "code": 503,
                                                            "reason": "Service Unavailable", "final": False}) is True
            assert await counters.held() == 1  # not final: the hold stays
            assert await two.event("c1", EventKind.ANSWERED, {"uri": f"sip:{NUMBER}@a.example",
                                                              "dialog": {"h_entry": 3, "h_id": 4}}) is True
            assert await two.event("c1", EventKind.ENDED, {"release_reason": "Upstream BYE", "duration": 9}) is True
            assert (await counters.held(), await counters.holds()) == (0, {})
            assert int(await counters.redis.get(f"{prefix}:ch:{CUSTOMER}:1") or 0) == 0
            # Released once: a second end (retransmitted, or landing on a third process) changes nothing.
            assert await two.event("c1", EventKind.ENDED, {"release_reason": "Upstream BYE", "duration": 9}) is True
            assert int(await counters.redis.get(f"{prefix}:ch:{CUSTOMER}:1") or 0) == 0
            # The channel is free for the next call, whichever process routes it.
            assert (await one.route(Call(ACME_IP, NUMBER, CLI), call_id="c2", transport="http")).accepted
            await two.spool.aflush()
            lines = [json.loads(fields["line"]) for _, fields in await counters.redis.xrange(stream)]
            assert lines[0]["kind"] == "attempt" and lines[0]["call_id"] == "c1"
            assert lines[1:] == [
                {"v": 1, "kind": "routed", "call_id": "c1", "node": "node-b", "at": T0 + 1, "provider": None,
                 "gateway": "b.example:5080", "branch": None},
                {"v": 1, "kind": "failed", "call_id": "c1", "node": "node-b", "at": T0, "provider": None,
                 "code": 503, "reason": "Service Unavailable", "final": False},
                {"v": 1, "kind": "answered", "call_id": "c1", "node": "node-b", "at": T0, "provider": None,
                 "dialog": {"h_entry": 3, "h_id": 4}},
                {"v": 1, "kind": "ended", "call_id": "c1", "node": "node-b", "at": T0,
                 "release_reason": "Upstream BYE", "duration": 9},
                {"v": 1, "kind": "ended", "call_id": "c1", "node": "node-b", "at": T0,
                 "release_reason": "Upstream BYE", "duration": 9}]
        finally:
            cleaner = RedisCounters(url, prefix=prefix)
            keys = [key async for key in cleaner.redis.scan_iter(match=f"{prefix}:*")]
            await cleaner.redis.delete(stream, *keys)
            await cleaner.aclose()
            for engine in engines:
                await engine.close()

    asyncio.run(scenario())
