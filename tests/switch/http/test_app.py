"""POST /route, POST /events, GET /health: the real Engine over a real routing file, through aiohttp's test server
(a real socket and HTTP client), with in-process counters and a file spool read back after each test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient, TestServer

from trunkline.contracts import codec
from trunkline.contracts.snapshot import (
    Customer,
    CustomerStatus,
    Gateway,
    IngressRoute,
    IpAuth,
    Provider,
    RateCard,
    RateRow,
    RoutingSnapshot,
    SipUser,
    Transport,
)
from trunkline.switch.auth import digest_response, ha1
from trunkline.switch.counters import MemoryCounters
from trunkline.switch.engine import Engine
from trunkline.switch.http.app import make_app
from trunkline.switch.sip.nonce import Nonces
from trunkline.switch.spool import FileSpool, read_spool_lines
from trunkline.switch.types import Digest

D = Decimal
T = TypeVar("T")
REALM = "trunkline"
NOW = 1_796_558_400.0  # 2026-12-06 12:00 UTC
ACME_IP, BOLT_IP, BROKE_IP, IDLE_IP, USER_IP = "192.0.2.10", "192.0.2.20", "192.0.2.30", "192.0.2.40", "198.51.100.9"
PREFIXED_IP, BURST_IP = "192.0.2.60", "192.0.2.70"
NUMBER = "441234567890"
CLI = "15551234567"
PASSWORD = "s3cret"


def snapshot() -> RoutingSnapshot:
    """Acme (IP 192.0.2.10), Bolt (one channel), Broke (no money), Idle (inactive), Carol (SIP user alice), Dora
    (a route only for tech prefix 99#), Erin (one call a second); three providers, Bravo cheapest with two
    gateways, Charlie with a tech prefix."""
    customers = (Customer(1, "Acme"), Customer(2, "Bolt", channels=1), Customer(3, "Broke"),
                 Customer(4, "Idle", status=CustomerStatus.INACTIVE), Customer(5, "Carol"), Customer(6, "Dora"),
                 Customer(7, "Erin", cps=1))
    return RoutingSnapshot(
        7, datetime(2026, 12, 6, 12, 0, tzinfo=UTC), customers=customers,
        ip_auths=(IpAuth(1, 1, ACME_IP), IpAuth(2, 2, BOLT_IP), IpAuth(3, 3, BROKE_IP), IpAuth(4, 4, IDLE_IP),
                  IpAuth(5, 1, "2001:db8::10"), IpAuth(6, 6, PREFIXED_IP), IpAuth(7, 7, BURST_IP)),
        sip_users=(SipUser(1, 5, "alice", ha1("alice", REALM, PASSWORD)),),
        providers=(Provider(101, "Alpha", (Gateway("a.example"),)),
                   Provider(102, "Bravo", (Gateway("b1.example", 5080), Gateway("b2.example", 5090, Transport.TCP))),
                   Provider(103, "Charlie", (Gateway("198.51.100.77"),), tech_prefix="77#")),
        ingress_routes=(*(IngressRoute(number, number, 1, max_duration=3600) for number in (1, 2, 3, 4, 5, 7)),
                        IngressRoute(6, 6, 1, tech_prefix="99#")),
        rate_cards=(RateCard(1, "Retail", "USD", (RateRow("44", D("0.05")),), egress_card_ids=(11, 12, 13)),
                    RateCard(11, "Alpha", "USD", (RateRow("44", D("0.02")),), provider_id=101),
                    RateCard(12, "Bravo", "USD", (RateRow("44", D("0.01")),), provider_id=102),
                    RateCard(13, "Charlie", "USD", (RateRow("44", D("0.03")),), provider_id=103)))


class Switch:
    """The engine and its spool over a routing file in tmp_path; `run(scenario)` serves the app while the
    scenario's requests go through a real client."""

    def __init__(self, tmp_path: Path) -> None:
        self.routing_file = tmp_path / "routing-snapshot.json"
        codec.write_snapshot(snapshot(), self.routing_file)
        self.spool_dir = tmp_path / "spool"
        self.spool = FileSpool(self.spool_dir, "test")
        # balances.json beside the routing file, as the publisher writes it (Broke, customer 3, has none).
        (tmp_path / "balances.json").write_text(json.dumps({"1": "10", "2": "10", "4": "10", "5": "10", "6": "10",
                                                            "7": "10"}))
        self.now = NOW
        self.counters = MemoryCounters(lambda: self.now)
        self.nonces = Nonces(b"http-test-secret")
        self.engine = Engine(routing_file=self.routing_file, counters=self.counters, spool=self.spool, node="test",
                             nonces=self.nonces, realm=REALM, clock=lambda: self.now)
        self.engine.load()

    def run(self, scenario: Callable[[TestClient[Any, Any]], Awaitable[T]]) -> T:
        async def main() -> T:
            async with TestClient(TestServer(make_app(self.engine))) as client:
                return await scenario(client)

        return asyncio.run(main())

    def lines(self) -> list[dict[str, Any]]:
        self.engine.flush()
        found: list[dict[str, Any]] = []
        for path in sorted(self.spool_dir.glob("calls-*.jsonl")):
            found += read_spool_lines(path)[0]
        return found


@pytest.fixture
def switch(tmp_path: Path) -> Switch:
    return Switch(tmp_path)


def invite(call_id: str = "call-1", source_ip: str = ACME_IP, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"call_id": call_id, "source_ip": source_ip, "source_port": 5060, "transport": "udp",
                            "number": NUMBER, "cli": CLI, "pai": None, "authorization": None, "method": "INVITE"}
    body.update(extra)
    return body


async def post(client: TestClient[Any, Any], path: str, body: object) -> tuple[int, Any]:
    async with client.post(path, json=body) as response:
        return response.status, await response.json()


def route(uri: str, dst_uri: str, host: str, pai: str | None = None) -> dict[str, Any]:
    headers: dict[str, Any] = {"from": {"uri": f"sip:{CLI}@{host}"}}
    if pai:
        headers["extra"] = f"P-Asserted-Identity: <sip:{pai}@{host}>\r\n"
    return {"uri": uri, "dst_uri": dst_uri, "headers": headers, "fr_timer": 3000, "fr_inv_timer": 60000}


ROUTED = {"version": "1.0", "routing": "serial", "code": 200, "reason": "Routed", "max_duration": 3600,
          "routes": [route(f"sip:{NUMBER}@b1.example:5080", "sip:b1.example:5080;transport=udp", "b1.example"),
                     route(f"sip:{NUMBER}@b2.example:5090", "sip:b2.example:5090;transport=tcp", "b2.example"),
                     route(f"sip:{NUMBER}@a.example:5060", "sip:a.example:5060;transport=udp", "a.example"),
                     route(f"sip:77#{NUMBER}@198.51.100.77:5060", "sip:198.51.100.77:5060;transport=udp",
                           "198.51.100.77")]}


# --- POST /route ------------------------------------------------------------------------------------------------


def test_a_routed_call_answers_the_rtjson_routes_in_egress_order_and_spools_its_attempt(switch: Switch) -> None:
    status, answer = switch.run(lambda client: post(client, "/route", invite()))
    assert status == 200
    assert answer == ROUTED
    [attempt] = switch.lines()
    assert (attempt["kind"], attempt["call_id"], attempt["node"], attempt["code"], attempt["reason"]) == (
        "attempt", "call-1", "test", 200, "Routed")
    assert (attempt["customer"], attempt["source_ip"], attempt["source_port"], attempt["transport"]) == (
        1, ACME_IP, 5060, "http")
    assert [entry["provider"] for entry in attempt["providers"]] == [102, 101, 103]


def test_the_spool_is_written_by_the_next_loop_iteration_without_waiting_for_housekeeping(switch: Switch) -> None:
    async def scenario(client: TestClient[Any, Any]) -> list[dict[str, Any]]:
        await post(client, "/route", invite())
        await asyncio.sleep(0)
        [path] = switch.spool_dir.glob("calls-*.jsonl")
        return read_spool_lines(path)[0]

    assert [(line["kind"], line["call_id"]) for line in switch.run(scenario)] == [("attempt", "call-1")]


def test_the_p_asserted_identity_rides_in_each_route_s_extra_headers(switch: Switch) -> None:
    status, answer = switch.run(lambda client: post(client, "/route", invite(pai="442079460000")))
    assert status == 200
    assert [item["headers"] for item in answer["routes"]] == [
        {"from": {"uri": f"sip:{CLI}@{host}"}, "extra": f"P-Asserted-Identity: <sip:442079460000@{host}>\r\n"}
        for host in ("b1.example", "b2.example", "a.example", "198.51.100.77")]


def test_an_anonymous_caller_without_a_from_user_keeps_its_from_header(switch: Switch) -> None:
    status, answer = switch.run(lambda client: post(client, "/route", invite(cli="")))
    assert (status, answer["code"]) == (200, 200)
    assert [item.get("headers") for item in answer["routes"]] == [None] * 4
    assert [item["uri"] for item in answer["routes"]] == [item["uri"] for item in ROUTED["routes"]]


def test_an_ipv6_source_is_matched_whatever_its_spelling(switch: Switch) -> None:
    status, answer = switch.run(lambda client: post(client, "/route", invite(source_ip="2001:DB8:0:0::10",
                                                                             transport="TCP")))
    assert (status, answer) == (200, ROUTED)
    [attempt] = switch.lines()
    assert (attempt["customer"], attempt["source_ip"]) == (1, "2001:db8::10")


@pytest.mark.parametrize(("source_ip", "number", "code", "reason"), [
    ("203.0.113.1", NUMBER, 403, "IP Not Authorised"),
    (IDLE_IP, NUMBER, 403, "Account Inactive"),
    (BROKE_IP, NUMBER, 402, "Insufficient Balance"),
    (ACME_IP, "33123456789", 503, "No Routes Available (Pre)"),
    (PREFIXED_IP, NUMBER, 580, "No Route Available"),
])
def test_a_refused_call_answers_its_code_and_reason_without_routes(
        switch: Switch, source_ip: str, number: str, code: int, reason: str) -> None:
    status, answer = switch.run(lambda client: post(client, "/route", invite(source_ip=source_ip, number=number)))
    assert status == 200
    assert answer == {"version": "1.0", "routing": "serial", "routes": [], "code": code, "reason": reason}
    [attempt] = switch.lines()
    assert (attempt["kind"], attempt["code"], attempt["reason"]) == ("attempt", code, reason)


def _authorization(challenge: str, *, response: str | None = None) -> str:
    nonce = challenge.split('nonce="', 1)[1].split('"', 1)[0]
    digest = Digest(REALM, nonce, f"sip:{NUMBER}@switch.example", "", "INVITE", "auth", "00000001", "c0ffee")
    expected = digest_response(ha1("alice", REALM, PASSWORD), digest)
    return (f'Digest username="alice", realm="{REALM}", nonce="{nonce}", uri="{digest.uri}", '
            f'response="{response or expected}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"')


def test_a_sip_user_is_challenged_then_routed_with_the_right_digest(switch: Switch) -> None:
    async def scenario(client: TestClient[Any, Any]) -> tuple[Any, Any]:
        _, first = await post(client, "/route", invite(source_ip=USER_IP, cli="alice"))
        header = first["headers"]["Proxy-Authenticate"]
        _, second = await post(client, "/route", invite(source_ip=USER_IP, cli="alice",
                                                         authorization=_authorization(header)))
        return first, second

    first, second = switch.run(scenario)
    header = first["headers"]["Proxy-Authenticate"]
    assert first == {"version": "1.0", "routing": "serial", "routes": [], "code": 407,
                     "reason": "Proxy Authentication Required", "headers": {"Proxy-Authenticate": header}}
    assert header.startswith(f'Digest realm="{REALM}", nonce="') and header.endswith('", algorithm=MD5, qop="auth"')
    assert "stale" not in header
    assert second["code"] == 200 and second["reason"] == "Routed"
    assert [item["uri"] for item in second["routes"]] == [item["uri"] for item in ROUTED["routes"]]
    [attempt] = switch.lines()  # the challenge wrote no attempt
    assert (attempt["customer"], attempt["auth_kind"], attempt["code"]) == (5, "sip_user", 200)


def test_a_wrong_digest_is_refused_as_unknown_user(switch: Switch) -> None:
    async def scenario(client: TestClient[Any, Any]) -> Any:
        _, first = await post(client, "/route", invite(source_ip=USER_IP, cli="alice"))
        authorization = _authorization(first["headers"]["Proxy-Authenticate"], response="0" * 32)
        return (await post(client, "/route", invite(source_ip=USER_IP, cli="alice", authorization=authorization)))[1]

    answer = switch.run(scenario)
    assert answer == {"version": "1.0", "routing": "serial", "routes": [], "code": 403, "reason": "Unknown User"}


def test_an_expired_nonce_is_challenged_again_with_stale_true_and_nothing_spooled(switch: Switch) -> None:
    async def scenario(client: TestClient[Any, Any]) -> Any:
        _, first = await post(client, "/route", invite(source_ip=USER_IP, cli="alice"))
        authorization = _authorization(first["headers"]["Proxy-Authenticate"])
        switch.now += 3600  # past the nonce's lifetime
        return (await post(client, "/route", invite(source_ip=USER_IP, cli="alice", authorization=authorization)))[1]

    answer = switch.run(scenario)
    header = answer["headers"]["Proxy-Authenticate"]
    assert (answer["code"], answer["reason"], answer["routes"]) == (407, "Proxy Authentication Required", [])
    assert header.startswith(f'Digest realm="{REALM}", nonce="') and "stale=true" in header
    assert switch.lines() == []


@pytest.mark.parametrize("authorization", [
    'Digest username="alice", realm="trunkline", nonce="forged", uri="sip:x@y", response="00", algorithm=MD5',
    "Basic YWxpY2U6czNjcmV0",
    "Digest garbage",
])
def test_a_forged_nonce_or_unreadable_authorization_gets_a_fresh_challenge(switch: Switch,
                                                                            authorization: str) -> None:
    status, answer = switch.run(lambda client: post(
        client, "/route", invite(source_ip=USER_IP, cli="alice", authorization=authorization)))
    assert status == 200 and (answer["code"], answer["routes"]) == (407, [])
    header = answer["headers"]["Proxy-Authenticate"]
    assert header.startswith(f'Digest realm="{REALM}", nonce="') and header.endswith('", algorithm=MD5, qop="auth"')
    assert switch.lines() == []


# --- POST /events ------------------------------------------------------------------------------------------------


def test_a_call_s_events_are_known_and_spooled_in_order(switch: Switch) -> None:
    events = [
        {"call_id": "call-1", "kind": "routed", "at": NOW + 0.01, "uri": f"sip:{NUMBER}@b1.example:5080"},
        {"call_id": "call-1", "kind": "early", "at": NOW + 0.5, "uri": f"sip:{NUMBER}@b1.example:5080", "code": 180},
        {"call_id": "call-1", "kind": "answered", "at": NOW + 2.0, "uri": f"sip:{NUMBER}@b1.example:5080",
         "code": 200, "dialog": {"h_entry": 1234, "h_id": 5678}},
        {"call_id": "call-1", "kind": "ended", "at": NOW + 44.0, "release_reason": "Downstream BYE", "duration": 42},
    ]

    async def scenario(client: TestClient[Any, Any]) -> list[tuple[int, Any]]:
        answers = [await post(client, "/route", invite())]
        return answers + [await post(client, "/events", event) for event in events]

    answers = switch.run(scenario)
    assert answers == [(200, ROUTED)] + [(200, {"known": True})] * 4
    lines = switch.lines()
    assert [(line["kind"], line["call_id"]) for line in lines] == [
        ("attempt", "call-1"), ("routed", "call-1"), ("early", "call-1"), ("answered", "call-1"),
        ("ended", "call-1")]
    routed, early, answered, ended = lines[1:]
    assert (routed["at"], routed["provider"], routed["gateway"], routed["branch"]) == (
        NOW + 0.01, 102, "b1.example:5080", 0)
    assert (early["provider"], early["code"]) == (102, 180)
    assert (answered["provider"], answered["dialog"]) == (102, {"h_entry": 1234, "h_id": 5678})
    assert (ended["release_reason"], ended["duration"]) == ("Downstream BYE", 42)


def test_a_long_or_utf8_reason_phrase_is_kept_cut_to_128_characters(switch: Switch) -> None:
    """A gateway's reason phrase is not Kamailio's to fix: refusing the final failed event would hold the channel."""
    async def scenario(client: TestClient[Any, Any]) -> list[tuple[int, Any]]:
        await post(client, "/route", invite("bolt-1", BOLT_IP))
        failed = {"call_id": "bolt-1", "kind": "failed", "code": 503, "reason": "Servi\u00e7o " + "x" * 200,
                  "final": True}
        return [await post(client, "/events", failed), await post(client, "/route", invite("bolt-2", BOLT_IP))]

    failed, again = switch.run(scenario)
    assert failed == (200, {"known": True}) and again[1]["code"] == 200
    [line] = [line for line in switch.lines() if line["kind"] == "failed"]
    assert line["reason"] == ("Servi\u00e7o " + "x" * 200)[:128] and len(line["reason"]) == 128


def test_control_characters_in_a_reason_phrase_become_spaces_rather_than_refuse_the_event(switch: Switch) -> None:
    """The reason is a gateway's bytes: refusing the final failed event (and the batch it rides in) would hold the
    channels of every call in it until their expiry."""
    async def scenario(client: TestClient[Any, Any]) -> tuple[int, Any]:
        await post(client, "/route", invite("bolt-1", BOLT_IP))
        return await post(client, "/events", {"events": [
            {"call_id": "bolt-1", "kind": "failed", "code": 500, "reason": "Busy\r\nX: 1\x00\x7f", "final": True},
            {"call_id": "bolt-1", "kind": "failed", "code": 500, "reason": "", "final": True}]})

    assert switch.run(scenario) == (200, {"known": [True, False]})
    [line] = [line for line in switch.lines() if line["kind"] == "failed"]
    assert (line["reason"], line["final"]) == ("Busy  X: 1  ", True)
    assert switch.engine.live() == []


def test_an_event_for_an_unknown_call_is_answered_known_false(switch: Switch) -> None:
    status, answer = switch.run(lambda client: post(
        client, "/events", {"call_id": "never-routed", "kind": "ended", "release_reason": "Upstream BYE"}))
    assert (status, answer) == (200, {"known": False})
    assert switch.lines() == []


def test_an_event_after_the_call_ended_is_unknown_and_not_spooled(switch: Switch) -> None:
    async def scenario(client: TestClient[Any, Any]) -> list[tuple[int, Any]]:
        await post(client, "/route", invite())
        ended = {"call_id": "call-1", "kind": "ended", "release_reason": "Upstream BYE", "duration": 3}
        return [await post(client, "/events", ended), await post(client, "/events", ended)]

    assert switch.run(scenario) == [(200, {"known": True}), (200, {"known": False})]
    assert [line["kind"] for line in switch.lines()] == ["attempt", "ended"]


def test_a_spool_that_cannot_be_written_is_a_500_for_the_answered_event(switch: Switch,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """The answered line is written before the answer; a disk problem is the switch's, not Kamailio's."""
    switch.spool_dir.write_text("a file where the spool directory should be")

    async def scenario(client: TestClient[Any, Any]) -> list[tuple[int, Any]]:
        routed = await post(client, "/route", invite())
        return [routed, await post(client, "/events", {"call_id": "call-1", "kind": "answered", "code": 200})]

    routed, answered = switch.run(scenario)
    assert routed == (200, ROUTED)
    assert answered == (500, {"detail": "The engine failed on this event; see the switch's log.", "errors": {}})
    assert "POST /events: the engine failed on answered of call call-1" in caplog.text


def test_a_channel_held_by_a_call_is_let_go_by_its_ended_event(switch: Switch) -> None:
    """Bolt has one channel: a second call is refused until the first one's ended event."""
    async def scenario(client: TestClient[Any, Any]) -> list[Any]:
        first = (await post(client, "/route", invite("bolt-1", BOLT_IP)))[1]
        second = (await post(client, "/route", invite("bolt-2", BOLT_IP)))[1]
        answered = await post(client, "/events", {"call_id": "bolt-1", "kind": "answered", "code": 200})
        still = (await post(client, "/route", invite("bolt-3", BOLT_IP)))[1]
        ended = await post(client, "/events", {"call_id": "bolt-1", "kind": "ended",
                                                "release_reason": "Upstream BYE", "duration": 5})
        again = (await post(client, "/route", invite("bolt-4", BOLT_IP)))[1]
        return [first, second, answered, still, ended, again]

    first, second, answered, still, ended, again = switch.run(scenario)
    refused = {"version": "1.0", "routing": "serial", "routes": [], "code": 503, "reason": "Channel Limit Reached"}
    assert (first["code"], second, answered, still, ended) == (
        200, refused, (200, {"known": True}), refused, (200, {"known": True}))
    assert again == ROUTED
    assert [(line["kind"], line["call_id"], line.get("code")) for line in switch.lines()] == [
        ("attempt", "bolt-1", 200), ("attempt", "bolt-2", 503), ("answered", "bolt-1", None),
        ("attempt", "bolt-3", 503), ("ended", "bolt-1", None), ("attempt", "bolt-4", 200)]


def test_a_second_call_in_the_same_second_is_refused_by_the_cps_limit(switch: Switch) -> None:
    async def scenario(client: TestClient[Any, Any]) -> list[Any]:
        first = (await post(client, "/route", invite("erin-1", BURST_IP)))[1]
        second = (await post(client, "/route", invite("erin-2", BURST_IP)))[1]
        switch.now += 1.5  # the one-second window has moved on
        third = (await post(client, "/route", invite("erin-3", BURST_IP)))[1]
        return [first, second, third]

    first, second, third = switch.run(scenario)
    assert (first["code"], third["code"]) == (200, 200)
    assert second == {"version": "1.0", "routing": "serial", "routes": [], "code": 503, "reason": "CPS Limit Reached"}


def test_a_final_failed_event_lets_the_channel_go_too(switch: Switch) -> None:
    async def scenario(client: TestClient[Any, Any]) -> list[Any]:
        await post(client, "/route", invite("bolt-1", BOLT_IP))
        failed = await post(client, "/events", {"call_id": "bolt-1", "kind": "failed", "code": 503,
                                                 "reason": "Service Unavailable", "final": False,
                                                 "uri": f"sip:{NUMBER}@b1.example:5080"})
        held = (await post(client, "/route", invite("bolt-2", BOLT_IP)))[1]
        final = await post(client, "/events", {"call_id": "bolt-1", "kind": "failed", "code": 486,
                                                "reason": "Busy Here", "final": True,
                                                "uri": f"sip:77#{NUMBER}@198.51.100.77:5060"})
        again = (await post(client, "/route", invite("bolt-3", BOLT_IP)))[1]
        return [failed, held, final, again]

    failed, held, final, again = switch.run(scenario)
    assert failed == final == (200, {"known": True})
    assert (held["code"], held["reason"], again["code"]) == (503, "Channel Limit Reached", 200)
    lines = [line for line in switch.lines() if line["kind"] == "failed"]
    assert [(line["provider"], line["code"], line["reason"], line["final"]) for line in lines] == [
        (102, 503, "Service Unavailable", False), (103, 486, "Busy Here", True)]


# --- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"call_id": None}, "call_id", "This field may not be null."),
    ({"call_id": ""}, "call_id", "This field may not be blank."),
    ({"call_id": 7}, "call_id", "Expected a string."),
    ({"source_ip": "999.1.1.1"}, "source_ip", "Expected an IPv4 or IPv6 address."),
    ({"source_port": "5060"}, "source_port", "Expected an integer."),
    ({"source_port": True}, "source_port", "Expected an integer."),
    ({"source_port": 70000}, "source_port", "Expected an integer from 1 to 65535."),
    ({"transport": "carrier-pigeon"}, "transport", "Expected one of sctp, tcp, tls, udp, ws, wss."),
    ({"number": "4" * 65}, "number", "At most 64 characters."),
    ({"number": "44 12"}, "number", "Holds a character that is not allowed."),
    ({"cli": "1555>"}, "cli", "Holds a character that is not allowed."),
    ({"cli": "1555\r\nX: 1"}, "cli", "Holds a character that is not allowed."),
    ({"pai": "a@b"}, "pai", "Holds a character that is not allowed."),
    ({"pai": 44}, "pai", "Expected a string."),
    ({"authorization": ["Digest"]}, "authorization", "Expected a string."),
    ({"method": "BYE"}, "method", "Only an initial INVITE is routed."),
    ({"routing": "serial"}, "routing", "Unknown field."),
])
def test_a_bad_route_body_is_a_400_naming_the_field_and_routes_nothing(
        switch: Switch, change: dict[str, Any], field: str, message: str) -> None:
    status, answer = switch.run(lambda client: post(client, "/route", invite(**change)))
    assert (status, answer) == (400, {"detail": f"{field}: {message}", "errors": {field: [message]}})
    assert switch.lines() == [] and switch.counters.held() == 0


def test_a_route_body_missing_fields_names_each_of_them(switch: Switch) -> None:
    status, answer = switch.run(lambda client: post(client, "/route", {"call_id": "x", "cli": ""}))
    required = ["This field is required."]
    assert (status, answer["errors"]) == (400, {
        "source_ip": required, "source_port": required, "transport": required, "number": required,
        "method": required})
    assert answer["detail"] == "source_ip: This field is required."


@pytest.mark.parametrize(("event", "field", "message"), [
    ({"call_id": "c", "kind": "hungup"}, "kind", "Expected one of answered, early, ended, failed, routed."),
    ({"call_id": "c", "kind": "attempt"}, "kind", "Expected one of answered, early, ended, failed, routed."),
    ({"kind": "ended"}, "call_id", "This field is required."),
    ({"call_id": "c", "kind": "failed"}, "code", "This field is required."),
    ({"call_id": "c", "kind": "failed", "code": 99}, "code", "Expected an integer from 100 to 699."),
    ({"call_id": "c", "kind": "ended", "at": "now"}, "at", "Expected seconds since the epoch (a number)."),
    ({"call_id": "c", "kind": "ended", "at": True}, "at", "Expected seconds since the epoch (a number)."),
    ({"call_id": "c", "kind": "failed", "code": 500, "final": "yes"}, "final", "Expected true or false."),
    ({"call_id": "c", "kind": "ended", "release_reason": "BYE"}, "release_reason",
     "Expected one of Balance Disconnect, Downstream BYE, Lifetime Timeout, MI Termination, Ping Timeout, "
     "Upstream BYE."),
    ({"call_id": "c", "kind": "ended", "duration": -1}, "duration", "Expected an integer from 0 to 864000."),
    ({"call_id": "c", "kind": "answered", "dialog": {"h_entry": 1}}, "dialog",
     'Expected {"h_entry": <integer>, "h_id": <integer>}.'),
    ({"call_id": "c", "kind": "answered", "dialog": {"h_entry": 1, "h_id": "2"}}, "dialog",
     'Expected {"h_entry": <integer>, "h_id": <integer>}.'),
    ({"call_id": "c", "kind": "early", "uri": "sip:a b"}, "uri", "Holds a character that is not allowed."),
    ({"call_id": "c", "kind": "ended", "cause": "x"}, "cause", "Unknown field."),
])
def test_a_bad_event_is_a_400_naming_the_field_and_spools_nothing(
        switch: Switch, event: dict[str, Any], field: str, message: str) -> None:
    status, answer = switch.run(lambda client: post(client, "/events", event))
    assert (status, answer) == (400, {"detail": f"{field}: {message}", "errors": {field: [message]}})
    assert switch.lines() == []


async def _raw(client: TestClient[Any, Any], method: str, path: str, data: bytes,
               content_type: str = "application/json") -> tuple[int, bytes]:
    async with client.request(method, path, data=data, headers={"Content-Type": content_type}) as response:
        return response.status, await response.read()


@pytest.mark.parametrize("path", ["/route", "/events"])
@pytest.mark.parametrize(("data", "content_type", "status", "detail"), [
    (b"{not json", "application/json", 400, "body: Not valid JSON."),
    (b"\xff\xfe{}", "application/json", 400, "body: Not valid JSON."),
    (b"", "application/json", 400, "body: Not valid JSON."),
    (b"[" * 50_000, "application/json", 400, "body: Not valid JSON."),
    (b"[1, 2]", "application/json", 400, "body: Expected a JSON object."),
    (b"null", "application/json", 400, "body: Expected a JSON object."),
    (b'{"call_id": "c"}', "text/plain", 415, "Content-Type must be application/json, not text/plain."),
    (b'{"call_id": "c"}', "application/x-www-form-urlencoded", 415,
     "Content-Type must be application/json, not application/x-www-form-urlencoded."),
])
def test_garbage_and_wrong_content_types_are_4xx(switch: Switch, path: str, data: bytes, content_type: str,
                                                 status: int, detail: str) -> None:
    got, body = switch.run(lambda client: _raw(client, "POST", path, data, content_type))
    assert (got, json.loads(body)["detail"]) == (status, detail)
    assert switch.lines() == []


@pytest.mark.parametrize("path", ["/route", "/events"])
def test_a_body_over_64_kib_is_413(switch: Switch, path: str) -> None:
    padding = "x" * (64 * 1024)
    got, _ = switch.run(lambda client: _raw(client, "POST", path, json.dumps({"call_id": padding}).encode()))
    assert got == 413
    assert switch.lines() == []


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/route", 405), ("PUT", "/events", 405), ("POST", "/health", 405), ("GET", "/", 404),
    ("POST", "/route/", 404),
])
def test_wrong_methods_and_paths_are_4xx(switch: Switch, method: str, path: str, status: int) -> None:
    got, _ = switch.run(lambda client: _raw(client, method, path, json.dumps(invite()).encode()))
    assert got == status
    assert switch.lines() == []


# --- GET /health ---------------------------------------------------------------------------------------------


def test_health_counts_the_live_calls(switch: Switch) -> None:
    async def scenario(client: TestClient[Any, Any]) -> tuple[Any, Any, Any]:
        async with client.get("/health") as response:
            before = await response.json()
        await post(client, "/route", invite("live-1"))
        await post(client, "/route", invite("live-2", BOLT_IP))
        async with client.get("/health") as response:
            after = await response.json()
        async with client.get("/health?calls=1") as response:
            listed = await response.json()
        return before, after, listed

    before, after, listed = switch.run(scenario)
    assert before == {"status": "ok", "node": "test", "live": 0}
    assert after == {"status": "ok", "node": "test", "live": 2}
    assert sorted(call["call_id"] for call in listed["calls"]) == ["live-1", "live-2"]


# --- POST /events batches ----------------------------------------------------------------------------------------


def test_a_batch_of_events_is_spooled_in_order_and_answered_known_per_event(switch: Switch) -> None:
    uri = f"sip:{NUMBER}@b1.example:5080"
    batch = {"events": [
        {"call_id": "call-1", "kind": "routed", "at": NOW + 0.01, "uri": uri},
        {"call_id": "never-routed", "kind": "early", "uri": uri, "code": 180},
        {"call_id": "call-1", "kind": "answered", "at": NOW + 2.0, "uri": uri, "code": 200,
         "dialog": {"h_entry": 1, "h_id": 2}},
        {"call_id": "call-1", "kind": "ended", "at": NOW + 5.0, "release_reason": "Upstream BYE", "duration": 3},
        {"call_id": "call-1", "kind": "ended", "at": NOW + 5.0, "release_reason": "Upstream BYE", "duration": 3},
    ]}

    async def scenario(client: TestClient[Any, Any]) -> list[tuple[int, Any]]:
        return [await post(client, "/route", invite()), await post(client, "/events", batch),
                await post(client, "/events", {"events": []})]

    routed, answered, empty = switch.run(scenario)
    assert routed == (200, ROUTED)
    # The second end comes after the first let the call go: unknown, as it would be in a body of its own.
    assert answered == (200, {"known": [True, False, True, True, False]})
    assert empty == (200, {"known": []})
    assert [(line["kind"], line["call_id"], line["at"]) for line in switch.lines()] == [
        ("attempt", "call-1", NOW), ("routed", "call-1", NOW + 0.01), ("answered", "call-1", NOW + 2.0),
        ("ended", "call-1", NOW + 5.0)]
    assert switch.engine.live() == []


def test_a_batch_lets_the_channel_of_its_ended_call_go(switch: Switch) -> None:
    """Bolt has one channel: the batch's ended event lets the next call in."""
    async def scenario(client: TestClient[Any, Any]) -> list[Any]:
        first = (await post(client, "/route", invite("bolt-1", BOLT_IP)))[1]
        refused = (await post(client, "/route", invite("bolt-2", BOLT_IP)))[1]
        batch = await post(client, "/events", {"events": [
            {"call_id": "bolt-1", "kind": "answered", "code": 200},
            {"call_id": "bolt-1", "kind": "ended", "release_reason": "Downstream BYE", "duration": 1}]})
        again = (await post(client, "/route", invite("bolt-3", BOLT_IP)))[1]
        return [first["code"], refused["code"], batch, again["code"]]

    assert switch.run(scenario) == [200, 503, (200, {"known": [True, True]}), 200]


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"events": [{"call_id": "call-1", "kind": "ended"}, {"call_id": "call-1", "kind": "failed"}]},
     "events[1].code", "This field is required."),
    ({"events": [{"call_id": "call-1", "kind": "ended"}, {"kind": "ended"}]},
     "events[1].call_id", "This field is required."),
    ({"events": [{"call_id": "call-1", "kind": "ended", "cause": "x"}]}, "events[0].cause", "Unknown field."),
    ({"events": [{"call_id": "call-1", "kind": "ended"}, ["call-1", "ended"]]}, "events[1]",
     "Expected a JSON object."),
    ({"events": {"call_id": "call-1", "kind": "ended"}}, "events", "Expected a list of events."),
    ({"events": [{"call_id": "call-1", "kind": "ended"}] * 1001}, "events", "At most 1000 events."),
    ({"events": [], "call_id": "call-1"}, "call_id", "Unknown field."),
])
def test_a_bad_event_in_a_batch_is_a_400_naming_its_index_and_nothing_of_the_batch_is_taken(
        switch: Switch, body: dict[str, Any], field: str, message: str) -> None:
    async def scenario(client: TestClient[Any, Any]) -> tuple[int, Any]:
        await post(client, "/route", invite())
        return await post(client, "/events", body)

    assert switch.run(scenario) == (400, {"detail": f"{field}: {message}", "errors": {field: [message]}})
    # The good ended event ahead of the bad one was not applied: the call still holds, only its attempt is written.
    assert [line["kind"] for line in switch.lines()] == ["attempt"]
    assert [call["call_id"] for call in switch.engine.live()] == ["call-1"]


def test_a_batch_whose_answered_event_cannot_be_spooled_is_a_500_naming_the_event(
        switch: Switch, caplog: pytest.LogCaptureFixture) -> None:
    switch.spool_dir.write_text("a file where the spool directory should be")

    async def scenario(client: TestClient[Any, Any]) -> list[tuple[int, Any]]:
        routed = await post(client, "/route", invite())
        return [routed, await post(client, "/events", {"events": [
            {"call_id": "other", "kind": "ended"}, {"call_id": "call-1", "kind": "answered", "code": 200}]})]

    routed, answered = switch.run(scenario)
    assert routed == (200, ROUTED)
    assert answered == (500, {"detail": "The engine failed on event 1 of the batch; see the switch's log.",
                              "errors": {}})
    assert "POST /events: the engine failed on answered of call call-1" in caplog.text
