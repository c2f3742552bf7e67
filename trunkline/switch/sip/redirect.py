"""The 302 of a routed call: one Contact per gateway of every egress, in the decision's order.

Each Contact is `<sip:TECHPREFIX+NUMBER@HOST:PORT[;transport=tcp|tls]?X-CLI=CLI&P-Asserted-Identity=PAI>;q=Q`:
- the user part is the provider's tech prefix + the dialled number after rewrites (Decision.destination), escaped
  as an RFC 3261 user: letters, digits, '+', '*' and the other user-unreserved characters stay, '#' becomes %23;
- `;transport=` names the gateway's transport when it is not UDP (the sip: default);
- the CLI and P-Asserted-Identity ride as URI headers (RFC 3261 §19.1.1), which the caller copies into the INVITE it
  sends to that Contact: `X-CLI=<cli>` and `P-Asserted-Identity=<sip:PAI@HOST>` with the gateway's host, each value
  %-escaped outside hnv-unreserved / unreserved (so '<', '>', '@', '&', '=', ';', ' ' and '%' are escaped); a part
  is left out when the decision has no CLI / no PAI;
- q runs from 1.0 down in steps of 0.1; with more than 10 Contacts it uses 3 decimals, 1.000 down to 0.100 in equal
  steps of at least 0.001, so the order stays strict up to 901 Contacts (never below 0.100; beyond 901 the tail
  shares 0.100).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from trunkline.contracts.snapshot import Gateway, Provider, Transport
from trunkline.switch.sip.message import _RESPONSE_TAIL, Request, _response_head
from trunkline.switch.types import Decision, Egress

# RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ); hvalue = *( hnv-unreserved / unreserved /
# escaped ). quote() keeps ASCII letters and digits and '_.-~' itself; these are the other characters left as is.
_USER_SAFE = "!*'()&=+$,;?/"
_HVALUE_SAFE = "!*'()[]/?:+$"
_PLAIN = re.compile(r"[0-9A-Za-z+]*")  # numbers and CLIs are almost always these: nothing to escape

# Per egress gateway list, the URI pieces that do not change from call to call: ('<sip:' + escaped tech prefix,
# '@host:port;transport=..', the escaped '@host>' that ends the PAI). Keyed by id() of the gateways tuple (the
# provider's own, which lives as long as the index), with the tuple and provider kept in the entry since an id can be
# reused once an old index is gone; emptied when it grows past a few index reloads' worth.
_PIECES: dict[int, tuple[tuple[Gateway, ...], Provider, tuple[tuple[str, str, str], ...]]] = {}
_PIECES_SIZE = 65_536


def _user(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else quote(text, safe=_USER_SAFE)


def _hvalue(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else quote(text, safe=_HVALUE_SAFE)


def _pieces(provider: Provider, gateways: tuple[Gateway, ...]) -> tuple[tuple[str, str, str], ...]:
    entry = _PIECES.get(id(gateways))
    if entry is not None and entry[0] is gateways and entry[1] is provider:
        return entry[2]
    start = "Contact: <sip:" + _user(provider.tech_prefix)
    pieces = []
    for gateway in gateways:
        transport = "" if gateway.transport is Transport.UDP else f";transport={gateway.transport.value}"
        # The host comes from the routing file; anything but a host name or address there would break the header.
        host = quote(gateway.host, safe="[]:")
        pieces.append((start, f"@{host}:{int(gateway.port)}{transport}", quote(f"@{host}>", safe=_HVALUE_SAFE)))
    if len(_PIECES) >= _PIECES_SIZE:
        _PIECES.clear()
    found = tuple(pieces)
    _PIECES[id(gateways)] = (gateways, provider, found)
    return found


_TENTHS = ("1.0", "0.9", "0.8", "0.7", "0.6", "0.5", "0.4", "0.3", "0.2", "0.1")
_TENTH_TAILS = tuple(tuple(f">;q={q}\r\n" for q in _TENTHS[:count]) for count in range(11))


def q_values(count: int) -> tuple[str, ...]:
    """`count` q values, strictly descending where possible (see the module docstring)."""
    if count <= 10:
        return _TENTHS[:count]
    step = max(900 // (count - 1), 1)
    return tuple(f"{value // 1000}.{value % 1000:03d}"
                 for value in (max(1000 - index * step, 100) for index in range(count)))


# Per sequence of egress providers and gateway lists, the whole Contact block as a %-template of the parts that
# change per call: the escaped number, and the CLI / PAI URI headers. Not per Order object: nearly every dialled
# number gets an Order of its own (its prefixes' plan), while a few hundred provider sequences cover them all. Two
# templates (without PAI, with PAI), each made the first time it is needed. Keyed by the ids of the providers and
# gateway tuples, which the entry keeps alive (an id is reused only once its object is gone, and a reloaded index
# brings new objects); emptied when it grows past a few index reloads' worth.
_TEMPLATES: dict[tuple[int, ...], list[object]] = {}
_TEMPLATES_SIZE = 65_536


def _template(routes: tuple[Egress, ...], with_pai: bool) -> str:
    if len(routes) == 1:
        key: tuple[int, ...] = (id(routes[0][0]), id(routes[0][1]))
    else:
        key = tuple([id(egress[0]) for egress in routes] + [id(egress[1]) for egress in routes])
    entry = _TEMPLATES.get(key)
    if entry is None:
        if len(_TEMPLATES) >= _TEMPLATES_SIZE:
            _TEMPLATES.clear()
        entry = _TEMPLATES[key] = [tuple([(egress[0], egress[1]) for egress in routes]), None, None]
    found = entry[2 if with_pai else 1]
    if found is None:
        found = _make_template(routes, with_pai)
        entry[2 if with_pai else 1] = found
    return found  # type: ignore[return-value]


def _make_template(routes: tuple[Egress, ...], with_pai: bool) -> str:
    """_block's text with `%(d)s` for the number and `%(c)s` for the URI headers up to the PAI's user (with_pai)
    or all of them; the constant parts' own '%' doubled."""
    targets, tails = _targets_and_tails(routes)
    return "".join([f"{_percent(start)}%(d)s{_percent(host)}%(c)s{_percent(pai_tail) if with_pai else ''}{tail}"
                    for (start, host, pai_tail), tail in zip(targets, tails, strict=True)])


def _targets_and_tails(routes: tuple[Egress, ...]) -> tuple[tuple[tuple[str, str, str], ...], tuple[str, ...]]:
    """Every gateway's URI pieces in egress order, and the `>;q=...` tail of each Contact line."""
    if len(routes) == 1:
        targets = _pieces(routes[0].provider, routes[0].gateways)
    else:
        targets = ()
        for egress in routes:
            targets += _pieces(egress.provider, egress.gateways)
    count = len(targets)
    return targets, (_TENTH_TAILS[count] if count <= 10 else tuple(f">;q={q}\r\n" for q in q_values(count)))


def _percent(text: str) -> str:
    return text.replace("%", "%%")


def _block(decision: Decision) -> str:
    """The `Contact: ...` lines, CRLF ended, one per gateway in egress order."""
    destination = decision.destination
    if not _PLAIN.fullmatch(destination):
        destination = quote(destination, safe=_USER_SAFE)
    cli = decision.cli
    pai = decision.pai
    cli_part = f"?X-CLI={_hvalue(cli)}" if cli else ""
    if pai is None:
        return _template(decision.routes, False) % {"d": destination, "c": cli_part}
    return _template(decision.routes, True) % {
        "d": destination, "c": f"{cli_part}{'&' if cli else '?'}P-Asserted-Identity=%3Csip:{_hvalue(pai)}"}


def _block_uncached(decision: Decision) -> str:
    """_block without the templates (what they are checked against)."""
    destination = decision.destination
    if not _PLAIN.fullmatch(destination):
        destination = quote(destination, safe=_USER_SAFE)
    cli = decision.cli
    pai = decision.pai
    cli_part = f"?X-CLI={_hvalue(cli)}" if cli else ""
    targets, tails = _targets_and_tails(decision.routes)
    if pai is None:
        return "".join([f"{start}{destination}{host}{cli_part}{tail}"
                        for (start, host, _), tail in zip(targets, tails, strict=True)])
    pai_head = f"{cli_part}{'&' if cli else '?'}P-Asserted-Identity=%3Csip:{_hvalue(pai)}"
    return "".join([f"{start}{destination}{host}{pai_head}{pai_tail}{tail}"
                    for (start, host, pai_tail), tail in zip(targets, tails, strict=True)])


def contacts(decision: Decision, transport: str) -> list[str]:
    """The Contact values of a routed decision, one per gateway in egress order, q descending.

    `transport` is the one the request came over; a Contact names its gateway's own transport instead (a sip: URI
    without one means UDP), so it changes nothing today and is there for the agreed interface."""
    del transport
    return [line[9:] for line in _block(decision).split("\r\n")[:-1]]


def build_redirect(req: Request, decision: Decision, to_tag: str, *, received: str | None = None,
                   rport: int | None = None) -> bytes:
    """`302 Moved Temporarily` to `req` with the decision's Contacts (build_response's layout)."""
    head = _response_head(req, 302, "Moved Temporarily", to_tag, received, rport)
    return (head + _block(decision) + _RESPONSE_TAIL).encode()
