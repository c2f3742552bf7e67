"""trunkline.switch.sip.message: exact parse results for real INVITEs, every refusal's reason, byte-exact responses."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from trunkline.switch.sip.message import (
    MAX_MESSAGE,
    DigestCredentials,
    Request,
    SipParseError,
    build_response,
    frame_length,
    is_response,
    parse_digest,
    parse_request,
)
from trunkline.switch.types import Digest

SDP = (b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

# SIPp 3.6's built-in uac scenario, as it goes on the wire.
SIPP_INVITE = (
    b"INVITE sip:15551234567@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0\r\n"
    b"From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001\r\n"
    b"To: 15551234567 <sip:15551234567@127.0.0.1:5060>\r\n"
    b"Call-ID: 1-4711@127.0.0.1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: sip:sipp@127.0.0.1:5061\r\n"
    b"Max-Forwards: 70\r\n"
    b"Subject: Performance Test\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length:   129\r\n"  # SIPp pads the length to its [len] field's width
    b"\r\n" + SDP)

SIPP_REQUEST = Request(
    method="INVITE", uri="sip:15551234567@127.0.0.1:5060", user="15551234567", call_id="1-4711@127.0.0.1",
    cseq=1, cseq_method="INVITE", branch="z9hG4bK-4711-1-0",
    vias=("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0",),
    from_="sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001", from_user="sipp", from_tag="4711SIPpTag001",
    to="15551234567 <sip:15551234567@127.0.0.1:5060>", to_tag=None, pai_user=None, max_forwards=70,
    authorization=None, content_length=129, rport=False, transport="udp")

# Compact forms (RFC 3261 §7.3.3), lowercase names, no space after the colon, a bare rport, no body.
COMPACT_INVITE = (
    b"INVITE sip:+442079460000;npdi@gw.example.net SIP/2.0\r\n"
    b"v: SIP/2.0/TCP 198.51.100.7:5070;rport;branch=z9hG4bKc0mp4ct\r\n"
    b"f: \"Alice \\\"A\\\" <x>\" <sip:%2B15550001@198.51.100.7>;tag=a1\r\n"
    b"t:<sip:+442079460000@gw.example.net>\r\n"
    b"i: compact-1@198.51.100.7\r\n"
    b"cseq: 7 INVITE\r\n"
    b"m: <sip:alice@198.51.100.7:5070;transport=tcp>\r\n"
    b"l: 0\r\n"
    b"\r\n")

# Through two proxies: three Vias, two on one line; a P-Asserted-Identity with two values.
PROXIED_INVITE = (
    b"INVITE sip:4930123456@10.1.1.1:5060;user=phone SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.2.2.2:5060;branch=z9hG4bKp2;received=10.2.2.2\r\n"
    b"Via: SIP/2.0/UDP 10.3.3.3:5060;branch=z9hG4bKp1, SIP/2.0/UDP 10.4.4.4;branch=z9hG4bKuac\r\n"
    b"Max-Forwards: 68\r\n"
    b"Record-Route: <sip:10.2.2.2;lr>\r\n"
    b"From: <sip:4989000111@10.4.4.4;user=phone>;tag=9fxced76sl\r\n"
    b"To: <sip:4930123456@10.1.1.1;user=phone>\r\n"
    b"P-Asserted-Identity: \"Caller\" <sip:4989000222@10.4.4.4>, <tel:+4989000222>\r\n"
    b"Call-ID: 3848276298220188511@10.4.4.4\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n")

AUTH_VALUE = ('Digest username="carrier7", realm="trunkline", nonce="AAAAAGWw0QD3p3qM0y0ZkQx4mWkP1bE9", '
              'uri="sip:15551234567@127.0.0.1:5060", response="6629fae49393a05397450978507c4ef1", '
              'algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001')

# The second INVITE after a 407, as SIPp's uac_auth sends it.
AUTH_INVITE = (
    b"INVITE sip:15551234567@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-2-2\r\n"
    b"From: sipp <sip:carrier7@127.0.0.1:5061>;tag=4711SIPpTag002\r\n"
    b"To: <sip:15551234567@127.0.0.1:5060>\r\n"
    b"Call-ID: 2-4711@127.0.0.1\r\n"
    b"CSeq: 2 INVITE\r\n"
    b"Proxy-Authorization: " + AUTH_VALUE.encode() + b"\r\n"
    b"Authorization: Digest username=\"other\"\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n")


def test_sipp_invite_parses_exactly() -> None:
    assert parse_request(SIPP_INVITE) == SIPP_REQUEST


def _sipp() -> str:
    path = shutil.which("sipp")
    if path is None:
        if os.environ.get("TRUNKLINE_REQUIRE_SIP") == "1":
            pytest.fail("sipp is not installed and TRUNKLINE_REQUIRE_SIP=1")
        pytest.skip("sipp is not installed")
    return path


def test_live_sipp_invite_parses_exactly() -> None:
    # The INVITE that Debian's SIPp really sends, caught on a socket: what SIPP_INVITE stands for.
    sipp = _sipp()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        sipp_port = probe.getsockname()[1]  # a free port for SIPp (never its default 5060: others test at once)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(15)
        port = server.getsockname()[1]
        process = subprocess.Popen(
            [sipp, "-sn", "uac", f"127.0.0.1:{port}", "-s", "15551234567", "-m", "1", "-i", "127.0.0.1",
             "-p", str(sipp_port), "-timeout", "10", "-nostdin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            data, source = server.recvfrom(65_535)
        finally:
            process.terminate()
            process.wait(10)
    pid = process.pid
    assert source == ("127.0.0.1", sipp_port)
    assert parse_request(data) == Request(
        method="INVITE", uri=f"sip:15551234567@127.0.0.1:{port}", user="15551234567",
        call_id=f"1-{pid}@127.0.0.1", cseq=1, cseq_method="INVITE", branch=f"z9hG4bK-{pid}-1-0",
        vias=(f"SIP/2.0/UDP 127.0.0.1:{sipp_port};branch=z9hG4bK-{pid}-1-0",),
        from_=f"sipp <sip:sipp@127.0.0.1:{sipp_port}>;tag={pid}SIPpTag001", from_user="sipp",
        from_tag=f"{pid}SIPpTag001", to=f"15551234567 <sip:15551234567@127.0.0.1:{port}>", to_tag=None,
        pai_user=None, max_forwards=70, authorization=None, content_length=129, rport=False, transport="udp")
    # The headers byte for byte (the SDP's media port moves when another SIPp holds 6000).
    expected = SIPP_INVITE.replace(b"4711", str(pid).encode()).replace(b"5061", str(sipp_port).encode()).replace(
        b"5060", str(port).encode())
    assert data.partition(b"\r\n\r\n")[0] == expected.partition(b"\r\n\r\n")[0]


def test_compact_invite_parses_exactly() -> None:
    assert parse_request(COMPACT_INVITE) == Request(
        method="INVITE", uri="sip:+442079460000;npdi@gw.example.net", user="+442079460000",
        call_id="compact-1@198.51.100.7", cseq=7, cseq_method="INVITE", branch="z9hG4bKc0mp4ct",
        vias=("SIP/2.0/TCP 198.51.100.7:5070;rport;branch=z9hG4bKc0mp4ct",),
        from_='"Alice \\"A\\" <x>" <sip:%2B15550001@198.51.100.7>;tag=a1', from_user="+15550001", from_tag="a1",
        to="<sip:+442079460000@gw.example.net>", to_tag=None, pai_user=None, max_forwards=None,
        authorization=None, content_length=0, rport=True, transport="tcp")


def test_proxied_invite_keeps_every_via_in_order() -> None:
    assert parse_request(PROXIED_INVITE) == Request(
        method="INVITE", uri="sip:4930123456@10.1.1.1:5060;user=phone", user="4930123456",
        call_id="3848276298220188511@10.4.4.4", cseq=314159, cseq_method="INVITE", branch="z9hG4bKp2",
        vias=("SIP/2.0/UDP 10.2.2.2:5060;branch=z9hG4bKp2;received=10.2.2.2",
              "SIP/2.0/UDP 10.3.3.3:5060;branch=z9hG4bKp1", "SIP/2.0/UDP 10.4.4.4;branch=z9hG4bKuac"),
        from_="<sip:4989000111@10.4.4.4;user=phone>;tag=9fxced76sl", from_user="4989000111",
        from_tag="9fxced76sl", to="<sip:4930123456@10.1.1.1;user=phone>", to_tag=None, pai_user="4989000222",
        max_forwards=68, authorization=None, content_length=0, rport=False, transport="udp")


def test_proxy_authorization_wins_over_authorization() -> None:
    request = parse_request(AUTH_INVITE)
    assert request == Request(
        method="INVITE", uri="sip:15551234567@127.0.0.1:5060", user="15551234567", call_id="2-4711@127.0.0.1",
        cseq=2, cseq_method="INVITE", branch="z9hG4bK-4711-2-2",
        vias=("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-2-2",),
        from_="sipp <sip:carrier7@127.0.0.1:5061>;tag=4711SIPpTag002", from_user="carrier7",
        from_tag="4711SIPpTag002", to="<sip:15551234567@127.0.0.1:5060>", to_tag=None, pai_user=None,
        max_forwards=70, authorization=AUTH_VALUE, content_length=0, rport=False, transport="udp")
    assert parse_digest(request.authorization or "") == DigestCredentials("carrier7", Digest(
        realm="trunkline", nonce="AAAAAGWw0QD3p3qM0y0ZkQx4mWkP1bE9", uri="sip:15551234567@127.0.0.1:5060",
        response="6629fae49393a05397450978507c4ef1", method="INVITE", qop="auth", nc="00000001",
        cnonce="0a4f113b"))


def test_authorization_alone_is_read() -> None:
    data = AUTH_INVITE.replace(b"Proxy-Authorization: " + AUTH_VALUE.encode() + b"\r\n", b"")
    assert parse_request(data).authorization == 'Digest username="other"'


def test_in_dialog_request_with_to_tag_and_other_spellings() -> None:
    data = (b"BYE sip:alice@198.51.100.7:5070 SIP/2.0\n"  # bare LF line ends are tolerated
            b"VIA : SIP/2.0/UDP 127.0.0.1:5061;Branch=z9hG4bKbye;RPORT\n"
            b"FROM: <sip:bob@example.com>;TAG=b1\n"
            b"to: sip:alice@example.com;tag=a9\n"
            b"CALL-ID: d1@h\n"
            b"CSeq:   2   BYE  \n"
            b"\n")
    request = parse_request(data)
    assert (request.method, request.branch, request.rport, request.from_user, request.from_tag, request.to,
            request.to_tag, request.call_id, request.cseq, request.content_length) == (
        "BYE", "z9hG4bKbye", True, "bob", "b1", "sip:alice@example.com;tag=a9", "a9", "d1@h", 2, 0)


def test_leading_crlf_keepalives_are_skipped() -> None:
    assert parse_request(b"\r\n\r\n" + SIPP_INVITE) == SIPP_REQUEST


def test_body_longer_than_content_length_is_cut_to_it() -> None:
    assert parse_request(SIPP_INVITE + b"trailing garbage").content_length == 129


def test_tel_uri_and_escaped_user() -> None:
    data = SIPP_INVITE.replace(b"INVITE sip:15551234567@127.0.0.1:5060", b"INVITE tel:+15551234567;phone-context=x")
    assert parse_request(data).user == "+15551234567"
    data = SIPP_INVITE.replace(b"INVITE sip:15551234567@", b"INVITE sip:%2A99%2315551234567:secret@")
    assert parse_request(data).user == "*99#15551234567"
    data = SIPP_INVITE.replace(b"INVITE sip:15551234567@127.0.0.1:5060", b"INVITE sip:127.0.0.1:5060")
    assert parse_request(data).user == ""


def test_options_parses() -> None:
    data = (b"OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKo\r\n"
            b"From: <sip:ping@10.0.0.9>;tag=p\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: o1\r\nCSeq: 10 OPTIONS\r\n"
            b"Content-Length: 0\r\n\r\n")
    request = parse_request(data)
    assert (request.method, request.user, request.from_user, request.cseq) == ("OPTIONS", "", "ping", 10)


def _without(name: bytes) -> bytes:
    lines = SIPP_INVITE.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.startswith(name + b":"))


@pytest.mark.parametrize(("name", "reason"), [
    (b"Via", "Missing Via"),
    (b"From", "Missing From"),
    (b"To", "Missing To"),
    (b"Call-ID", "Missing Call-ID"),
    (b"CSeq", "Missing CSeq"),
])
def test_every_required_header_missing_names_it(name: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_request(_without(name))
    assert (caught.value.status, caught.value.reason) == (400, reason)
    assert str(caught.value) == f"400 {reason}"


def _replace(old: bytes, new: bytes) -> bytes:
    assert old in SIPP_INVITE
    return SIPP_INVITE.replace(old, new)


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "Incomplete Message"),
    (SIPP_INVITE[:300], "Incomplete Message"),
    (SIPP_INVITE + b"x" * (MAX_MESSAGE - len(SIPP_INVITE) + 1), "Message Too Large"),
    (_replace(b"INVITE sip:15551234567@127.0.0.1:5060 SIP/2.0", b"INVITE  sip:1@h SIP/2.0"), "Bad Request Line"),
    (_replace(b" SIP/2.0\r\nVia", b" SIP/3.0\r\nVia"), "Bad Request Line"),
    (_replace(b"INVITE sip:15551234567@127.0.0.1:5060", b"invite sip:15551234567@127.0.0.1:5060"),
     "Bad Request Line"),
    (_replace(b"INVITE sip:15551234567@127.0.0.1:5060 SIP/2.0", b"SIP/2.0 200 OK"), "Not a Request"),
    (_replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), "CSeq Method Mismatch"),
    (_replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE"), "Bad CSeq"),
    (_replace(b"CSeq: 1 INVITE", b"CSeq: 2147483648 INVITE"), "Bad CSeq"),
    (_replace(b"Max-Forwards: 70", b"Max-Forwards: 256"), "Bad Max-Forwards"),
    (_replace(b"Max-Forwards: 70", b"Max-Forwards: -1"), "Bad Max-Forwards"),
    (_replace(b"Content-Length:   129", b"Content-Length: 130"), "Bad Content-Length"),
    (_replace(b"Content-Length:   129", b"Content-Length: 12a"), "Bad Content-Length"),
    (_replace(b"Call-ID: 1-4711@127.0.0.1", b"Call-ID: "), "Bad Call-ID"),
    (_replace(b"Via: SIP/2.0/UDP", b"Via: SIP/1.0/UDP"), "Bad Via"),
    (_replace(b"Via: SIP/2.0/UDP 127.0.0.1:5061", b"Via: SIP/2.0/UDP"), "Bad Via"),
    (_replace(b"From: sipp <sip:sipp@127.0.0.1:5061>", b"From: sipp <sip:sipp@127.0.0.1:5061"), "Bad From"),
    (_replace(b"To: 15551234567 <sip:15551234567@127.0.0.1:5060>", b"To: nobody"), "Bad To"),
    (_replace(b"Call-ID: 1-4711@127.0.0.1\r\n", b"Call-ID: 1-4711@127.0.0.1\r\ni: again\r\n"), "Duplicate Call-ID"),
    (_replace(b"Subject: Performance Test\r\n", b"Subject: Performance\r\n Test\r\n"),
     "Header Folding Not Supported"),
    (_replace(b"Subject: Performance Test", b"Subject Performance Test"), "Malformed Header"),
    (_replace(b"Subject: Performance Test", b"Sub ject: Performance Test"), "Malformed Header"),
    (_replace(b"Subject: Performance Test", b"Subject: Perf\rTest"), "Bad Line Ending"),
    (_replace(b"Subject: Performance Test", b"Subject: Perf\x00Test"), "NUL in Headers"),
    (_replace(b"Subject: Performance Test", b"Subject: Perf\xc3\x28Test"), "Invalid UTF-8"),
    # Past what any real request holds, refused before the costly reading.
    (_replace(b"Subject:", b"X-A: 1\r\n" * 119 + b"Subject:"), "Too Many Headers"),
    (_replace(b"Subject:", b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKv\r\n" * 70 + b"Subject:"), "Too Many Vias"),
    (_replace(b"Via: SIP/2.0/UDP", b"Via: " + b"SIP/2.0/UDP h, " * 70 + b"SIP/2.0/UDP"), "Too Many Vias"),
    (_replace(b"Via: SIP/2.0/UDP", b'Via: SIP/2.0/UDP h;x="' + b"," * 2048 + b'", SIP/2.0/UDP'), "Bad Via"),
    (_replace(b";branch=z9hG4bK-4711-1-0", b";branch=z9hG4bK-4711-1-0;x=" + b"y" * 2048), "Bad Via"),
    (_replace(b"INVITE sip:", b"INVITE sip:" + b"1" * 2048), "Bad Request Line"),
    (_replace(b"From: sipp", b'From: "' + b"\\a" * 1024 + b'"'), "Bad From"),
    (_replace(b"To: 15551234567", b"To: " + b"x" * 2048), "Bad To"),
    (_replace(b"Subject:", b"P-Asserted-Identity: " + b'"a,",' * 410 + b"\r\nSubject:"), "Bad P-Asserted-Identity"),
])
def test_refusals_name_the_fault(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_request(data)
    assert (caught.value.status, caught.value.reason) == (400, reason)


def test_limits_leave_room_for_real_requests() -> None:
    # 128 header lines, 70 Vias, 2,048-character values: all still read.
    request = parse_request(_replace(b"Subject:", b"X-A: 1\r\n" * 118 + b"Subject:"))
    assert request.call_id == "1-4711@127.0.0.1"
    request = parse_request(_replace(b"Via: SIP/2.0/UDP", b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKv\r\n" * 69
                                     + b"Via: SIP/2.0/UDP"))
    assert len(request.vias) == 70
    rest = b" <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001"
    display = b'"' + b"a" * (2048 - len(rest) - 2) + b'"'
    request = parse_request(_replace(b"From: sipp", b"From: " + display))
    assert (len(request.from_), request.from_user, request.from_tag) == (2048, "sipp", "4711SIPpTag001")


def test_largest_message_is_accepted() -> None:
    padding = MAX_MESSAGE - len(SIPP_INVITE) - len(b"X-Pad: \r\n")
    data = SIPP_INVITE.replace(b"Subject:", b"X-Pad: " + b"p" * padding + b"\r\nSubject:")
    assert len(data) == MAX_MESSAGE
    assert parse_request(data).call_id == "1-4711@127.0.0.1"


def test_utf8_display_name_is_kept() -> None:
    data = _replace(b"From: sipp <", "From: \"Zoë\" <".encode())
    assert parse_request(data).from_ == '"Zoë" <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001'


def test_is_response() -> None:
    assert is_response(b"SIP/2.0 200 OK\r\n")
    assert not is_response(SIPP_INVITE)
    assert not is_response(b"SIP/2.0")


def test_frame_length() -> None:
    stream = SIPP_INVITE + COMPACT_INVITE
    assert frame_length(stream) == len(SIPP_INVITE)
    assert frame_length(COMPACT_INVITE + SIPP_INVITE[:10]) == len(COMPACT_INVITE)
    assert frame_length(b"\r\n\r\n" + SIPP_INVITE) == 4 + len(SIPP_INVITE)
    for cut in (0, 1, 100, len(SIPP_INVITE) - len(SDP), len(SIPP_INVITE) - 1):
        assert frame_length(SIPP_INVITE[:cut]) is None
    assert frame_length(bytearray(SIPP_INVITE)) == len(SIPP_INVITE)


@pytest.mark.parametrize(("data", "reason"), [
    (_without(b"Content-Length"), "Missing Content-Length"),
    (_replace(b"Content-Length:   129", b"Content-Length: lots"), "Bad Content-Length"),
    (_replace(b"Content-Length:   129", b"Content-Length: 129\r\nl: 129"), "Duplicate Content-Length"),
    (_replace(b"Content-Length:   129", b"Content-Length: 16384"), "Message Too Large"),
    (b"INVITE " + b"x" * MAX_MESSAGE, "Message Too Large"),
])
def test_frame_length_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as caught:
        frame_length(data)
    assert (caught.value.status, caught.value.reason) == (400, reason)


# ---- responses -------------------------------------------------------------------------------------------------

SIPP_HEAD = (
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0\r\n"
    "From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001\r\n")


def test_100_trying_has_no_to_tag() -> None:
    assert build_response(SIPP_REQUEST, 100, "Trying", to_tag="ignored") == (
        "SIP/2.0 100 Trying\r\n" + SIPP_HEAD +
        "To: 15551234567 <sip:15551234567@127.0.0.1:5060>\r\n"
        "Call-ID: 1-4711@127.0.0.1\r\nCSeq: 1 INVITE\r\nServer: Trunkline\r\nContent-Length: 0\r\n\r\n").encode()


def test_403_reject() -> None:
    assert build_response(SIPP_REQUEST, 403, "IP Not Authorised", to_tag="t403") == (
        "SIP/2.0 403 IP Not Authorised\r\n" + SIPP_HEAD +
        "To: 15551234567 <sip:15551234567@127.0.0.1:5060>;tag=t403\r\n"
        "Call-ID: 1-4711@127.0.0.1\r\nCSeq: 1 INVITE\r\nServer: Trunkline\r\nContent-Length: 0\r\n\r\n").encode()


def test_407_challenge_with_received_and_rport() -> None:
    request = parse_request(SIPP_INVITE.replace(b"branch=z9hG4bK-4711-1-0", b"branch=z9hG4bK-4711-1-0;rport"))
    challenge = 'Digest realm="trunkline", nonce="n", algorithm=MD5, qop="auth"'
    assert build_response(request, 407, "Proxy Authentication Required", to_tag="t407",
                          headers=(f"Proxy-Authenticate: {challenge}",), received="192.0.2.1", rport=40000) == (
        "SIP/2.0 407 Proxy Authentication Required\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0;received=192.0.2.1;rport=40000\r\n"
        "From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001\r\n"
        "To: 15551234567 <sip:15551234567@127.0.0.1:5060>;tag=t407\r\n"
        "Call-ID: 1-4711@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
        f"Proxy-Authenticate: {challenge}\r\n"
        "Server: Trunkline\r\nContent-Length: 0\r\n\r\n").encode()


def test_200_to_options_keeps_every_via_and_an_existing_to_tag() -> None:
    request = parse_request(PROXIED_INVITE.replace(b"INVITE", b"OPTIONS").replace(
        b"To: <sip:4930123456@10.1.1.1;user=phone>", b"To: <sip:4930123456@10.1.1.1;user=phone>;tag=x1"))
    assert build_response(request, 200, "OK", to_tag="unused", headers=("Allow: INVITE, ACK, CANCEL, OPTIONS",),
                          received="10.2.2.9") == (
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP 10.2.2.2:5060;branch=z9hG4bKp2;received=10.2.2.9\r\n"
        b"Via: SIP/2.0/UDP 10.3.3.3:5060;branch=z9hG4bKp1\r\n"
        b"Via: SIP/2.0/UDP 10.4.4.4;branch=z9hG4bKuac\r\n"
        b"From: <sip:4989000111@10.4.4.4;user=phone>;tag=9fxced76sl\r\n"
        b"To: <sip:4930123456@10.1.1.1;user=phone>;tag=x1\r\n"
        b"Call-ID: 3848276298220188511@10.4.4.4\r\nCSeq: 314159 OPTIONS\r\n"
        b"Allow: INVITE, ACK, CANCEL, OPTIONS\r\n"
        b"Server: Trunkline\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(("via", "expected"), [
    ("SIP/2.0/UDP h:1;branch=z9hG4bKa", "SIP/2.0/UDP h:1;branch=z9hG4bKa;received=192.0.2.1;rport=9"),
    ("SIP/2.0/UDP h:1;branch=z9hG4bKa;rport", "SIP/2.0/UDP h:1;branch=z9hG4bKa;received=192.0.2.1;rport=9"),
    ("SIP/2.0/UDP h:1;rport;branch=z9hG4bKa", "SIP/2.0/UDP h:1;branch=z9hG4bKa;received=192.0.2.1;rport=9"),
    ("SIP/2.0/UDP h:1;RPort;received=x;branch=z9hG4bKa",
     "SIP/2.0/UDP h:1;branch=z9hG4bKa;received=192.0.2.1;rport=9"),
])
def test_received_and_rport_replace_what_the_via_had(via: str, expected: str) -> None:
    request = SIPP_REQUEST._replace(vias=(via,))
    response = build_response(request, 100, "Trying", to_tag="", received="192.0.2.1", rport=9).decode()
    assert response.split("\r\n")[1] == f"Via: {expected}"


def test_reason_and_headers_cannot_inject_lines() -> None:
    response = build_response(SIPP_REQUEST, 403, "Bad\r\nX-Evil: 1", to_tag="t\r\nX-Evil: 2",
                              headers=("Warning: 399 x\r\nX-Evil: 3",))
    assert b"\r\nX-Evil" not in response
    lines = response.decode().split("\r\n")
    assert lines[0] == "SIP/2.0 403 BadX-Evil: 1"
    assert lines[3] == "To: 15551234567 <sip:15551234567@127.0.0.1:5060>;tag=tX-Evil: 2"
    assert lines[6] == "Warning: 399 xX-Evil: 3"


def test_parsed_request_cannot_inject_either() -> None:
    # A bare CR inside a line is refused; a bare LF ends the line (tolerated), so the copied value stays one line.
    with pytest.raises(SipParseError) as caught:
        parse_request(_replace(b"Call-ID: 1-4711@127.0.0.1", b"Call-ID: a\rX-Evil: 1"))
    assert caught.value.reason == "Bad Line Ending"
    request = parse_request(_replace(b"Call-ID: 1-4711@127.0.0.1", b"Call-ID: a\nX-Evil: 1"))
    assert request.call_id == "a"
    assert build_response(request, 403, "No", to_tag="t").count(b"\n") == 9


# ---- digest ----------------------------------------------------------------------------------------------------

def test_parse_digest_without_qop_and_with_escaped_quotes() -> None:
    value = ('digest  username="a\\"b\\\\c",realm="trunk, line",nonce="n1",uri="sip:1@h;x=\\"y\\"",'
             'response="r1"')
    assert parse_digest(value, "OPTIONS") == DigestCredentials('a"b\\c', Digest(
        realm="trunk, line", nonce="n1", uri='sip:1@h;x="y"', response="r1", method="OPTIONS"))


@pytest.mark.parametrize("value", [
    "",
    "Basic dXNlcjpwYXNz",
    "Digest",
    'Digest username="a", realm="r", nonce="n", uri="u"',  # no response
    'Digest username="", realm="r", nonce="n", uri="u", response="x"',
    'Digest username="a", realm="r", nonce="n", uri="u", response="x", algorithm=SHA-256',
    'Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth-int, nc=1, cnonce="c"',
    'Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth',  # no nc/cnonce
    'Digest username="a, realm="r", nonce="n", uri="u", response="x"',  # unterminated quote
    'Digest username="a" realm="r", nonce="n", uri="u", response="x"',  # missing comma
    'Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x"',
    'Digest username=a b, realm="r", nonce="n", uri="u", response="x"',
    'Digest =x, username="a", realm="r", nonce="n", uri="u", response="x"',
    'Digest username="a\\',
    'Digest username="a", realm="r", nonce="n", uri="u", response="x", opaque="' + "o" * 4096 + '"',
])
def test_parse_digest_garbage_is_none(value: str) -> None:
    assert parse_digest(value) is None


def test_parse_digest_unquoted_token_values_and_md5_in_any_case() -> None:
    value = 'Digest username=alice, realm=trunkline, nonce=n, uri="sip:x@y", response=abc, algorithm=md5'
    credentials = parse_digest(value)
    assert credentials == DigestCredentials("alice", Digest("trunkline", "n", "sip:x@y", "abc"))


def test_empty_to_tag_adds_no_tag_parameter() -> None:
    assert build_response(SIPP_REQUEST, 487, "Request Terminated", to_tag="").split(b"\r\n")[3] == (
        b"To: 15551234567 <sip:15551234567@127.0.0.1:5060>")


def test_parse_digest_scheme_may_be_followed_by_a_tab() -> None:
    assert parse_digest('Digest\tusername="a", realm="r", nonce="n", uri="u", response="x"') == (
        DigestCredentials("a", Digest("r", "n", "u", "x")))
