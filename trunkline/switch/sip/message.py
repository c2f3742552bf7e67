"""SIP requests in, SIP responses out (RFC 3261 §7, §20): a small strict parser of our own, pure functions, no I/O.

Why our own: the switch must answer more than 12,000 INVITEs/s on one core, so parsing plus building may cost only
a small part of a call's CPU. The maintained pure-Python SIP libraries, timed on SIPp's INVITE on the same machine
and interpreter (CPU time per parse): `sipmessage` 0.7.1 ~42 µs, `aiosipua` 0.7.1 ~54 µs, `sippy` 2.5.0 ~67 µs with
the headers still unparsed (~110 µs once Via/From/To/CSeq are read); the C stacks (pjsua2, baresip) are user agents,
not message codecs. This parser reads only what a redirect server needs, in ~21 µs there (the machine runs Python
about 4x slower than a desktop: one str.find costs ~0.2 µs, and a parse is ~95 such steps, a third of them the one
partition and dict lookup per header line), and refuses the grammar it does not need: header folding, a bare CR,
NULs, invalid UTF-8, a request line that is not exactly `METHOD SP Request-URI SP SIP/2.0`. Every refusal is a
`SipParseError` carrying 400 and a reason naming what was wrong; tests/switch/sip/test_parser_fuzz.py holds that
nothing else ever escapes.

Header values the server copies into its responses (Via, From, To, Call-ID) are kept raw, so a response repeats
them byte for byte as RFC 3261 §8.2.6.2 asks.
"""

from __future__ import annotations

import re
from typing import NamedTuple, NoReturn
from urllib.parse import unquote

from trunkline.switch.types import Digest

MAX_MESSAGE = 16_384  # bytes; larger requests get 400 "Message Too Large" (UDP datagrams and TCP frames alike)
# A 16 KB request of 4,000 short lines, or of one 16 KB From, would cost a hundred times a real one to read: real
# requests stay far below these, so past them the answer is 400 without reading further.
MAX_HEADERS = 128  # header lines: "Too Many Headers"
MAX_VIAS = 70  # Via values, one per hop (Max-Forwards starts at 70): "Too Many Vias"
_MAX_VALUE = 2_048  # characters of a request line, Via, From, To or P-Asserted-Identity value: "Bad <header>"
_MAX_DIGEST = 4_096  # characters of an Authorization value: parse_digest answers None


class SipParseError(Exception):
    """A request that cannot be answered normally: `status` (400) and the reason phrase of the answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


class Request(NamedTuple):
    """The parts of a SIP request the switch reads; raw values where a response copies them."""

    method: str
    uri: str  # the Request-URI as sent
    user: str  # its user part (the dialled number), "" when it has none
    call_id: str
    cseq: int
    cseq_method: str
    branch: str  # the top Via's branch, "" when absent (an RFC 2543 client)
    vias: tuple[str, ...]  # every Via value in order, one entry per value (comma-separated ones split)
    from_: str  # raw From value
    from_user: str  # the CLI
    from_tag: str
    to: str  # raw To value
    to_tag: str | None
    pai_user: str | None  # the first P-Asserted-Identity's user
    max_forwards: int | None
    authorization: str | None  # raw Proxy-Authorization value, else Authorization, else None
    content_length: int
    rport: bool  # the top Via asks for RFC 3581 symmetric response routing
    transport: str  # the top Via's transport, lowercase ("udp", "tcp", "tls", ...)


class DigestCredentials(NamedTuple):
    """A parsed Authorization/Proxy-Authorization: the SIP user it names and the fields decide() checks."""

    username: str
    digest: Digest


# Header names -> one key each; compact forms (RFC 3261 §7.3.3) map to the same key. The usual spellings are listed
# so most lines cost one dict lookup; any other spelling is lowercased once (_header_key).
_SKIP, _VIA, _FROM, _TO, _CALL_ID, _CSEQ, _MAX_FORWARDS, _CONTENT_LENGTH, _PROXY_AUTH, _AUTH, _PAI = range(11)
_LOWER_KEYS = {
    "via": _VIA, "v": _VIA,
    "from": _FROM, "f": _FROM,
    "to": _TO, "t": _TO,
    "call-id": _CALL_ID, "i": _CALL_ID,
    "cseq": _CSEQ,
    "max-forwards": _MAX_FORWARDS,
    "content-length": _CONTENT_LENGTH, "l": _CONTENT_LENGTH,
    "proxy-authorization": _PROXY_AUTH,
    "authorization": _AUTH,
    "p-asserted-identity": _PAI,
}
_KEYS = {
    **_LOWER_KEYS,
    **{name.upper(): key for name, key in _LOWER_KEYS.items()},
    "Via": _VIA, "From": _FROM, "To": _TO, "Call-ID": _CALL_ID, "Call-Id": _CALL_ID, "CSeq": _CSEQ,
    "Max-Forwards": _MAX_FORWARDS, "Content-Length": _CONTENT_LENGTH, "Proxy-Authorization": _PROXY_AUTH,
    "Authorization": _AUTH, "P-Asserted-Identity": _PAI,
    **dict.fromkeys(
        ["Contact", "Subject", "Content-Type", "User-Agent", "Allow", "Supported", "Accept", "Expires", "Route",
         "Record-Route", "Session-Expires", "Min-SE", "Date", "Privacy", "Remote-Party-ID", "Diversion",
         "Allow-Events", "Require", "Proxy-Require", "Organization", "Content-Disposition", "Accept-Language",
         "P-Preferred-Identity", "P-Charging-Vector", "X", "m", "c", "k", "s", "e"], _SKIP),
}
_NAMES = {
    _VIA: "Via", _FROM: "From", _TO: "To", _CALL_ID: "Call-ID", _CSEQ: "CSeq", _MAX_FORWARDS: "Max-Forwards",
    _CONTENT_LENGTH: "Content-Length", _PROXY_AUTH: "Proxy-Authorization", _AUTH: "Authorization",
    _PAI: "P-Asserted-Identity",
}

# `METHOD SP Request-URI SP SIP/2.0`; groups: method, URI, the user part of a sip:/sips: URI (None without "@").
_REQUEST_LINE = re.compile(r"([A-Z]+) ((?:[sS][iI][pP][sS]?:(?:([^@ ]*)@)?)?[^ ]+) SIP/2\.0")
# The usual name-addr, `"Name" <uri>;tag=x` or `Name <uri>;tag=x`, without whitespace in the URI or parameters;
# groups: URI, sip user (None without "@"), tag (the first). Whatever it does not fully match goes to
# _name_addr_slow, which answers the same for what both read (test_parser_fuzz holds it).
_NAME_ADDR = re.compile(
    r'(?:"(?:[^"\\]|\\.)*+"[ \t]*|[^"<]*+)<((?:[sS][iI][pP][sS]?:([^@>\s"<]*+)@)?[^>\s"<]*+)>'
    r"(?:;(?![tT][aA][gG](?:[=;]|$))[^;\s]*)*(?:;[tT][aA][gG]=([^;\s]+)(?:;[^;\s]*)*)?")
# The top Via: `SIP/2.0/UDP host:port;params`; groups: transport, params.
_VIA_VALUE = re.compile(r"SIP/2\.0/([A-Za-z]+)[ \t]+[^ \t;,][^;]*(;.*)?", re.IGNORECASE)
_BRANCH = re.compile(r";[ \t]*branch[ \t]*=[ \t]*([^; \t]*)", re.IGNORECASE)
_RPORT = re.compile(r";[ \t]*rport[ \t]*(?:[;=]|$)", re.IGNORECASE)
_CSEQ_VALUE = re.compile(r"([0-9]{1,10})[ \t]+([A-Za-z]+)")
_DIGITS = re.compile(r"[0-9]{1,5}")

_CRLF = "\r\n"


def _fail(reason: str) -> SipParseError:
    return SipParseError(400, reason)


def _raise(error: SipParseError) -> NoReturn:
    raise error


def is_response(data: bytes) -> bool:
    """A datagram that is a SIP response (the redirect server sends none, so it ignores them)."""
    return data[:8] == b"SIP/2.0 "


# One value of a comma-separated header: plain text, quoted strings (an unterminated one runs to the end) and
# <...> spans, up to the first comma outside them. C does the scanning: a long quoted value costs no Python loop.
_VALUE_PART = re.compile(r'(?:[^,"<]++|"(?:[^"\\]|\\.?)*+(?:"|$)|<[^>]*+(?:>|$))*+')


def _split_commas(value: str, header: str) -> list[str]:
    """Split a header value at commas outside quoted strings and angle brackets (several values on one line)."""
    if len(value) > _MAX_VALUE:
        raise _fail(f"Bad {header}")
    if '"' not in value and "<" not in value:
        return [part.strip(" \t") for part in value.split(",")]
    parts: list[str] = []
    position = 0
    end = len(value)
    while True:
        found = _VALUE_PART.match(value, position)
        assert found is not None  # the pattern matches the empty string
        parts.append(found[0].strip(" \t"))
        position = found.end() + 1  # past the comma that stopped it
        if position > end:
            return parts


def _first_value(value: str) -> str:
    found = _VALUE_PART.match(value)
    assert found is not None  # the pattern matches the empty string
    return found[0].strip(" \t")


def _clean_user(user: str) -> str:
    # userinfo = user [":" password]; user parameters (`;npdi`, `;rn=`) follow a ';'; %-escapes decoded.
    if ":" in user or ";" in user:
        user = user.split(":", 1)[0].split(";", 1)[0]
    return unquote(user) if "%" in user else user


def _uri_user(uri: str) -> str:
    """The user part of a sip:/sips:/tel: URI: no password, no user parameters, %-escapes decoded; "" if none."""
    scheme, sep, rest = uri.partition(":")
    if not sep:
        return ""
    scheme = scheme.lower()
    if scheme == "tel":
        return _clean_user(rest.split(";", 1)[0].split("?", 1)[0])
    if scheme in ("sip", "sips"):
        at = rest.find("@")
        return _clean_user(rest[:at]) if at >= 0 else ""
    return ""


def _name_addr_slow(value: str, header: str) -> tuple[str, str | None]:
    """(URI, tag) of any From/To/P-Asserted-Identity form, including an addr-spec without angle brackets."""
    rest = value
    if rest[:1] == '"':
        # A quoted display name may hold '<', ';' or an escaped quote: skip it whole.
        index = 1
        length = len(rest)
        while index < length:
            char = rest[index]
            if char == "\\":
                index += 2
                continue
            if char == '"':
                break
            index += 1
        else:
            raise _fail(f"Bad {header}")
        rest = rest[index + 1:]
    open_at = rest.find("<")
    if open_at >= 0:
        close_at = rest.find(">", open_at)
        if close_at < 0:
            raise _fail(f"Bad {header}")
        uri = rest[open_at + 1:close_at].strip(" \t")
        params = rest[close_at + 1:]
    else:
        uri, _, params = rest.partition(";")
        uri = uri.strip(" \t")
        params = ";" + params
    if ":" not in uri or " " in uri or '"' in uri:
        raise _fail(f"Bad {header}")
    tag: str | None = None
    if "tag" in params.lower():
        for param in params.split(";"):
            name, _, found = param.partition("=")
            if name.strip(" \t").lower() == "tag":
                tag = found.strip(" \t")
                break
    return uri, tag


def _address(value: str, header: str) -> tuple[str, str | None]:
    """(user, tag) of a From/To/P-Asserted-Identity value; the usual `Name <sip:user@host>;tag=x` in one match."""
    match = _NAME_ADDR.fullmatch(value)
    if match is not None:
        uri, user, tag = match.groups()
        if user is not None:
            return (_clean_user(user) if ":" in user or ";" in user or "%" in user else user), tag
        if ":" in uri:
            return _uri_user(uri), tag
    uri, tag = _name_addr_slow(value, header)
    return _uri_user(uri), tag


def _lf_lines(head: str) -> list[str]:
    """Lines ended by bare LF (tolerated) or a mix; a CR anywhere but before a LF is refused."""
    lines = head.split("\n")
    for index, line in enumerate(lines):
        if line[-1:] == "\r":
            line = lines[index] = line[:-1]
        if "\r" in line:
            raise _fail("Bad Line Ending")
    return lines


def _header_key(name: str, line: str) -> int:
    """The key of a header name in an unusual spelling (case, whitespace before the colon); _SKIP if not ours."""
    if not name or name[0] in " \t":
        raise _fail("Header Folding Not Supported" if line[:1] in (" ", "\t") else "Malformed Header")
    name = name.rstrip(" \t")
    if " " in name or "\t" in name:
        raise _fail("Malformed Header")
    return _LOWER_KEYS.get(name.lower(), _SKIP)


def _top_via_params(top: str) -> tuple[str, str, bool]:
    """(transport, branch, rport?) of the top Via value."""
    match = _VIA_VALUE.fullmatch(top)
    if match is None:
        raise _fail("Bad Via")
    transport, params = match.groups()
    if not params:
        return transport.lower(), "", False
    found = _BRANCH.search(params)
    return (transport.lower(), found[1] if found is not None else "",
            _RPORT.search(params) is not None)


# Values that repeat from call to call ("CSeq: 1 INVITE", "Max-Forwards: 70", the To of a number dialled again)
# are parsed once and remembered, raw text -> result; each cache is emptied when it reaches _CACHE_SIZE entries and
# keeps only texts up to _CACHE_TEXT characters, so a flood of odd requests holds at most a few MB.
_CACHE_SIZE = 4096
_CACHE_TEXT = 256
_CSEQ_CACHE: dict[str, tuple[int, str]] = {}
_NUMBERS: dict[str, int] = {}
_TO_TAGS: dict[str, str | None] = {}
_UNSEEN = "\x00"  # never a tag: parse_request refuses NULs
_TRANSPORTS = {f"SIP/2.0/{name} ": name.lower() for name in ("UDP", "TCP", "TLS")}


def _cseq(text: str) -> tuple[int, str]:
    match = _CSEQ_VALUE.fullmatch(text.strip(" \t"))
    if match is None:
        raise _fail("Bad CSeq")
    cseq = int(match[1])
    if cseq >= 2**31:
        raise _fail("Bad CSeq")
    parsed = cseq, match[2]
    if len(text) <= _CACHE_TEXT:
        if len(_CSEQ_CACHE) >= _CACHE_SIZE:
            _CSEQ_CACHE.clear()
        _CSEQ_CACHE[text] = parsed
    return parsed


def _number(text: str, header: str) -> int:
    # Max-Forwards and Content-Length: 1 to 5 digits (16,384 is the largest message).
    if _DIGITS.fullmatch(text.strip(" \t")) is None:
        raise _fail(f"Bad {header}")
    number = int(text)
    if len(text) <= _CACHE_TEXT:
        if len(_NUMBERS) >= _CACHE_SIZE:
            _NUMBERS.clear()
        _NUMBERS[text] = number
    return number


def _to_tag(to: str) -> str | None:
    match = _NAME_ADDR.fullmatch(to)
    tag = match[3] if match is not None and ":" in match[1] else _address(to, "To")[1]
    if len(to) <= _CACHE_TEXT:
        if len(_TO_TAGS) >= _CACHE_SIZE:
            _TO_TAGS.clear()
        _TO_TAGS[to] = tag
    return tag


def _more_vias(found: dict[int, str], extra: list[str]) -> list[str]:
    vias: list[str] = []
    for value in (found[_VIA], *extra):
        value = value.strip(" \t")
        if "," in value:
            vias.extend(_split_commas(value, "Via"))
        else:
            vias.append(value)
        if len(vias) > MAX_VIAS:
            raise _fail("Too Many Vias")
    return vias


def parse_request(data: bytes) -> Request:
    """Parse one SIP request (a UDP datagram or a TCP frame cut by `frame_length`); SipParseError(400, ...) if bad.

    Written for speed (every INVITE pays it): one pass over the header lines with a dict lookup each, the rest by
    precompiled regular expressions over the few values the switch reads; unusual spellings take slower helpers."""
    if len(data) > MAX_MESSAGE:
        raise _fail("Message Too Large")
    if data[:1] in (b"\r", b"\n"):
        data = data.lstrip(b"\r\n")  # RFC 3261 §7.5: CRLFs before the start line (stream keep-alives) are ignored
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        body_at = end + 4
    else:
        end = data.find(b"\n\n")
        if end < 0:
            raise _fail("Incomplete Message")
        body_at = end + 2
    try:
        head = data[:end].decode()
    except UnicodeDecodeError:
        raise _fail("Invalid UTF-8") from None
    if "\x00" in head:
        raise _fail("NUL in Headers")
    # CRLF everywhere is the normal case: one split, and two counts prove no bare CR or LF hides in a line.
    newlines = head.count("\n")
    if newlines > MAX_HEADERS:
        raise _fail("Too Many Headers")
    lines = head.split(_CRLF)
    if not newlines == head.count("\r") == len(lines) - 1:
        lines = _lf_lines(head)

    request_line = _REQUEST_LINE.fullmatch(lines[0]) if len(lines[0]) <= _MAX_VALUE else None
    if request_line is None:
        raise _fail("Not a Request" if lines[0][:8] == "SIP/2.0 " else "Bad Request Line")
    method, uri, user = request_line.groups()
    if user is None:
        user = _uri_user(uri) if ":" in uri else ""
    elif ":" in user or ";" in user or "%" in user:
        user = _clean_user(user)

    found: dict[int, str] = {}
    extra_vias: list[str] = []
    get = _KEYS.get
    del lines[0]  # the request line, read above
    for line in lines:
        name, sep, value = line.partition(":")
        key = get(name)
        if key is None:
            if not sep:
                raise _fail("Header Folding Not Supported" if line[:1] in (" ", "\t") else "Malformed Header")
            key = _header_key(name, line)
        if key:
            if key in found:
                if key != _VIA:
                    raise _fail(f"Duplicate {_NAMES[key]}")
                extra_vias.append(value)
            else:
                found[key] = value

    try:
        via, from_, to, call_id, cseq_text = found[_VIA], found[_FROM], found[_TO], found[_CALL_ID], found[_CSEQ]
    except KeyError:
        for key in (_VIA, _FROM, _TO, _CALL_ID, _CSEQ):
            if key not in found:
                raise _fail(f"Missing {_NAMES[key]}") from None
        raise
    if extra_vias or "," in via:
        vias = tuple(_more_vias(found, extra_vias))
        if "" in vias:
            raise _fail("Bad Via")
        via = vias[0]
    else:
        via = via.strip(" \t")
        vias = (via,)
    if len(via) > _MAX_VALUE:
        raise _fail("Bad Via")
    # The top Via: `SIP/2.0/UDP host:port;branch=...`; other spellings and layouts take the regular expressions.
    transport = _TRANSPORTS.get(via[:12])
    if transport is not None and via[12:13] not in ("", " ", "\t", ";"):
        found_branch = _BRANCH.search(via)
        branch = "" if found_branch is None else found_branch[1]
        rport = _RPORT.search(via) is not None
    else:
        transport, branch, rport = _top_via_params(via)

    cseq_parsed = _CSEQ_CACHE.get(cseq_text)
    if cseq_parsed is None:
        cseq_parsed = _cseq(cseq_text)
    cseq, cseq_method = cseq_parsed
    if cseq_method != method:
        raise _fail("CSeq Method Mismatch")
    call_id = call_id.strip(" \t")
    if not call_id or " " in call_id:
        raise _fail("Bad Call-ID")

    from_ = from_.strip(" \t")
    if len(from_) > _MAX_VALUE:
        raise _fail("Bad From")
    match = _NAME_ADDR.fullmatch(from_)
    if match is not None:
        _, from_user, from_tag = match.groups()
        if from_user is None:
            from_user, from_tag = _address(from_, "From")
        elif ":" in from_user or ";" in from_user or "%" in from_user:
            from_user = _clean_user(from_user)
    else:
        from_user, from_tag = _address(from_, "From")
    to = to.strip(" \t")
    if len(to) > _MAX_VALUE:
        raise _fail("Bad To")
    to_tag = _TO_TAGS.get(to, _UNSEEN)
    if to_tag is _UNSEEN:
        to_tag = _to_tag(to)

    max_forwards: int | None = None
    text = found.get(_MAX_FORWARDS)
    if text is not None:
        max_forwards = _NUMBERS.get(text)
        if max_forwards is None or max_forwards > 255:
            max_forwards = _number(text, "Max-Forwards")
            if max_forwards > 255:
                raise _fail("Bad Max-Forwards")

    content_length = len(data) - body_at
    text = found.get(_CONTENT_LENGTH)
    if text is not None:
        declared = _NUMBERS.get(text)
        if declared is None:
            declared = _number(text, "Content-Length")
        if declared > content_length:  # RFC 3261 §18.3: a body shorter than declared is an error
            raise _fail("Bad Content-Length")
        content_length = declared

    pai_user: str | None = None
    text = found.get(_PAI)
    if text is not None:
        text = text.strip(" \t")
        if len(text) > _MAX_VALUE:
            raise _fail("Bad P-Asserted-Identity")
        if "," in text:  # several identities (sip: and tel:): the first is read
            text = _first_value(text)
        pai_user = _address(text, "P-Asserted-Identity")[0]

    authorization = found.get(_PROXY_AUTH)
    if authorization is None:
        authorization = found.get(_AUTH)
    if authorization is not None:
        authorization = authorization.strip(" \t")
    return tuple.__new__(Request, (
        method, uri, user, call_id, cseq, cseq_method, branch, vias, from_, from_user, from_tag or "", to,
        to_tag, pai_user, max_forwards, authorization, content_length, rport, transport))


# frame_length() reads only Content-Length: a byte regex over the header block is cheaper than splitting lines.
_CONTENT_LENGTH_RE = re.compile(rb"\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


def frame_length(buffer: bytes | bytearray) -> int | None:
    """The length of the first message in a TCP stream buffer (headers + Content-Length body), None until it is all
    there. Leading CRLFs (keep-alives) count in the frame; parse_request skips them. SipParseError when the message
    is too large or its Content-Length is missing or bad: the stream cannot be resynchronised, close it."""
    start = 0
    if buffer[:1] in (b"\r", b"\n"):
        start = len(buffer) - len(buffer.lstrip(b"\r\n"))
        if start == len(buffer):
            return None if start <= MAX_MESSAGE else _raise(_fail("Message Too Large"))
    end = buffer.find(b"\r\n\r\n", start)
    if end >= 0:
        body_at = end + 4
    else:
        end = buffer.find(b"\n\n", start)
        if end < 0:
            if len(buffer) > MAX_MESSAGE:
                raise _fail("Message Too Large")
            return None
        body_at = end + 2
    if body_at > MAX_MESSAGE:
        raise _fail("Message Too Large")
    found = _CONTENT_LENGTH_RE.findall(buffer, 0, end + 1)
    if not found:
        raise _fail("Missing Content-Length")
    if len(found) > 1:
        raise _fail("Duplicate Content-Length")
    text = bytes(found[0]).rstrip(b" \t")
    if not text.isdigit() or len(text) > 5:
        raise _fail("Bad Content-Length")
    total = body_at + int(text)
    if total > MAX_MESSAGE:
        raise _fail("Message Too Large")
    return total if len(buffer) >= total else None


# Control characters would let a reason phrase or header value end its line early (CRLF injection): dropped.
_CONTROLS = dict.fromkeys([*range(32), 127])


def _clean(text: str) -> str:
    return text.translate(_CONTROLS) if not text.isprintable() else text


_VIA_ADDED = re.compile(r"received|rport", re.IGNORECASE)
_last_top: tuple[str, str | None, int | None, str] = ("", None, None, "")


def _top_via(via: str, received: str | None, rport: int | None) -> str:
    # RFC 3581 §4: the server adds `received` and gives the bare `rport` the source port as its value.
    tail = ""
    if received is not None:
        tail = f";received={_clean(received)}"
    if rport is not None:
        tail += f";rport={int(rport)}"
    found = _VIA_ADDED.search(via)
    if found is None:
        return via + tail
    if via[-6:] == ";rport" and found.start() == len(via) - 5 and rport is not None:
        return via[:-6] + tail  # the usual `...;branch=z9hG4bK..;rport` (SIPp, most phones)
    params = via.split(";")
    drop = {name for name, value in (("received", received), ("rport", rport)) if value is not None}
    kept = [params[0]] + [param for param in params[1:] if param.partition("=")[0].strip(" \t").lower() not in drop]
    return ";".join(kept) + tail


def _response_head(req: Request, code: int, reason: str, to_tag: str, received: str | None,
                   rport: int | None) -> str:
    """Everything of a response up to its extra headers (see build_response)."""
    vias = req.vias
    top = vias[0]
    if received is not None or rport is not None:
        # The 100 and the final answer of one request rewrite the same Via the same way: remember the last one.
        global _last_top
        last = _last_top
        if last[0] is top and last[1] == received and last[2] == rport:
            top = last[3]
        else:
            _last_top = (top, received, rport, _top_via(top, received, rport))
            top = _last_top[3]
    to = req.to if req.to_tag is not None or code == 100 or not to_tag else f"{req.to};tag={_clean(to_tag)}"
    more = "".join([f"Via: {via}\r\n" for via in vias[1:]]) if len(vias) > 1 else ""
    return (f"SIP/2.0 {int(code)} {_clean(reason)}\r\nVia: {top}\r\n{more}From: {req.from_}\r\nTo: {to}\r\n"
            f"Call-ID: {req.call_id}\r\nCSeq: {req.cseq} {req.cseq_method}\r\n")


_RESPONSE_TAIL = "Server: Trunkline\r\nContent-Length: 0\r\n\r\n"


def build_response(req: Request, code: int, reason: str, *, to_tag: str, headers: tuple[str, ...] = (),
                   received: str | None = None, rport: int | None = None) -> bytes:
    """A response to `req` (RFC 3261 §8.2.6): every Via in order (the top one with `received`/`rport` when given),
    From, To (with `to_tag` unless it has a tag, this is a 100 or to_tag is ""), Call-ID, CSeq, `headers` (whole
    lines without CRLF), Server, Content-Length: 0. Control characters in the reason and extra headers are dropped."""
    head = _response_head(req, code, reason, to_tag, received, rport)
    if headers:
        head += "".join([f"{_clean(header)}\r\n" for header in headers])
    return (head + _RESPONSE_TAIL).encode()


# One `name=value` of a Digest header and the comma after it; value quoted (escapes allowed) or a bare token.
_DIGEST_PARAM = re.compile(
    r'[ \t,]*+([A-Za-z0-9-]+)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*+)"|([^ \t",]+))[ \t]*(?:,|$)')


def _unescape(quoted: str) -> str:
    # RFC 3261 quoted-pair: `\x` is x. Escapes pair from the left in a run of backslashes, as str.replace does;
    # a NUL stands in for the escaped backslashes while the others go (a value holding NULs takes the slow way).
    if "\x00" not in quoted:
        return quoted.replace("\\\\", "\x00").replace("\\", "").replace("\x00", "\\")
    return "\\".join([part.replace("\\", "") for part in quoted.split("\\\\")])


def _digest_params(value: str) -> dict[str, str] | None:
    """The name=value pairs after `Digest`; quoted values unescaped; None on any syntax error or repeated name."""
    params: dict[str, str] = {}
    position = 0
    end = len(value)
    while position < end:
        found = _DIGEST_PARAM.match(value, position)
        if found is None:
            return None if value[position:].strip(" \t,") else params
        name, quoted, token = found.groups()
        name = name.lower()
        if name in params:
            return None
        if quoted is None:
            params[name] = token
        else:
            params[name] = _unescape(quoted) if "\\" in quoted else quoted
        position = found.end()
    return params


def parse_digest(value: str, method: str = "INVITE") -> DigestCredentials | None:
    """Parse an Authorization/Proxy-Authorization value (RFC 2617 Digest, MD5, qop "auth" or none) into the SIP
    username and the `Digest` decide() checks (`method` is the request's, which the response hashes). None for
    another scheme, another algorithm or qop, a missing field or garbage: the server answers with a new challenge."""
    if len(value) > _MAX_DIGEST:
        return None
    parts = value.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "digest":
        return None
    rest = parts[1]
    params = _digest_params(rest)
    if params is None:
        return None
    try:
        username, realm, nonce, uri, response = (
            params["username"], params["realm"], params["nonce"], params["uri"], params["response"])
    except KeyError:
        return None
    if params.get("algorithm", "MD5").upper() != "MD5" or not username:
        return None
    qop = params.get("qop", "")
    nc = cnonce = ""
    if qop:
        if qop.lower() != "auth":
            return None
        qop = "auth"
        nc = params.get("nc", "")
        cnonce = params.get("cnonce", "")
        if not nc or not cnonce:
            return None
    return DigestCredentials(username, Digest(realm, nonce, uri, response, method, qop, nc, cnonce))
