"""`trunkline switch` answering raw SIP over real UDP and TCP sockets: exact bytes, transactions, bad input.

SIPp (test_sipp.py) checks the flows a UA sees; these tests send what SIPp cannot (a retransmission of the very same
INVITE, a BYE outside a dialog, broken and oversized requests, thousands of mutated ones) and compare answers byte
for byte.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Callable

from tests.switch.sip.conftest import (
    ACME_IP,
    CLI,
    NUMBER,
    SIP_USER_IP,
    SPARE_IPS,
    Peer,
    Switch,
    contact_values,
    invite,
    parse_response,
)

PeerFactory = Callable[..., Peer]


def expected(switch: Switch, peer: Peer, status: str, *, branch: str, call_id: str, tag: str | None,
             headers: tuple[str, ...] = (), cseq: str = "1 INVITE") -> bytes:
    to = f"<sip:{NUMBER}@127.0.0.1:{switch.sip_port}>" + (f";tag={tag}" if tag is not None else "")
    lines = [f"SIP/2.0 {status}", f"Via: SIP/2.0/UDP {peer.local_ip}:{peer.local_port};branch={branch}",
             f"From: <sip:{CLI}@{peer.local_ip}>;tag=caller-{branch[-6:]}", f"To: {to}", f"Call-ID: {call_id}",
             f"CSeq: {cseq}", *headers, "Server: Trunkline", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def test_an_invite_gets_100_trying_then_the_302_byte_for_byte(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    branch, call_id = "z9hG4bK-exact-1", f"{uuid.uuid4().hex}@test"
    peer.send(peer.invite(branch=branch, call_id=call_id))
    trying, moved = peer.receive(), peer.receive()
    assert trying.data == expected(switch, peer, "100 Trying", branch=branch, call_id=call_id, tag=None)
    tag = moved.header("To").rpartition(";tag=")[2]
    assert tag
    assert moved.data == expected(switch, peer, "302 Moved Temporarily", branch=branch, call_id=call_id, tag=tag,
                                  headers=tuple(f"Contact: {value}" for value in contact_values()))
    attempt, = switch.wait_for_attempt(call_id)
    assert (attempt["code"], attempt["reason"], attempt["source_ip"], attempt["source_port"], attempt["transport"],
            attempt["dst_in"], attempt["cli_in"], attempt["node"]) == (
        200, "Routed", ACME_IP, peer.local_port, "udp", NUMBER, CLI, "test-node")


def test_the_cli_and_p_asserted_identity_ride_on_every_contact(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    peer.send(peer.invite(headers=("P-Asserted-Identity: <sip:15550001111@carrier.example>",)))
    assert peer.receive().code == 100
    assert peer.receive().values("Contact") == [
        f"<sip:{NUMBER}@b.example:5080?X-CLI={CLI}&P-Asserted-Identity=%3Csip:15550001111%40b.example%3E>;q=1.0",
        f"<sip:{NUMBER}@a.example:5060?X-CLI={CLI}&P-Asserted-Identity=%3Csip:15550001111%40a.example%3E>;q=0.9",
        f"<sip:77%23{NUMBER}@c.example:5060?X-CLI={CLI}&P-Asserted-Identity=%3Csip:15550001111%40c.example%3E>;q=0.8",
    ]


def test_a_retransmitted_invite_gets_the_same_final_and_is_decided_once(switch: Switch,
                                                                         peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    request = peer.invite()
    call_id = parse_response(b"SIP/2.0 0 x\r\n" + request.split(b"\r\n", 1)[1]).header("Call-ID")
    peer.send(request)
    first = [peer.receive().data, peer.receive().data]
    peer.send(request)  # the same datagram again, as a UAC whose timer A fired
    again = peer.receive().data
    assert again == first[1] and parse_response(again).code == 302
    # A later call's attempt on the spool means everything before it was flushed too.
    marker = peer.invite()
    peer.send(marker)
    assert [peer.receive().code, peer.receive().code] == [100, 302]
    switch.wait_for_attempt(parse_response(b"SIP/2.0 0 x\r\n" + marker.split(b"\r\n", 1)[1]).header("Call-ID"))
    assert len(switch.attempts(call_id)) == 1


def test_the_final_is_sent_again_over_udp_until_the_ack_comes(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    branch = "z9hG4bK-unacked-1"
    request = peer.invite(branch=branch)
    peer.send(request)
    assert peer.receive().code == 100
    final = peer.receive()
    assert final.code == 302
    # Timer G: again after T1 (0.5 s), then after 2 x T1 (1 s).
    assert peer.receive(timeout=2.0).data == final.data
    assert peer.receive(timeout=2.0).data == final.data
    tag = final.header("To").rpartition(";tag=")[2]
    ack = invite(switch.sip_port, local_port=peer.local_port, method="ACK", branch=branch, to_tag=tag,
                 call_id=final.header("Call-ID"))
    peer.send(ack)
    assert peer.silent(3.0)  # the next one would have come 2 s after the last
    peer.send(ack)  # a retransmitted ACK is absorbed too
    assert peer.silent(0.5)


def test_an_ack_is_absorbed_and_never_answered(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    peer.send(peer.invite(method="ACK", to_tag="nobody"))  # an ACK matching no transaction
    peer.send(peer.invite(method="ACK", to_tag="nobody").replace(b"CSeq: 1 ACK", b"CSeq: x ACK"))  # a broken one
    assert peer.silent(0.5)


def test_max_forwards_0_gets_483(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    request = peer.invite().replace(b"Max-Forwards: 70", b"Max-Forwards: 0")
    peer.send(request)
    assert peer.receive().code == 100
    answer = peer.receive()
    assert (answer.code, answer.reason) == (483, "Too Many Hops")


def test_a_bye_outside_any_dialog_gets_481_and_register_gets_405_with_allow(switch: Switch,
                                                                           peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    peer.send(peer.invite(method="BYE", to_tag="x1"))
    bye = peer.receive()
    assert (bye.code, bye.reason, bye.header("CSeq")) == (481, "Call/Transaction Does Not Exist", "1 BYE")
    peer.send(peer.invite(method="REGISTER"))
    register = peer.receive()
    assert (register.code, register.reason, register.header("Allow")) == (
        405, "Method Not Allowed", "INVITE, ACK, CANCEL, OPTIONS")
    peer.send(peer.invite(to_tag="x2"))  # a re-INVITE: the dialog does not exist here either
    assert [peer.receive().code] == [481]


def test_the_answer_goes_to_the_source_with_received_and_rport(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    request = peer.invite(branch="z9hG4bK-rport-1").replace(
        f"Via: SIP/2.0/UDP {ACME_IP}:{peer.local_port};branch=z9hG4bK-rport-1".encode(),
        b"Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-rport-1;rport")
    peer.send(request)
    assert peer.receive().header("Via") == (
        f"SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-rport-1;received={ACME_IP};rport={peer.local_port}")
    assert peer.receive().code == 302


def test_a_malformed_request_gets_400_with_the_reason_when_it_can_be_addressed(switch: Switch,
                                                                               peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    broken = peer.invite(call_id="broken-1@test").replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE")
    peer.send(broken)
    answer = peer.receive()
    assert (answer.code, answer.reason, answer.header("Call-ID"), answer.header("CSeq")) == (
        400, "Bad CSeq", "broken-1@test", "one INVITE")
    assert answer.header("To").endswith(";tag=bad")
    peer.send(b"INVITE sip:1@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKq\r\n\r\n")  # no Call-ID: dropped
    peer.send(b"\x16\x03\x01\x02\x00")  # not SIP at all: dropped
    peer.send(b"SIP/2.0 200 OK\r\n\r\n")  # a response: ignored
    assert peer.silent(0.5)
    assert switch.attempts("broken-1@test") == []


def test_an_oversized_datagram_gets_400_message_too_large(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    request = peer.invite(call_id="huge-1@test", headers=(f"X-Padding: {'a' * 20_000}",))
    peer.send(request)
    answer = peer.receive()
    assert (answer.code, answer.reason, answer.header("Call-ID")) == (400, "Message Too Large", "huge-1@test")
    assert switch.attempts("huge-1@test") == []


def test_a_nonce_that_is_not_ours_gets_a_fresh_challenge(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port, SIP_USER_IP)
    authorization = ('Proxy-Authorization: Digest username="alice", realm="trunkline", nonce="forged", '
                     f'uri="sip:{NUMBER}@127.0.0.1", response="0123456789abcdef0123456789abcdef", algorithm=MD5')
    peer.send(peer.invite(cli="alice", call_id="forged-1@test", headers=(authorization,)))
    assert peer.receive().code == 100
    answer = peer.receive()
    challenge = answer.header("Proxy-Authenticate")
    assert (answer.code, answer.reason) == (407, "Proxy Authentication Required")
    assert challenge.startswith('Digest realm="trunkline", nonce="') and "stale" not in challenge
    assert challenge.endswith('", algorithm=MD5, qop="auth"')
    assert switch.attempts("forged-1@test") == []  # a challenge is no attempt


def test_over_tcp_pipelined_requests_are_answered_in_order_on_the_connection(switch: Switch) -> None:
    with socket.create_connection(("127.0.0.1", switch.sip_port), timeout=5) as stream:
        local_port = stream.getsockname()[1]
        first = invite(switch.sip_port, local_port=local_port, transport="TCP", call_id="tcp-1@test")
        options = invite(switch.sip_port, local_port=local_port, transport="TCP", call_id="tcp-2@test",
                         method="OPTIONS")
        stream.sendall(b"\r\n\r\n" + first + options[:40])  # a keep-alive, a request, half of the next
        stream.sendall(options[40:])
        received = b""
        while received.count(b"Content-Length: 0\r\n\r\n") < 3 or not received.startswith(b"\r\n"):
            chunk = stream.recv(65536)
            assert chunk, received
            received += chunk
    assert received.startswith(b"\r\nSIP/2.0 100 Trying\r\n")  # the keep-alive's pong first
    end = b"Content-Length: 0\r\n\r\n"
    answers = [parse_response(part + end) for part in received[2:].split(end)[:-1]]
    assert [(answer.code, answer.header("Call-ID")) for answer in answers] == [
        (100, "tcp-1@test"), (302, "tcp-1@test"), (200, "tcp-2@test")]
    assert answers[1].values("Contact") == contact_values()
    attempt, = switch.wait_for_attempt("tcp-1@test")
    assert attempt["transport"] == "tcp"


def test_over_tcp_a_frame_that_cannot_be_cut_gets_400_and_the_connection_closes(switch: Switch) -> None:
    with socket.create_connection(("127.0.0.1", switch.sip_port), timeout=5) as stream:
        request = invite(switch.sip_port, call_id="tcp-bad@test").replace(b"Content-Length: 0\r\n", b"")
        stream.sendall(request)
        received = b""
        while chunk := stream.recv(65536):
            received += chunk
    answer = parse_response(received)
    assert (answer.code, answer.reason, answer.header("Call-ID")) == (400, "Missing Content-Length", "tcp-bad@test")


def mutations(seed: int, count: int, port: int) -> list[bytes]:
    """`count` broken INVITEs: truncated, bytes flipped, inserted or deleted, lines swapped or doubled."""
    rng = random.Random(seed)
    base = invite(port, local_ip=SPARE_IPS[0], call_id="fuzz@test",
                  headers=("P-Asserted-Identity: \"Fuzz\" <sip:15550001111@x.example>",
                           'Proxy-Authorization: Digest username="alice", realm="trunkline", nonce="n", uri="u", '
                           'response="r"'))
    found = []
    for _ in range(count):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            kind = rng.randrange(6)
            at = rng.randrange(len(data) or 1)
            if kind == 0:
                del data[rng.randrange(len(data) + 1):]  # truncated
            elif kind == 1 and data:
                data[at] = rng.randrange(256)
            elif kind == 2:
                data[at:at] = bytes(rng.choice(b":;<>@\r\n\x00\xff\" =,") for _ in range(rng.randint(1, 8)))
            elif kind == 3:
                del data[at:at + rng.randint(1, 30)]
            elif kind == 4:
                lines = bytes(data).split(b"\r\n")
                first, second = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[first], lines[second] = lines[second], lines[first]
                data = bytearray(b"\r\n".join(lines))
            else:
                lines = bytes(data).split(b"\r\n")
                line = rng.randrange(len(lines))
                lines.insert(line, lines[line])
                data = bytearray(b"\r\n".join(lines))
        found.append(bytes(data))
    return found


def test_thousands_of_mutated_and_truncated_invites_never_stop_the_server(switch: Switch,
                                                                          peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port, SPARE_IPS[0])
    sent = mutations(seed=20261206, count=3000, port=switch.sip_port)
    for number, data in enumerate(sent):
        peer.send(data)
        if number % 50 == 49:  # let the switch keep up so the kernel drops nothing we then wait for
            while not peer.silent(0.002):
                pass
    while not peer.silent(0.3):  # drain the answers
        pass
    assert switch.alive()
    log = switch.log()
    assert "Traceback" not in log and "failed" not in log, log[-3000:]
    valid = peer_factory(switch.sip_port)
    valid.send(valid.invite(call_id="after-fuzz@test"))
    assert [valid.receive().code, valid.receive().code] == [100, 302]
    assert switch.wait_for_attempt("after-fuzz@test")[0]["code"] == 200


def test_over_tcp_a_peer_that_never_reads_its_answers_is_cut_off(switch: Switch) -> None:
    with socket.create_connection(("127.0.0.1", switch.sip_port), timeout=10) as stream:
        batch = b"".join(invite(switch.sip_port, method="OPTIONS", transport="TCP", call_id=f"flood-{n}@test")
                         for n in range(1000))
        cut = False
        for _ in range(200):  # up to 200,000 OPTIONS (~60 MB of answers); ~10 MB fill the kernels' buffers
            try:
                stream.sendall(batch)
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
        assert cut
    assert switch.alive()
    peer = Peer(switch.sip_port)
    try:
        assert [answer.code for answer in peer.call()] == [100, 302]
    finally:
        peer.close()


def test_options_with_max_forwards_0_is_answered_here(switch: Switch, peer_factory: PeerFactory) -> None:
    peer = peer_factory(switch.sip_port)
    peer.send(peer.invite(method="OPTIONS").replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
    answer = peer.receive()
    assert (answer.code, answer.reason, answer.header("Allow"), answer.header("Accept")) == (
        200, "OK", "INVITE, ACK, CANCEL, OPTIONS", "application/sdp")
