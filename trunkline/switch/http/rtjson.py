"""A Decision as Kamailio's rtjson document: what `POST /route` answers.

Checked against Kamailio's rtjson module (src/modules/rtjson/rtjson_routing.c and its README, the 5.x series
5.6 ships) rather than guessed, and run through Kamailio 5.6.3 by tests/switch/test_kamailio.py:

- the top level needs `routing` ("serial" or "parallel"; anything else fails rtjson_push_routes()) and `routes`,
  an array with at least one object: an empty array makes rtjson_push_routes() fail, so the config must read our
  `code` first and only push routes when it is 200. `version` is not checked ("1.0" recommended). Other keys
  are ignored by the module, which is what lets `code`, `reason`, `max_duration` and the challenge's `headers`
  ride along for the config's json/jansson reads.
- a route reads `uri` (the R-URI; required for every branch after the first), `dst_uri` (outbound proxy,
  where the branch goes), `path`, `socket`, `branch_flags` (a non-zero number), `fr_timer` and `fr_inv_timer`
  (non-zero numbers, milliseconds, tm's set_fr() -- so 0 cannot be sent to mean "default": the key is left out).
- a route's `headers` object: `extra` (a string appended to the request as it stands; only used when longer than
  4 characters, each header ending in CRLF), `from` and `to` objects with `display` and `uri` (applied through the
  uac module's replace_from()/replace_to(), so the config loads uac). `headers`, `branch_flags` and the timers
  are applied by rtjson_update_branch() in a branch_route, for serial routing only.

Ours, for the config: `code` and `reason` (200 "Routed" or the reject to send with sl_send_reply/t_reply),
`max_duration` (seconds for the dialog's timeout, or null) and, with a 407, `headers.Proxy-Authenticate`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

from trunkline.contracts.snapshot import Gateway
from trunkline.switch.types import CHALLENGE, Decision

VERSION = "1.0"
ROUTING = "serial"
ROUTED = "Routed"
# tm timers for each branch, milliseconds: a gateway silent for 3 s after the INVITE, or ringing without an
# answer for 60 s, fails over to the next gateway.
FR_TIMER = 3000
FR_INV_TIMER = 60000

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@lru_cache(maxsize=4096)
def _gateway(gateway: Gateway) -> tuple[str, str, str]:
    """`@host:port` for the R-URI, the dst_uri with the transport, and `@host` for the From URI."""
    host = f"[{gateway.host}]" if ":" in gateway.host else gateway.host  # an IPv6 literal is bracketed in a URI
    return (f"@{host}:{gateway.port}", f"sip:{host}:{gateway.port};transport={gateway.transport.value}",
            f"@{host}")


def routed(decision: Decision) -> dict[str, Any]:
    """The accepted decision's routes: one per gateway of each egress, in the decision's order."""
    destination, cli, pai = decision.destination, decision.cli, decision.pai
    routes: list[dict[str, Any]] = []
    append = routes.append
    for egress in decision.routes:
        number = egress.provider.tech_prefix + destination
        for gateway in egress.gateways:
            at_port, dst_uri, at_host = _gateway(gateway)
            item: dict[str, Any] = {"uri": f"sip:{number}{at_port}", "dst_uri": dst_uri}
            headers: dict[str, Any] = {}
            if cli:  # an empty From user (an anonymous caller) keeps the From it came with: "sip:@host" is no URI
                headers["from"] = {"uri": f"sip:{cli}{at_host}"}
            if pai:
                headers["extra"] = f"P-Asserted-Identity: <sip:{pai}{at_host}>\r\n"
            if headers:
                item["headers"] = headers
            item["fr_timer"], item["fr_inv_timer"] = FR_TIMER, FR_INV_TIMER
            append(item)
    return {"version": VERSION, "routing": ROUTING, "code": 200, "reason": ROUTED,
            "max_duration": decision.max_duration, "routes": routes}


def reject(code: int, reason: str) -> dict[str, Any]:
    return {"version": VERSION, "routing": ROUTING, "routes": [], "code": code, "reason": reason}


def challenge(proxy_authenticate: str) -> dict[str, Any]:
    """A 407: the config answers it with this Proxy-Authenticate header (append_to_reply, then send_reply)."""
    return {"version": VERSION, "routing": ROUTING, "routes": [], "code": 407, "reason": CHALLENGE,
            "headers": {"Proxy-Authenticate": proxy_authenticate}}


def document(decision: Decision, proxy_authenticate: str = "") -> dict[str, Any]:
    """The rtjson answer to `decision`; `proxy_authenticate` is the challenge header when it is a 407."""
    if decision.accepted:
        return routed(decision)
    if decision.code == 407:
        return challenge(proxy_authenticate)
    return reject(decision.code, decision.reason)


def encode(decision: Decision, proxy_authenticate: str = "") -> bytes:
    """document() as the bytes of the HTTP answer, compact JSON: a routed answer is joined from fragments built
    once per gateway (json.dumps of the whole document cost 3x as much), a reject's bytes once per (code, reason).
    tests/switch/http/test_rtjson.py checks both ways give the same document."""
    if decision.accepted:
        return _encode_routed(decision)
    if decision.code == 407:
        return _dumps(challenge(proxy_authenticate)).encode()
    return _reject_bytes(decision.code, decision.reason)


@lru_cache(maxsize=256)
def _reject_bytes(code: int, reason: str) -> bytes:
    return _dumps(reject(code, reason)).encode()


def _inner(text: str) -> str:
    """`text` as the inside of a JSON string (quotes, backslashes and controls escaped; the rest kept)."""
    return encode_basestring(text)[1:-1]


@lru_cache(maxsize=4096)
def _gateway_fragments(gateway: Gateway) -> tuple[str, str]:
    """A route's JSON after its number (`@host:port` to the dst_uri's closing quote) and `@host` for the URIs."""
    at_port, dst_uri, at_host = _gateway(gateway)
    return f'{_inner(at_port)}","dst_uri":"{_inner(dst_uri)}"', _inner(at_host)


_TIMERS = f',"fr_timer":{FR_TIMER},"fr_inv_timer":{FR_INV_TIMER}}}'
_ROUTED_HEAD = f'{{"version":"{VERSION}","routing":"{ROUTING}","code":200,"reason":"{ROUTED}","max_duration":'


def _encode_routed(decision: Decision) -> bytes:
    destination, cli = _inner(decision.destination), _inner(decision.cli)
    pai = _inner(decision.pai) if decision.pai else ""
    routes = []
    for egress in decision.routes:
        number = _inner(egress.provider.tech_prefix) + destination
        for gateway in egress.gateways:
            after_number, at_host = _gateway_fragments(gateway)
            if cli and pai:
                headers = (f',"headers":{{"from":{{"uri":"sip:{cli}{at_host}"}},'
                           f'"extra":"P-Asserted-Identity: <sip:{pai}{at_host}>\\r\\n"}}')
            elif cli:
                headers = f',"headers":{{"from":{{"uri":"sip:{cli}{at_host}"}}}}'
            elif pai:
                headers = f',"headers":{{"extra":"P-Asserted-Identity: <sip:{pai}{at_host}>\\r\\n"}}'
            else:
                headers = ""
            routes.append(f'{{"uri":"sip:{number}{after_number}{headers}{_TIMERS}')
    duration = "null" if decision.max_duration is None else str(decision.max_duration)
    return f'{_ROUTED_HEAD}{duration},"routes":[{",".join(routes)}]}}'.encode()
