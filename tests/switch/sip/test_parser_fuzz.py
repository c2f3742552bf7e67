"""A seeded mutation fuzzer over the SIP parser: whatever arrives, parse_request returns a Request or raises
SipParseError(400, reason), frame_length returns a length, None or SipParseError, parse_digest a value or None,
and a response built from anything accepted is exactly the lines it should be (nothing injected).

Seeded, so a failure reproduces; the failing input is in the assertion message.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from tests.switch.sip.test_message import AUTH_INVITE, AUTH_VALUE, COMPACT_INVITE, PROXIED_INVITE, SIPP_INVITE
from trunkline.switch.sip import message
from trunkline.switch.sip.message import (
    MAX_MESSAGE,
    DigestCredentials,
    Request,
    SipParseError,
    build_response,
    frame_length,
    parse_digest,
    parse_request,
)

SEEDS = (SIPP_INVITE, COMPACT_INVITE, PROXIED_INVITE, AUTH_INVITE)
# Bytes that mean something to a SIP parser, tried more often than chance would.
SPECIAL = b':;,<>"\\@= \t\r\n\x00%/?&#[]' + bytes([0xC3, 0xFF, 0x80])


def _flips(rng: random.Random, data: bytes, count: int) -> Iterator[bytes]:
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(mutated))
            mutated[position] = rng.choice(SPECIAL) if rng.random() < 0.5 else rng.randrange(256)
        yield bytes(mutated)


def _line_edits(rng: random.Random, data: bytes, count: int) -> Iterator[bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for _ in range(count):
        edited = list(lines)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(edited))
            action = rng.randrange(6)
            if action == 0:
                edited.insert(position, edited[position])  # duplicated line
            elif action == 1 and len(edited) > 1:
                del edited[position]
            elif action == 2:
                edited[position] = edited[position] + b"x" * rng.choice((100, 1000, 5000, 17000))  # huge header
            elif action == 3:
                edited[position] = b" " + edited[position]  # folded
            elif action == 4:
                cut = rng.randrange(len(edited[position]) + 1)
                edited[position] = edited[position][:cut] + bytes([rng.choice(SPECIAL)]) + edited[position][cut:]
            else:
                rng.shuffle(edited)
        separator = rng.choice((b"\r\n", b"\r\n", b"\n", b"\r"))
        yield separator.join(edited) + separator * 2 + body


def _inputs() -> Iterator[bytes]:
    rng = random.Random(20261206)
    for seed in SEEDS:
        for length in range(len(seed) + 1):  # every truncation
            yield seed[:length]
        yield from _flips(rng, seed, 1500)
        yield from _line_edits(rng, seed, 1000)
    yield b"\x00" * 100
    yield bytes(range(256)) * 4
    yield b"\r\n" * 20
    yield SIPP_INVITE.replace(b"Subject: Performance Test", b"Subject: " + b"\xff" * 50)
    yield SIPP_INVITE + b"x" * MAX_MESSAGE
    yield SIPP_INVITE.replace(b"Subject:", b"X-Big: " + b"y" * (MAX_MESSAGE - len(SIPP_INVITE) - 9) + b"\r\nSubject:")


def _check_response(request: Request, data: bytes) -> None:
    # Every value a response copies stays on its own line: the CRLF count is the header count exactly.
    for code, to_tag in ((100, "t"), (302, "t"), (403, "")):
        response = build_response(request, code, "Reason", to_tag=to_tag, headers=("X-A: 1",),
                                  received="192.0.2.1", rport=5060)
        lines = 1 + len(request.vias) + 4 + 1 + 2
        assert response.count(b"\r\n") == lines + 1, data
        assert response.count(b"\n") == response.count(b"\r") == lines + 1, data
        assert response.endswith(b"\r\n\r\n"), data


def test_parser_only_returns_requests_or_raises_sip_parse_error() -> None:
    accepted = refused = 0
    reasons: set[str] = set()
    total = 0
    for data in _inputs():
        total += 1
        try:
            request = parse_request(data)
        except SipParseError as error:
            refused += 1
            assert error.status == 400, data
            assert error.reason, data
            assert "\r" not in error.reason and "\n" not in error.reason, data
            reasons.add(error.reason)
        except Exception as error:  # the point of the test: name the input that escaped
            raise AssertionError(f"{type(error).__name__}: {error} for {data!r}") from error
        else:
            accepted += 1
            assert isinstance(request, Request), data
            assert isinstance(request.cseq, int) and 0 <= request.cseq < 2**31, data
            assert request.vias and request.vias[0], data
            assert request.cseq_method == request.method, data
            assert 0 <= request.content_length <= len(data), data
            _check_response(request, data)
        try:
            length = frame_length(data)
        except SipParseError as error:
            assert error.status == 400, data
        except Exception as error:
            raise AssertionError(f"frame_length {type(error).__name__}: {error} for {data!r}") from error
        else:
            assert length is None or 0 < length <= min(len(data), MAX_MESSAGE), data
    assert total >= 5_000
    # The mutations reach both sides and many distinct refusals, or the fuzzer is not exercising the parser.
    assert accepted >= 500
    assert refused >= 3_000
    assert len(reasons) >= 15, sorted(reasons)


def test_frame_length_cuts_a_stream_into_the_messages_it_holds() -> None:
    rng = random.Random(7)
    messages = [rng.choice(SEEDS) for _ in range(200)]
    stream = b"".join(messages)
    position = 0
    found = []
    buffer = b""
    while position < len(stream) or buffer:
        step = rng.randint(1, 700)
        buffer += stream[position:position + step]
        position += step
        while (length := frame_length(buffer)) is not None:
            found.append(buffer[:length])
            buffer = buffer[length:]
        if position >= len(stream) and buffer:
            raise AssertionError(f"left over: {buffer!r}")
    assert found == messages


def test_parse_digest_never_raises() -> None:
    rng = random.Random(3261)
    values = [AUTH_VALUE]
    for _ in range(3_000):
        chars = list(AUTH_VALUE)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(chars))
            action = rng.randrange(3)
            if action == 0:
                chars[position] = chr(rng.choice(SPECIAL)) if rng.random() < 0.7 else chr(rng.randrange(0x3000))
            elif action == 1:
                del chars[position]
            else:
                chars.insert(position, chr(rng.choice(b'",= \\')))
        values.append("".join(chars))
    values.extend(AUTH_VALUE[:length] for length in range(len(AUTH_VALUE)))
    parsed = 0
    for value in values:
        try:
            result = parse_digest(value)
        except Exception as error:
            raise AssertionError(f"{type(error).__name__}: {error} for {value!r}") from error
        assert result is None or isinstance(result, DigestCredentials), value
        parsed += result is not None
    assert parsed >= 100  # mutations inside values still parse


def test_fast_name_addr_answers_as_the_general_reader() -> None:
    # parse_request reads the usual From/To with one regular expression and hands the rest to _name_addr_slow;
    # wherever the fast one matches, both must give the same user and tag.
    rng = random.Random(3581)
    seeds = ("sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001",
             '"Alice \\"A\\" <x>" <sip:%2B15550001@198.51.100.7>;tag=a1',
             "<sip:4989000111@10.4.4.4;user=phone>;tag=9fxced76sl", "<tel:+4989000222>;tag=x",
             '"Caller" <sip:4989000222@10.4.4.4>', "<sip:a@b>;x=1;tag=t;y", "sip:a@b;tag=z")
    special = ':;,<>"\\@= \tTt%aAgG'
    fast_matches = 0
    for _ in range(20_000):
        chars = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(chars))
            action = rng.randrange(3)
            if action == 0:
                chars[position] = rng.choice(special)
            elif action == 1:
                del chars[position]
            else:
                chars.insert(position, rng.choice(special))
        value = "".join(chars).strip(" \t")
        fast_matches += message._NAME_ADDR.fullmatch(value) is not None
        try:
            fast: object = message._address(value, "From")
        except SipParseError as error:
            fast = error.reason
        try:
            uri, tag = message._name_addr_slow(value, "From")
            slow: object = (message._uri_user(uri), tag)
        except SipParseError as error:
            slow = error.reason
        assert fast == slow, value
    assert fast_matches >= 5_000


def test_fast_top_via_answers_as_the_general_reader() -> None:
    # The usual `SIP/2.0/UDP host;...` top Via skips the full regular expression; both must agree.
    rng = random.Random(3261)
    seeds = ("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0", "SIP/2.0/TCP h;rport;branch=z9hG4bKx",
             "SIP/2.0/UDP h:1;RPort;received=x;Branch=z9hG4bKa", "SIP/2.0/TLS [2001:db8::1]:5061;branch=b;rport=5")
    special = ';= \tbranchBRANCHrport/,'
    for _ in range(10_000):
        chars = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(chars))
            action = rng.randrange(3)
            if action == 0:
                chars[position] = rng.choice(special)
            elif action == 1:
                del chars[position]
            else:
                chars.insert(position, rng.choice(special))
        via = "".join(chars).strip(" \t")
        data = SIPP_INVITE.replace(b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0", via.encode())
        try:
            request = parse_request(data)
            fast: object = (request.transport, request.branch, request.rport)
        except SipParseError as error:
            fast = error.reason
        try:
            slow: object = message._top_via_params(via) if via and "," not in via else "skip"
        except SipParseError as error:
            slow = error.reason
        if slow != "skip":
            assert fast == slow, via
