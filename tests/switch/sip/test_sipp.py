"""SIPp (Debian's sip-tester) against a running `trunkline switch`: the scenarios of scenarios/ over real sockets.

Each scenario checks what it receives itself (`<ereg check_it="true">` on the status line and headers): a call
fails, and SIPp exits non-zero, when an answer is missing, comes in another order or differs.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

import pytest

from tests.switch.sip.conftest import (
    ACME_IP,
    ALICE,
    ALICE_PASSWORD,
    BROKE_IP,
    CLI,
    GATEWAYS,
    LIMITED_IP,
    NUMBER,
    PREFIXED_IP,
    RAPID_IP,
    SIP_USER_IP,
    SPARE_IPS,
    UNKNOWN_IP,
    UNRATED,
    Peer,
    Sipp,
    SippResult,
    Switch,
    contact_values,
)


def posix_literal(text: str) -> str:
    """`text` as a POSIX extended regular expression matching exactly it (SIPp compiles <ereg> with regcomp)."""
    out = []
    for char in text:
        if char == "\\":
            out.append("[\\]")
        elif char == "^":
            out.append("\\^")
        elif char in ".[$()|*+?{}":
            out.append(f"[{char}]")
        elif char == "]":
            out.append("[]]")
        else:
            out.append(char)
    return "".join(out)


def expected_contacts(number: str = NUMBER, cli: str = CLI, local_ip: str = ACME_IP, transport: str = "udp") -> str:
    """Every Contact of the 302 for `number`, in order, each a whole line (what follows is CRLF: `[^ -~]`)."""
    lines = [posix_literal(f"Contact: {value}") for value in contact_values(number, cli, local_ip, transport)]
    return escape("[^ -~]{2}".join(lines) + "[^ -~]")


def passed(result: SippResult, calls: int = 1) -> None:
    assert result.ok, f"SIPp exit {result.returncode}\n{result.errors}\n{result.stdout[-3000:]}"
    assert (result.count("Successful call"), result.count("Failed call")) == (calls, 0)


def tokens(**values: str) -> dict[str, str]:
    return {"CLI": CLI, **{name: escape(value) for name, value in values.items()}}


def test_an_invite_gets_100_then_302_with_one_contact_per_gateway_in_order(switch: Switch, sipp: Sipp) -> None:
    result = sipp("uac_302.xml", switch.sip_port, tokens={**tokens(), "CONTACTS": expected_contacts()})
    passed(result)
    assert len(GATEWAYS) == 3


def test_over_tcp_an_invite_gets_100_then_302(switch: Switch, sipp: Sipp) -> None:
    result = sipp("uac_302.xml", switch.sip_port, transport="t1", local_ip=SPARE_IPS[1],
                  tokens={**tokens(), "CONTACTS": expected_contacts(local_ip=SPARE_IPS[1], transport="tcp")})
    passed(result)


@pytest.mark.parametrize(("local_ip", "number", "code", "reason"), [
    (UNKNOWN_IP, NUMBER, "403", "IP Not Authorised"),
    (BROKE_IP, NUMBER, "402", "Insufficient Balance"),
    (PREFIXED_IP, NUMBER, "580", "No Route Available"),
    (ACME_IP, UNRATED, "503", "No Routes Available (Pre)"),
])
def test_each_reject_comes_with_its_code_and_reason_phrase(switch: Switch, sipp: Sipp, local_ip: str, number: str,
                                                           code: str, reason: str) -> None:
    before = len([line for line in switch.spool_lines() if line["source_ip"] == local_ip])
    result = sipp("uac_reject.xml", switch.sip_port, local_ip=local_ip, service=number,
                  tokens=tokens(CODE=code, REASON=posix_literal(reason)))
    passed(result)
    attempts = [line for line in switch.spool_lines() if line.get("source_ip") == local_ip]
    assert len(attempts) == before + 1
    assert (attempts[-1]["kind"], attempts[-1]["code"], attempts[-1]["reason"], attempts[-1]["dst_in"]) == (
        "attempt", int(code), reason, number)


def test_the_third_concurrent_call_of_a_customer_limited_to_two_channels_gets_503(switch: Switch, sipp: Sipp) -> None:
    # The two 302s hold their channels: no failed/ended event comes for them (a redirect server sees none).
    passed(sipp("uac_302.xml", switch.sip_port, local_ip=LIMITED_IP, calls=2,
                tokens={**tokens(), "CONTACTS": expected_contacts(local_ip=LIMITED_IP)}), 2)
    passed(sipp("uac_reject.xml", switch.sip_port, local_ip=LIMITED_IP,
                tokens=tokens(CODE="503", REASON=posix_literal("Channel Limit Reached"))))


def test_the_second_call_within_a_second_of_a_customer_limited_to_1_cps_gets_503(
        switch: Switch, sipp: Sipp, peer_factory: Callable[..., Peer]) -> None:
    peer = peer_factory(switch.sip_port, RAPID_IP)
    peer.send(peer.invite())
    assert [peer.receive().code, peer.receive().code] == [100, 302]
    passed(sipp("uac_reject.xml", switch.sip_port, local_ip=RAPID_IP,
                tokens=tokens(CODE="503", REASON=posix_literal("CPS Limit Reached"))))


def test_a_sip_user_is_challenged_then_routed_with_its_digest(switch: Switch, sipp: Sipp) -> None:
    result = sipp("uac_auth.xml", switch.sip_port, local_ip=SIP_USER_IP,
                  tokens=tokens(USER=ALICE, PASSWORD=ALICE_PASSWORD, CODE="302", REASON="Moved Temporarily"))
    passed(result)
    assert result.messages.count("Proxy-Authorization: Digest username=\"alice\"") == 1


def test_a_wrong_password_gets_403_unknown_user(switch: Switch, sipp: Sipp) -> None:
    passed(sipp("uac_auth.xml", switch.sip_port, local_ip=SIP_USER_IP,
                tokens=tokens(USER=ALICE, PASSWORD="not-the-password", CODE="403", REASON="Unknown User")))


def test_options_gets_200_with_allow_and_accept(switch: Switch, sipp: Sipp) -> None:
    passed(sipp("uac_options.xml", switch.sip_port))


def test_a_cancel_after_the_final_answer_gets_200(switch: Switch, sipp: Sipp) -> None:
    passed(sipp("uac_cancel.xml", switch.sip_port, local_ip=SPARE_IPS[2], tokens=tokens()))


def test_a_cancel_of_an_unknown_transaction_gets_481(switch: Switch, sipp: Sipp) -> None:
    passed(sipp("uac_cancel_unknown.xml", switch.sip_port, tokens=tokens()))


def test_a_hundred_calls_at_50_per_second_all_get_their_302(switch: Switch, sipp: Sipp) -> None:
    result = sipp("uac_302.xml", switch.sip_port, local_ip=SPARE_IPS[3], calls=100, rate=50,
                  tokens={**tokens(), "CONTACTS": expected_contacts(local_ip=SPARE_IPS[3])})
    passed(result, 100)
    assert [result.row(label)[0] for label in ("INVITE", "100", "302", "ACK")] == [100] * 4
