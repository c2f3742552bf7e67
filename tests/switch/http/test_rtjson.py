"""rtjson.py: a Decision as the rtjson document Kamailio's rtjson module reads, key for key."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from decimal import Decimal

from trunkline.contracts.snapshot import (
    Customer,
    Gateway,
    IngressRoute,
    IpAuth,
    Provider,
    RateCard,
    RateRow,
    RoutingSnapshot,
    Transport,
)
from trunkline.switch.counters import MemoryCounters
from trunkline.switch.decide import decide
from trunkline.switch.http import rtjson
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.types import Call, Decision, Egress

D = Decimal
ALPHA = Provider(101, "Alpha", (Gateway("a1.example"), Gateway("a2.example", 5070, Transport.TCP)))
BRAVO = Provider(102, "Bravo", (Gateway("2001:db8::7", 5080, Transport.TLS),), tech_prefix="77#")
ROW = RateRow("44", D("0.01"))


def accepted(*, pai: str | None = None, max_duration: int | None = 3600) -> Decision:
    return Decision(True, 200, "Routed", (), destination="441234567890", cli="15551234567", pai=pai,
                    routes=(Egress(ALPHA, ALPHA.gateways, 11, ROW, D("0.01"), D("0.04")),
                            Egress(BRAVO, BRAVO.gateways, 12, ROW, D("0.02"), D("0.03"))),
                    max_duration=max_duration)


def route(uri: str, dst_uri: str, from_uri: str, extra: str | None = None) -> dict[str, object]:
    headers: dict[str, object] = {"from": {"uri": from_uri}}
    if extra is not None:
        headers["extra"] = extra
    return {"uri": uri, "dst_uri": dst_uri, "headers": headers, "fr_timer": 3000, "fr_inv_timer": 60000}


def test_a_routed_decision_is_one_route_per_gateway_in_egress_order() -> None:
    assert rtjson.document(accepted()) == {
        "version": "1.0", "routing": "serial", "code": 200, "reason": "Routed", "max_duration": 3600,
        "routes": [
            route("sip:441234567890@a1.example:5060", "sip:a1.example:5060;transport=udp",
                  "sip:15551234567@a1.example"),
            route("sip:441234567890@a2.example:5070", "sip:a2.example:5070;transport=tcp",
                  "sip:15551234567@a2.example"),
            route("sip:77#441234567890@[2001:db8::7]:5080", "sip:[2001:db8::7]:5080;transport=tls",
                  "sip:15551234567@[2001:db8::7]"),
        ]}


def test_the_p_asserted_identity_goes_in_extra_headers_with_crlf() -> None:
    routes = rtjson.document(accepted(pai="442079460000", max_duration=None))
    assert routes["max_duration"] is None
    assert [item["headers"]["extra"] for item in routes["routes"]] == [
        "P-Asserted-Identity: <sip:442079460000@a1.example>\r\n",
        "P-Asserted-Identity: <sip:442079460000@a2.example>\r\n",
        "P-Asserted-Identity: <sip:442079460000@[2001:db8::7]>\r\n"]


def test_a_reject_has_no_routes_and_the_code_and_reason() -> None:
    decision = Decision(False, 403, "IP Not Authorised", ())
    expected = {"version": "1.0", "routing": "serial", "routes": [], "code": 403, "reason": "IP Not Authorised"}
    assert rtjson.document(decision) == expected
    assert json.loads(rtjson.encode(decision)) == expected
    assert rtjson.encode(decision) is rtjson.encode(Decision(False, 403, "IP Not Authorised", ()))  # built once


def test_a_challenge_carries_the_proxy_authenticate_header() -> None:
    header = 'Digest realm="trunkline", nonce="abc", algorithm=MD5, qop="auth"'
    expected = {"version": "1.0", "routing": "serial", "routes": [], "code": 407,
                "reason": "Proxy Authentication Required", "headers": {"Proxy-Authenticate": header}}
    assert rtjson.document(Decision(False, 407, "Proxy Authentication Required", ()), header) == expected
    assert json.loads(rtjson.encode(Decision(False, 407, "Proxy Authentication Required", ()), header)) == expected


def test_encode_is_the_document_as_compact_json() -> None:
    decision = accepted(pai="442079460000")
    body = rtjson.encode(decision)
    assert json.loads(body) == rtjson.document(decision)
    assert b"\r\n" not in body and b"\\r\\n" in body and b", " not in body


def test_a_decision_from_decide_routes_with_its_rewritten_number_and_tech_prefixes() -> None:
    snapshot = RoutingSnapshot(
        1, datetime(2026, 12, 6, tzinfo=UTC), customers=(Customer(1, "Acme"),),
        ip_auths=(IpAuth(1, 1, "192.0.2.10"),), providers=(ALPHA, BRAVO),
        ingress_routes=(IngressRoute(1, 1, 1, tech_prefix="9#", max_duration=90),),
        rate_cards=(RateCard(1, "Retail", "USD", (RateRow("44", D("0.05")),), egress_card_ids=(11, 12)),
                    RateCard(11, "Alpha", "USD", (RateRow("44", D("0.02")),), provider_id=101),
                    RateCard(12, "Bravo", "USD", (RateRow("44", D("0.01")),), provider_id=102)))
    counters = MemoryCounters()
    counters.set_balance(1, D(10))
    decision = decide(SnapshotIndex(snapshot), counters, Call("192.0.2.10", "9#441234567890", "15551234567"),
                      random.Random(1))
    document = rtjson.document(decision)
    assert (document["code"], document["reason"], document["max_duration"]) == (200, "Routed", 90)
    assert [item["uri"] for item in document["routes"]] == [
        "sip:77#441234567890@[2001:db8::7]:5080", "sip:441234567890@a1.example:5060",
        "sip:441234567890@a2.example:5070"]


def test_encode_joins_the_same_document_for_any_strings_and_no_limit() -> None:
    odd = Provider(103, 'Odd "one"', (Gateway('gw\\"x.example', 5062),), tech_prefix='9"\\')
    decision = accepted(pai="+44 \"20\" \u00e9\t", max_duration=None)._replace(
        destination='1\\2"3', cli="\u00e9\u00e8\x01", routes=(*accepted().routes,
                                                             Egress(odd, odd.gateways, 13, ROW, D(0), D(0))))
    assert json.loads(rtjson.encode(decision)) == rtjson.document(decision)
    assert json.loads(rtjson.encode(accepted())) == rtjson.document(accepted())
    assert json.loads(rtjson.encode(decision._replace(routes=()))) == {
        "version": "1.0", "routing": "serial", "code": 200, "reason": "Routed", "max_duration": None, "routes": []}


def test_an_empty_cli_keeps_the_callers_from_header() -> None:
    decision = accepted(pai="442079460000")._replace(cli="")
    document = rtjson.document(decision)
    assert document["routes"][0] == {
        "uri": "sip:441234567890@a1.example:5060", "dst_uri": "sip:a1.example:5060;transport=udp",
        "headers": {"extra": "P-Asserted-Identity: <sip:442079460000@a1.example>\r\n"},
        "fr_timer": 3000, "fr_inv_timer": 60000}
    assert json.loads(rtjson.encode(decision)) == document
    bare = decision._replace(pai=None)
    assert rtjson.document(bare)["routes"][0] == {
        "uri": "sip:441234567890@a1.example:5060", "dst_uri": "sip:a1.example:5060;transport=udp",
        "fr_timer": 3000, "fr_inv_timer": 60000}
    assert json.loads(rtjson.encode(bare)) == rtjson.document(bare)
