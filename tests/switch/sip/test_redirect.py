"""trunkline.switch.sip.redirect: the 302's Contacts, their order, q values and escaping, byte for byte."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest

from tests.switch.sip.test_message import SIPP_INVITE, SIPP_REQUEST
from trunkline.contracts.snapshot import Gateway, Provider, RateRow, Transport
from trunkline.switch.sip.message import parse_request
from trunkline.switch.sip.redirect import build_redirect, contacts, q_values
from trunkline.switch.types import Decision, Egress

RATE = RateRow("44", Decimal("0.0100"))


def _egress(provider: Provider) -> Egress:
    return Egress(provider, provider.gateways, provider.id, RATE, Decimal("0.0100"), Decimal("0.0020"))


FIRST = Provider(1, "First", (Gateway("10.0.0.1"), Gateway("gw2.example.com", 5080, Transport.TCP)), tech_prefix="99")
SECOND = Provider(2, "Second", (Gateway("[2001:db8::5]", 5062, Transport.TLS),))
ROUTED = Decision(True, 200, "Routed", (), destination="442079460000", cli="15551230000", pai="15551230001",
                  routes=(_egress(FIRST), _egress(SECOND)))


def test_one_contact_per_gateway_in_order() -> None:
    assert contacts(ROUTED, "udp") == [
        "<sip:99442079460000@10.0.0.1:5060?X-CLI=15551230000&P-Asserted-Identity=%3Csip:15551230001%4010.0.0.1%3E>"
        ";q=1.0",
        "<sip:99442079460000@gw2.example.com:5080;transport=tcp?X-CLI=15551230000"
        "&P-Asserted-Identity=%3Csip:15551230001%40gw2.example.com%3E>;q=0.9",
        "<sip:442079460000@[2001:db8::5]:5062;transport=tls?X-CLI=15551230000"
        "&P-Asserted-Identity=%3Csip:15551230001%40[2001:db8::5]%3E>;q=0.8",
    ]


def test_302_bytes() -> None:
    request = parse_request(SIPP_INVITE.replace(b"z9hG4bK-4711-1-0", b"z9hG4bK-4711-1-0;rport"))
    decision = ROUTED._replace(routes=(_egress(SECOND),), pai=None)
    assert build_redirect(request, decision, "r302", received="192.0.2.1", rport=5061) == (
        b"SIP/2.0 302 Moved Temporarily\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0;received=192.0.2.1;rport=5061\r\n"
        b"From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001\r\n"
        b"To: 15551234567 <sip:15551234567@127.0.0.1:5060>;tag=r302\r\n"
        b"Call-ID: 1-4711@127.0.0.1\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Contact: <sip:442079460000@[2001:db8::5]:5062;transport=tls?X-CLI=15551230000>;q=1.0\r\n"
        b"Server: Trunkline\r\n"
        b"Content-Length: 0\r\n\r\n")


def test_302_without_received_and_with_keyword_tag() -> None:
    response = build_redirect(SIPP_REQUEST, ROUTED, to_tag="k").decode().split("\r\n")
    assert response[1] == "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0"
    assert response[3] == "To: 15551234567 <sip:15551234567@127.0.0.1:5060>;tag=k"
    assert response[6:9] == [f"Contact: {contact}" for contact in contacts(ROUTED, "udp")]
    assert response[9:] == ["Server: Trunkline", "Content-Length: 0", "", ""]


def test_no_cli_and_no_pai_leave_no_uri_headers() -> None:
    decision = ROUTED._replace(cli="", pai=None, routes=(_egress(SECOND),))
    assert contacts(decision, "tcp") == ["<sip:442079460000@[2001:db8::5]:5062;transport=tls>;q=1.0"]
    decision = decision._replace(pai="777")
    assert contacts(decision, "udp") == [
        "<sip:442079460000@[2001:db8::5]:5062;transport=tls?P-Asserted-Identity=%3Csip:777%40[2001:db8::5]%3E>"
        ";q=1.0"]


def test_escaping() -> None:
    # User part: RFC 3261 user-unreserved stays ('&=+$,;?/'), '#', '%', '@', ' ' and '<' are escaped.
    # URI header values: hnv-unreserved stays ('[]/?:+$'), '&', '=', ';', '@', '<', '>', '"' and ' ' are escaped.
    provider = Provider(3, "Hash", (Gateway("10.9.9.9"),), tech_prefix="12#")
    decision = Decision(True, 200, "Routed", (), destination="+44 20@x%;a=b", cli='Anonymous "x" <a&b=c;d>',
                        pai="+1/2?$:[3]", routes=(_egress(provider),))
    assert contacts(decision, "udp") == [
        "<sip:12%23+44%2020%40x%25;a=b@10.9.9.9:5060"
        "?X-CLI=Anonymous%20%22x%22%20%3Ca%26b%3Dc%3Bd%3E"
        "&P-Asserted-Identity=%3Csip:+1/2?$:[3]%4010.9.9.9%3E>;q=1.0"]


def test_non_ascii_cli_is_utf8_escaped() -> None:
    decision = ROUTED._replace(cli="Zoë", pai=None, routes=(_egress(SECOND),))
    assert contacts(decision, "udp") == ["<sip:442079460000@[2001:db8::5]:5062;transport=tls?X-CLI=Zo%C3%AB>;q=1.0"]


@pytest.mark.parametrize(("count", "expected"), [
    (0, ()),
    (1, ("1.0",)),
    (3, ("1.0", "0.9", "0.8")),
    (10, ("1.0", "0.9", "0.8", "0.7", "0.6", "0.5", "0.4", "0.3", "0.2", "0.1")),
    (11, ("1.000", "0.910", "0.820", "0.730", "0.640", "0.550", "0.460", "0.370", "0.280", "0.190", "0.100")),
])
def test_q_values(count: int, expected: tuple[str, ...]) -> None:
    assert q_values(count) == expected


@pytest.mark.parametrize("count", [11, 12, 37, 100, 450, 901])
def test_q_values_stay_strictly_descending_and_at_least_a_tenth(count: int) -> None:
    values = [Decimal(value) for value in q_values(count)]
    assert len(values) == count
    assert values[0] == Decimal("1.000")
    assert all(first > second for first, second in pairwise(values))
    assert min(values) >= Decimal("0.100")
    assert all(len(value) == 5 for value in q_values(count))


def test_q_values_past_901_floor_at_a_tenth() -> None:
    values = q_values(1000)
    assert values[:2] == ("1.000", "0.999")
    assert values[900:] == ("0.100",) * 100


def test_many_gateways_get_three_decimals_in_the_302() -> None:
    provider = Provider(4, "Wide", tuple(Gateway(f"10.0.1.{index}") for index in range(12)))
    lines = contacts(ROUTED._replace(routes=(_egress(provider),), cli="", pai=None), "udp")
    assert lines[0] == "<sip:442079460000@10.0.1.0:5060>;q=1.000"
    assert lines[1] == "<sip:442079460000@10.0.1.1:5060>;q=0.919"
    assert lines[11] == "<sip:442079460000@10.0.1.11:5060>;q=0.109"


def test_cached_pieces_follow_a_new_index() -> None:
    # Same host in a new index with another tech prefix and transport: the cache must not answer with the old one.
    old = Provider(5, "Old", (Gateway("10.7.7.7"),), tech_prefix="1")
    assert contacts(ROUTED._replace(routes=(_egress(old),), cli="", pai=None), "udp") == [
        "<sip:1442079460000@10.7.7.7:5060>;q=1.0"]
    new = Provider(5, "Old", (Gateway("10.7.7.7", 5070, Transport.TCP),), tech_prefix="2")
    assert contacts(ROUTED._replace(routes=(_egress(new),), cli="", pai=None), "udp") == [
        "<sip:2442079460000@10.7.7.7:5070;transport=tcp>;q=1.0"]
