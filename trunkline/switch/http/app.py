"""`trunkline switch`'s HTTP side for Kamailio: POST /route, POST /events, GET /health (aiohttp).

Kamailio asks `POST /route` for every initial INVITE and gets an rtjson document (rtjson.py); it reports each
dialog event to `POST /events`, one event per body or many at once (`{"events": [event, ...]}`: Kamailio's
events process posts what queued up since its last turn in one request). Both take a JSON object (Content-Type
application/json, at most 64 KiB) whose keys are checked one by one: an unknown key, a wrong type, a value too
long or a character that could break the SIP header it ends up in answers 400
`{"detail": "<field>: <message>", "errors": {"<field>": ["<message>"]}}` (the REST API's error format) and
reaches nothing; in a batch the field is named with the event's index (`events[2].code`) and no event of the
batch is taken. A batch is answered `{"known": [true, false, ...]}`, one per event in order, a single event
`{"known": true|false}`. A body that is no JSON object is a 400 too, a wrong content type a 415, a larger body a
413, a wrong method a 405: Kamailio's mistakes are 4xx. A 500 means the switch failed (a bug, a spool it cannot
write) and is logged with its traceback; Kamailio then refuses the call.

This path carries every call through Kamailio (>= 2,000 calls/s plus about three events each), so the handlers
read the raw bytes with json.loads, check types by hand and answer with bytes built once where they can; serve
it with `access_log=None` (aiohttp's access logger costs more than a handler).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from trunkline.contracts.calls import EventKind, ReleaseReason
from trunkline.switch.engine import Engine
from trunkline.switch.http import rtjson
from trunkline.switch.sip.message import parse_digest
from trunkline.switch.types import Call

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_CALL_ID = 255
MAX_NUMBER = 64  # number, cli, pai
MAX_AUTHORIZATION = 2048
MAX_URI = 512
MAX_REASON = 128
# The attempt line's transport for calls Kamailio asks about (contracts/calls.py: "udp" / "tcp" / "http").
TRANSPORT = "http"
# What Kamailio's $pr may say the call came over.
TRANSPORTS = frozenset(("udp", "tcp", "tls", "sctp", "ws", "wss"))

ROUTE_KEYS = frozenset(("call_id", "source_ip", "source_port", "transport", "number", "cli", "pai", "authorization",
                        "method"))
EVENT_KINDS = {kind.value: kind for kind in (EventKind.ROUTED, EventKind.EARLY, EventKind.ANSWERED, EventKind.FAILED,
                                              EventKind.ENDED)}
EVENT_KEYS = frozenset(("call_id", "kind", "at", "uri", "code", "reason", "final", "release_reason", "duration",
                        "dialog"))
RELEASE_REASONS = frozenset(reason.value for reason in ReleaseReason)
BATCH = "events"  # POST /events: {"events": [event, ...]}
MAX_BATCH = 1000  # events in one body (the 64 KiB body limit holds fewer than that of Kamailio's anyway)

# A SIP user part the answer puts in URIs and headers: visible ASCII without the characters that end a URI or
# a header value (<, >, ", @, backslash, whitespace, controls).
_USER_PART = re.compile(r'[\x21-\x7e]*').fullmatch
_URI_BREAKERS = re.compile(r'[<>"@\\]').search
_VISIBLE = re.compile(r'[\x21-\x7e]*').fullmatch
_PRINTABLE = re.compile(r'[\t\x20-\x7e]*').fullmatch  # a header value may hold spaces and tabs
_CONTROLS = re.compile(r'[\x00-\x08\x0a-\x1f\x7f]').sub


def _anything(value: str) -> bool:
    return True


_JSON = "application/json"
_KNOWN = b'{"known":true}'
_UNKNOWN = b'{"known":false}'
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

Errors = dict[str, list[str]]


class BadRequest(Exception):
    """A body refused before it reaches the engine: 400 with the fields' errors (or another 4xx and a detail)."""

    def __init__(self, errors: Errors, *, status: int = 400, detail: str = "") -> None:
        super().__init__(errors)
        self.errors = errors
        self.status = status
        self.detail = detail


def error_response(status: int, detail: str, errors: Errors | None = None) -> web.Response:
    return web.Response(status=status, body=_dumps({"detail": detail, "errors": errors or {}}).encode(),
                        content_type=_JSON)


def _bad_request(error: BadRequest) -> web.Response:
    if error.detail:
        return error_response(error.status, error.detail, error.errors)
    field, messages = next(iter(error.errors.items()))
    return error_response(error.status, f"{field}: {messages[0]}", error.errors)


async def _json_object(request: web.Request, keys: frozenset[str] | None) -> dict[str, Any]:
    """The body as a JSON object, or BadRequest / the HTTP error aiohttp raises (413 past client_max_size)."""
    # The exact header Kamailio sends compares as it is; anything else is parsed (parameters, case).
    if request.headers.get("Content-Type") != _JSON and request.content_type != _JSON:
        raise BadRequest({}, status=415, detail=f"Content-Type must be {_JSON}, not {request.content_type}.")
    body = await request.read()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; deep nesting a RecursionError
        raise BadRequest({"body": ["Not valid JSON."]}) from None
    if not isinstance(data, dict):
        raise BadRequest({"body": ["Expected a JSON object."]})
    if keys is not None:
        _known_keys(data, keys)
    return data


def _known_keys(data: dict[str, Any], keys: frozenset[str], prefix: str = "") -> None:
    unknown = data.keys() - keys
    if unknown:  # a few name the mistake
        raise BadRequest({f"{prefix}{key[:64]}": ["Unknown field."] for key in sorted(unknown)[:10]})


def _text(data: dict[str, Any], key: str, errors: Errors, *, limit: int, allowed: Callable[[str], object],
          required: bool = True, empty: bool = False) -> str | None:
    """A string field: None when absent or null and not required (a required one missing is an error)."""
    value = data.get(key)
    if value is None:
        if required:
            errors[key] = ["This field is required." if key not in data else "This field may not be null."]
        return None
    if type(value) is not str:
        errors[key] = ["Expected a string."]
        return None
    if not value and not empty:
        errors[key] = ["This field may not be blank."]
        return None
    if len(value) > limit:
        errors[key] = [f"At most {limit} characters."]
        return None
    if not allowed(value):
        errors[key] = ["Holds a character that is not allowed."]
        return None
    return value


def _user_part(value: str) -> bool:
    return _USER_PART(value) is not None and _URI_BREAKERS(value) is None


def _integer(data: dict[str, Any], key: str, errors: Errors, *, low: int, high: int,
             required: bool = False) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            errors[key] = ["This field is required."]
        return None
    if type(value) is not int:  # bool is an int subclass: `type` keeps true/false out
        errors[key] = ["Expected an integer."]
        return None
    if not low <= value <= high:
        errors[key] = [f"Expected an integer from {low} to {high}."]
        return None
    return value


_addresses: dict[str, str | None] = {}


def _address(text: str) -> str | None:
    """`text` in the one spelling the IP-auth table holds, None when it is no address; remembered, as calls come
    from a few thousand edges at most (parsing one costs as much as the JSON body)."""
    if text in _addresses:
        return _addresses[text]
    try:
        spelled: str | None = str(ipaddress.ip_address(text))
    except ValueError:
        spelled = None
    if len(_addresses) >= 65536:
        _addresses.clear()
    _addresses[text] = spelled
    return spelled


def parse_route(data: dict[str, Any]) -> tuple[str, Call, str | None, str]:
    """(call id, the call without its digest, the raw authorization or None, method), or BadRequest."""
    errors: Errors = {}
    call_id = _text(data, "call_id", errors, limit=MAX_CALL_ID, allowed=_VISIBLE)
    source = _text(data, "source_ip", errors, limit=45, allowed=_VISIBLE)
    if source is not None:
        source = _address(source)
        if source is None:
            errors["source_ip"] = ["Expected an IPv4 or IPv6 address."]
    port = _integer(data, "source_port", errors, low=1, high=65535, required=True)
    transport = _text(data, "transport", errors, limit=64, allowed=_VISIBLE)
    if transport is not None and transport.lower() not in TRANSPORTS:
        errors["transport"] = [f"Expected one of {', '.join(sorted(TRANSPORTS))}."]
    number = _text(data, "number", errors, limit=MAX_NUMBER, allowed=_user_part)
    cli = _text(data, "cli", errors, limit=MAX_NUMBER, allowed=_user_part, empty=True)
    pai = _text(data, "pai", errors, limit=MAX_NUMBER, allowed=_user_part, required=False)
    authorization = _text(data, "authorization", errors, limit=MAX_AUTHORIZATION, allowed=_PRINTABLE,
                          required=False)
    method = _text(data, "method", errors, limit=16, allowed=_VISIBLE)
    if method is not None and method != "INVITE":
        errors["method"] = ["Only an initial INVITE is routed."]
    if errors:
        raise BadRequest(errors)
    assert call_id is not None and source is not None and port is not None and number is not None
    assert cli is not None and method is not None
    return call_id, Call(source, number, cli, port, pai=pai or None), authorization, method


def parse_event(data: dict[str, Any]) -> tuple[str, EventKind, dict[str, object]]:
    """(call id, kind, the event's other fields that were given), or BadRequest."""
    errors: Errors = {}
    call_id = _text(data, "call_id", errors, limit=MAX_CALL_ID, allowed=_VISIBLE)
    text = data.get("kind")
    kind = EVENT_KINDS.get(text) if type(text) is str else None
    if text is None:
        errors["kind"] = ["This field is required."]
    elif kind is None:
        errors["kind"] = [f"Expected one of {', '.join(sorted(EVENT_KINDS))}."]
    fields: dict[str, object] = {}
    at = data.get("at")
    if at is not None:
        if type(at) not in (int, float) or not math.isfinite(at) or not 0 < at < 1e11:
            errors["at"] = ["Expected seconds since the epoch (a number)."]
        else:
            fields["at"] = float(at)
    uri = _text(data, "uri", errors, limit=MAX_URI, allowed=_VISIBLE, required=False)
    if uri is not None:
        fields["uri"] = uri
    code = _integer(data, "code", errors, low=100, high=699, required=kind == EventKind.FAILED)
    if code is not None:
        fields["code"] = code
    # A gateway's reason phrase may be UTF-8 (RFC 3261 §25.1) and of any length: it is kept, cut to MAX_REASON,
    # rather than refused, since refusing a final `failed` event would hold the call's channel until its expiry.
    # Control characters (a gateway's bytes) become spaces for the same reason, and since one refused event
    # refuses its whole batch: the reason is the only field of an event a gateway writes.
    reason = _text(data, "reason", errors, limit=MAX_BODY, allowed=_anything, required=False, empty=True)
    if reason is not None:
        fields["reason"] = _CONTROLS(" ", reason[:MAX_REASON])
    final = data.get("final")
    if final is not None:
        if type(final) is not bool:
            errors["final"] = ["Expected true or false."]
        else:
            fields["final"] = final
    release = data.get("release_reason")
    if release is not None:
        if type(release) is not str or release not in RELEASE_REASONS:
            errors["release_reason"] = [f"Expected one of {', '.join(sorted(RELEASE_REASONS))}."]
        else:
            fields["release_reason"] = release
    duration = _integer(data, "duration", errors, low=0, high=10 * 86400)
    if duration is not None:
        fields["duration"] = duration
    dialog = data.get("dialog")
    if dialog is not None:
        if (type(dialog) is not dict or dialog.keys() != {"h_entry", "h_id"}
                or any(type(value) is not int or not 0 <= value < 2**32 for value in dialog.values())):
            errors["dialog"] = ['Expected {"h_entry": <integer>, "h_id": <integer>}.']
        else:
            fields["dialog"] = {"h_entry": dialog["h_entry"], "h_id": dialog["h_id"]}
    if errors:
        raise BadRequest(errors)
    assert call_id is not None and kind is not None
    return call_id, kind, fields


def parse_events(data: dict[str, Any]) -> list[tuple[str, EventKind, dict[str, object]]]:
    """The events of a POST /events body, one or a batch (`{"events": [...]}`), or BadRequest; in a batch the first
    bad event is named by its index (`events[2].code`), and nothing of the batch is taken."""
    if BATCH not in data:
        _known_keys(data, EVENT_KEYS)
        return [parse_event(data)]
    _known_keys(data, frozenset((BATCH,)))
    items = data[BATCH]
    if type(items) is not list:
        raise BadRequest({BATCH: ["Expected a list of events."]})
    if len(items) > MAX_BATCH:
        raise BadRequest({BATCH: [f"At most {MAX_BATCH} events."]})
    events = []
    for number, item in enumerate(items):
        prefix = f"{BATCH}[{number}]"
        if type(item) is not dict:
            raise BadRequest({prefix: ["Expected a JSON object."]})
        _known_keys(item, EVENT_KEYS, f"{prefix}.")
        try:
            events.append(parse_event(item))
        except BadRequest as error:
            raise BadRequest({f"{prefix}.{field}": messages for field, messages in error.errors.items()}) from None
    return events


class Handlers:
    """The three endpoints over one engine."""

    __slots__ = ("_flush_pending", "engine")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._flush_pending = False

    def _flush_soon(self) -> None:
        """The spool written once per loop iteration, for all the requests answered in it (as the SIP server does):
        a line waits one iteration, not the housekeeping's second, and a busy loop still makes one write."""
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        try:
            self.engine.flush()
        except Exception:
            logger.exception("spool flush failed")

    async def route(self, request: web.Request) -> web.Response:
        try:
            call_id, call, authorization, method = parse_route(await _json_object(request, ROUTE_KEYS))
        except BadRequest as error:
            return _bad_request(error)
        engine = self.engine
        now = engine.clock()
        if authorization is not None:
            credentials = parse_digest(authorization, method)
            if credentials is None:  # another scheme, a field missing, garbage: a new challenge
                return self._challenge(now, stale=False)
            verdict = engine.nonces.check(credentials.digest.nonce, now)
            if verdict != "ok":
                return self._challenge(now, stale=verdict == "stale")
            call = call._replace(sip_user=credentials.username, digest=credentials.digest)
        elif self._sip_user(call):
            call = call._replace(sip_user=call.cli)
        try:
            decision = await engine.route(call, call_id=call_id, transport=TRANSPORT)
        except Exception:
            logger.exception("POST /route: the engine failed on call %s", call_id)
            return error_response(500, "The engine failed on this call; see the switch's log.")
        self._flush_soon()
        if decision.code == 407:
            return self._challenge(now, stale=False)
        return web.Response(body=rtjson.encode(decision), content_type=_JSON)

    def _sip_user(self, call: Call) -> bool:
        """Challenge a call without credentials when its address is no IP-auth entry's and its From user (the
        CLI) is a SIP user's name: decide() then answers 407 and the client retries with Proxy-Authorization."""
        index = self.engine.fast.index
        return call.cli in index.users and not index.ips.lookup(call.source_ip)

    def _challenge(self, now: float, *, stale: bool) -> web.Response:
        engine = self.engine
        header = engine.nonces.challenge_header(engine.realm, now, stale=stale)
        return web.Response(body=_dumps(rtjson.challenge(header)).encode(), content_type=_JSON)

    async def event(self, request: web.Request) -> web.Response:
        try:
            data = await _json_object(request, None)
            events = parse_events(data)
        except BadRequest as error:
            return _bad_request(error)
        engine = self.engine
        answers: list[bytes] = []
        for number, (call_id, kind, fields) in enumerate(events):
            try:
                known = await engine.event(call_id, kind, fields)
            except Exception:
                # The batch's events before this one are spooled (the edge does not resend, so keep them).
                logger.exception("POST /events: the engine failed on %s of call %s", kind, call_id)
                if BATCH in data:
                    return error_response(500, f"The engine failed on event {number} of the batch; see the "
                                               "switch's log.")
                return error_response(500, "The engine failed on this event; see the switch's log.")
            answers.append(b"true" if known else b"false")
        if b"true" in answers:
            self._flush_soon()
        if BATCH not in data:
            return web.Response(body=_KNOWN if answers[0] == b"true" else _UNKNOWN, content_type=_JSON)
        return web.Response(body=b'{"known":[' + b",".join(answers) + b"]}", content_type=_JSON)

    async def health(self, request: web.Request) -> web.Response:
        live = self.engine.live()
        body: dict[str, object] = {"status": "ok", "node": self.engine.node, "live": len(live)}
        if request.query.get("calls") == "1":
            body["calls"] = live
        return web.Response(body=_dumps(body).encode(), content_type=_JSON)


def make_app(engine: Engine) -> web.Application:
    """The switch's HTTP application; the server runs it (uvloop, access_log=None)."""
    handlers = Handlers(engine)
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/route", handlers.route)
    app.router.add_post("/events", handlers.event)
    app.router.add_get("/health", handlers.health)
    return app

