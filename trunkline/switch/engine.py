"""The switch's engine: the routing file's index, live counters and the call spool behind one object.

The SIP server (trunkline.switch.sip.server) and the HTTP app (trunkline.switch.http.app) call it:

- `route()`: route_call() on the current index; an accepted call then takes its channels and CPS in every
  limited scope (customer, IP-auth entry or SIP user, ingress route, the first provider of the egress) at once,
  or is refused with 503 Channel/CPS Limit Reached. A provider refused there leaves the egress and the next one
  is tried (with Redis counters decide() reads no live counts, so this is where providers at their limits go).
  Every answer but a 407 challenge appends an `attempt` line to the spool (trunkline.contracts.calls).
- `event()`: a dialog event of a call this process routed: its line is spooled (an `answered` line is flushed
  before event() returns, so a kill -9 after the answer loses nothing answered); failed (final) and ended let
  the call's channels go. With Redis counters an event of a call another process routed is spooled too (the
  loader finds its provider) and its hold in Redis is let go by call id.
- `expire()`: channels held past their expiry (max duration, else 4 h, plus 60 s) are let go with an `expired`
  line, so a lost event cannot hold a channel for ever.

The engine remembers a routed call (compactly: its expiry, customer, route and egress) when it holds channels or
when events are expected for it: calls routed over HTTP (Kamailio reports the dialog). A SIP redirect's call
without a channel limit is forgotten at once: no event ever comes for it, and remembering every call at 12,000
calls/s for 4 h would not fit in memory.

With in-process counters (MemoryCounters) and a file spool, route() and event() never suspend: the SIP server
drives them with coroutine.send(None). With Redis (COUNTERS_URL) they await the counters and the stream.

Balances: decide() reads a customer's balance through the counters. The switch loads them from `balances.json`
beside the routing file (`{"<customer id>": "<decimal balance>", ...}`), reloaded when it changes; without the
file every balance is 0, so a call must be covered by the customer's debit limit.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import json
import logging
import os
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from json.encoder import encode_basestring_ascii as _quote
from pathlib import Path
from time import time
from typing import Any, NamedTuple, cast

from trunkline.contracts.balances import BALANCES_FILE, STREAM_CURSOR_PREFIX, Balances, is_charged, parse_balances
from trunkline.contracts.calls import SPOOL_DIR, SPOOL_VERSION, EventKind, ReleaseReason
from trunkline.contracts.codec import read_snapshot
from trunkline.contracts.snapshot import Customer, Gateway, IngressRoute, RateRow, SipUser
from trunkline.switch.counters import (
    CHANNELS,
    CUSTOMER,
    IP_AUTH,
    PROVIDER,
    ROUTE,
    SIP_USER,
    AsyncLiveCounters,
    ExpiryWheel,
    Limit,
    LiveCounters,
    MemoryCounters,
    Refusal,
)
from trunkline.switch.egress import Order
from trunkline.switch.fast import FastIndex, route_call
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.rating import first_increment_charge
from trunkline.switch.reserve import DEFAULT_LEAD, DEFAULT_SLICE, paid_seconds, slice_cost
from trunkline.switch.sip.nonce import Nonces
from trunkline.switch.spool import FileSpool, Spool
from trunkline.switch.types import CHANNEL_LIMIT, CPS_LIMIT, INSUFFICIENT_BALANCE, Call, Decision, Egress

log = logging.getLogger(__name__)

DEFAULT_EDGE_RPC_URL = "http://127.0.0.1:5071/RPC"  # Kamailio's JSON-RPC (deploy/kamailio/kamailio.cfg)
EDGE_RPC_TIMEOUT = 5.0  # seconds
DEFAULT_HOLD = 4 * 3600  # seconds a call without a max duration may hold its channels
_ZERO = Decimal(0)
HOLD_MARGIN = 60  # seconds past the max duration before a channel is let go without an event
EVENT_TRANSPORTS = frozenset({"http"})  # edges that report dialog events (Kamailio)
ORDER_MEMO = 200_000  # egress orders whose attempt-line text is kept

_Signature = tuple[int, int, int]  # st_mtime_ns, st_ino, st_size


class _Live(NamedTuple):
    """What the engine keeps per routed call for its events, expiry and live()."""

    at: float
    expires_at: float
    customer: int
    route: int
    egress: Order
    held: bool  # holds channels in the counters
    transport: str


# tuple.__new__ builds the NamedTuple in C: one per remembered call.
_new_live: Callable[[tuple[float, float, int, int, Order, bool, str]], _Live] = partial(tuple.__new__, _Live)


class _Money:
    """A call's reservation as the engine follows it: what it holds, how long that pays for, when to act next."""

    __slots__ = ("answered", "customer", "dialog", "due", "expires_at", "last", "max_duration", "reserved", "row",
                 "target", "tax")

    def __init__(self, customer: Customer, row: RateRow, tax: Decimal, reserved: Decimal, target: int,
                 max_duration: int | None, expires_at: float) -> None:
        self.customer = customer
        self.row = row
        self.tax = tax
        self.reserved = reserved
        self.target = target  # seconds of talk time the reservation is meant to cover (slices so far)
        self.max_duration = max_duration
        self.expires_at = expires_at
        self.answered: float | None = None
        self.dialog: tuple[int, int] | None = None  # Kamailio's h_entry, h_id
        self.due: float | None = None  # when the next renewal (or, when `last`, the disconnect) is due
        self.last = False


def _signature(path: Path) -> _Signature | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_ino, stat.st_size


def read_balances_file(path: Path) -> Balances:
    """balances.json (contracts.balances, version 2 or 1); a missing file is no balances. ValueError if bad."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Balances({}, {}, {}, None)
    try:
        return parse_balances(json.loads(text))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def read_balances(path: Path) -> dict[int, Decimal]:
    """The balances of balances.json, by customer id."""
    return read_balances_file(path).balances


def hostport(gateway: Gateway) -> str:
    host = f"[{gateway.host}]" if ":" in gateway.host else gateway.host
    return f"{host}:{gateway.port}"


def uri_hostport(uri: str) -> str | None:
    """"host:port" of a SIP URI (sip:user@host:port;params), port 5060 when absent; None when unparseable."""
    _, colon, rest = uri.partition(":")
    if not colon:
        return None
    rest = rest.rpartition("@")[2]
    for stop in (";", "?", ">"):
        rest = rest.partition(stop)[0]
    if rest.startswith("["):
        host, bracket, port = rest[1:].partition("]")
        if not bracket:
            return None
        host, port = f"[{host.lower()}]", port.lstrip(":")
    else:
        host, _, port = rest.partition(":")
        host = host.lower()
    if not host or (port and not port.isdigit()):
        return None
    return f"{host}:{int(port) if port else 5060}"


# A provider's gateways as the attempt line's JSON list, per gateways tuple: nearly every dialled number has an
# egress order of its own (the _order memo misses), but the gateway lists are the providers'. Keyed by id() with the
# tuple kept in the entry (an id is reused only once its object is gone); emptied past GATEWAYS_MEMO.
_GATEWAYS_JSON: dict[int, tuple[tuple[Gateway, ...], str]] = {}
GATEWAYS_MEMO = 65_536


def _gateways_json(gateways: tuple[Gateway, ...]) -> str:
    found = _GATEWAYS_JSON.get(id(gateways))
    if found is None or found[0] is not gateways:
        if len(_GATEWAYS_JSON) >= GATEWAYS_MEMO:
            _GATEWAYS_JSON.clear()
        found = _GATEWAYS_JSON[id(gateways)] = (
            gateways, f'[{",".join([_quote(hostport(gateway)) for gateway in gateways])}]')
    return found[1]


def _provider_json(item: Egress) -> str:
    return (f'{{"provider":{item.provider.id},"card":{item.card_id},"rate":"{item.cost}",'
            f'"gateways":{_gateways_json(item.gateways)}}}')


def _rate_json(row: RateRow, card: int) -> str:
    return (f'{{"card":{card},"prefix":{_quote(row.prefix)},"name":{_quote(row.name)},"rate":"{row.rate}",'
            f'"connection_fee":"{row.connection_fee}","grace":{row.grace},"mcd":{row.mcd},"pulse":{row.pulse}}}')


def _expiry(at: str, hold: int) -> str:
    """`at` (milliseconds as text) plus `hold` seconds, as decimal seconds; "null" without a hold."""
    if not hold:
        return "null"
    expires = str(int(at) + hold * 1000)
    return f"{expires[:-3]}.{expires[-3:]}"


class Engine:
    """The routing index, live counters and spool of one switch process; see the module's text."""

    def __init__(self, *, routing_file: Path, counters: LiveCounters | AsyncLiveCounters, spool: Spool, node: str,
                 nonces: Nonces, realm: str = "trunkline", clock: Callable[[], float] = time,
                 event_transports: frozenset[str] = EVENT_TRANSPORTS, slice_seconds: int = DEFAULT_SLICE,
                 lead: int = DEFAULT_LEAD, edge_rpc_url: str = DEFAULT_EDGE_RPC_URL) -> None:
        self.routing_file = Path(routing_file)
        self.balances_file = self.routing_file.parent / BALANCES_FILE
        self.counters = counters
        self.spool = spool
        self.node = node
        self.nonces = nonces
        self.realm = realm
        self.clock = clock
        self.event_transports = event_transports
        self.slice_seconds = slice_seconds
        self.lead = lead
        self.edge_rpc_url = edge_rpc_url
        self.fast: FastIndex
        # Reservations: calls holding money and not yet ended, their renewals and disconnects by due time, and
        # ended calls whose money waits for balances.json to show their final line charged.
        self._money: dict[str, _Money] = {}
        self._due: list[tuple[float, str]] = []
        self._unsettled: dict[str, tuple[str, int | str]] = {}
        self._charged: dict[str, int | str] = {}
        self._rpc: Any = None  # aiohttp.ClientSession, opened on the first disconnect
        self.disconnected = 0  # calls ended for their balance by this process
        # One of the two, by the counters' kind: coroutines (Redis) or plain calls (in process).
        self._async: AsyncLiveCounters | None = None
        self._sync: LiveCounters | None = None
        if inspect.iscoroutinefunction(counters.acquire):
            self._async = cast(AsyncLiveCounters, counters)
        else:
            self._sync = cast(LiveCounters, counters)
        self._node_json = _quote(node)
        self._live: dict[str, _Live] = {}
        self._answered: dict[str, float] = {}  # remembered calls answered, when
        self._wheel = ExpiryWheel()  # the remembered calls by expiry
        self.expiring: asyncio.Task[None] | None = None
        self._routing: _Signature | None = None
        self._balances: _Signature | None = None
        self._refused: _Signature | None = None  # a routing file that failed to load (logged once)
        self._missing = False
        # JSON fragments of the attempt line per long-lived object of the index (a provider's Egress, a rate row
        # with its card), by id, the object kept alive beside its fragment so the id cannot be reused; emptied
        # when a new index comes in.
        self._fragments: dict[int, tuple[Any, Any, Any]] = {}
        self._scopes: dict[tuple[int, int], tuple[object, object, object, tuple[Limit, ...], str, bool]] = {}

    # Loading.

    def load(self) -> None:
        """The first load: raises when the routing file is missing or bad (the command line reports it)."""
        routing, balances_sig = _signature(self.routing_file), _signature(self.balances_file)
        self.fast = self._build()
        self._routing = routing
        self._load_balances(balances_sig)

    def _build(self) -> FastIndex:
        return FastIndex(SnapshotIndex(read_snapshot(self.routing_file)))

    def _load_balances(self, signature: _Signature | None) -> bool:
        try:
            loaded = read_balances_file(self.balances_file)
        except (OSError, ValueError) as error:
            log.error("balances file %s not loaded (the previous balances stay): %s", self.balances_file, error)
            self._balances = signature
            return False
        self.counters.load_balances(loaded.balances, loaded.tax_rates)
        self._charged = loaded.charged_through
        self._balances = signature
        return True

    def _charged_now(self) -> list[str]:
        """Ended calls whose final line balances.json shows charged: their money is in the balance now."""
        settled = []
        gone: dict[str, bool] = {}  # per spool file: one stat each, however many calls ended in it
        for call_id, (key, position) in self._unsettled.items():
            charged = is_charged(self._charged, key, position)
            if charged is None and not key.startswith(STREAM_CURSOR_PREFIX):
                charged = gone.get(key)
                if charged is None:
                    charged = gone[key] = self.spool.gone(key)
            if charged:
                settled.append(call_id)
        return settled

    async def settle(self) -> int:
        """Let go of the reservations of ended calls that are charged; how many."""
        settled = self._charged_now()
        for call_id in settled:
            del self._unsettled[call_id]
            if self._sync is not None:
                self._sync.release_reservation(call_id)
            else:
                await cast(AsyncLiveCounters, self._async).release_reservation(call_id)
        return len(settled)

    async def reload_if_changed(self) -> bool:
        """A changed routing file is indexed in a thread and swapped in with one assignment; a bad one keeps the
        current index (logged once). The balances file is reloaded when it changes. True when the index changed."""
        routing, balances = _signature(self.routing_file), _signature(self.balances_file)
        if balances != self._balances and self._load_balances(balances) and self._unsettled:
            await self.settle()
        if routing is None:
            if not self._missing:
                self._missing = True
                log.error("routing file %s is missing; the loaded index stays", self.routing_file)
            return False
        self._missing = False
        if routing == self._routing or routing == self._refused:
            return False
        try:
            fast = await asyncio.to_thread(self._build)
        except Exception as error:
            self._refused = routing
            log.error("routing file %s not loaded (the previous index stays): %s", self.routing_file, error)
            return False
        self.fast = fast  # calls in flight finish on the index they started with
        self._fragments, self._scopes = {}, {}
        self._routing, self._refused = routing, None
        log.info("routing file %s loaded: revision %s", self.routing_file, fast.index.snapshot.revision)
        return True

    # Calls.

    async def route(self, call: Call, *, call_id: str, transport: str) -> Decision:
        now = self.clock()
        decision = route_call(self.fast, self.counters, call, slice_seconds=self.slice_seconds)
        if decision.code == 407:
            return decision  # a challenge is no attempt: the authenticated INVITE that follows is
        auth, route, customer = decision.auth, decision.route, decision.customer
        scope = self._scopes.get((id(auth), id(route)))
        if scope is None or scope[0] is not auth or scope[1] is not route or scope[2] is not customer:
            scope = self._scope(decision)
        order = self._order(decision.routes)
        hold = 0
        if decision.accepted:
            hold = (decision.max_duration or DEFAULT_HOLD) + HOLD_MARGIN
            expires_at = now + hold
            held = False
            limits = scope[3] if order[2] is None else (*scope[3], order[2])
            while limits:
                refused = (self._sync.acquire(call_id, limits, expires_at, now) if self._sync is not None else
                           await cast(AsyncLiveCounters, self._async).acquire(call_id, limits, expires_at, now))
                if refused is None:
                    held = scope[5] or (order[2] is not None and order[2][2] > 0)
                    break
                decision = self._refused_at(decision, refused)
                order = self._order(decision.routes)
                if not decision.accepted:
                    hold = 0
                    break
                limits = scope[3] if order[2] is None else (*scope[3], order[2])
            if hold and transport in self.event_transports and decision.rate is not None:
                # Money only for calls whose edge reports them and can end them: a SIP redirect's call is never
                # seen again, so its max duration is its only bound.
                reserved = await self._reserve_first(call_id, decision, expires_at)
                if reserved is None:
                    if held:
                        if self._sync is not None:
                            self._sync.release(call_id)
                        else:
                            await cast(AsyncLiveCounters, self._async).release(call_id)
                    decision = decision._replace(accepted=False, code=402, reason=INSUFFICIENT_BALANCE, trace=(),
                                                 routes=(), recording=False, max_duration=None)
                    order = self._order(decision.routes)
                    hold = 0
                else:
                    decision = decision._replace(reserve=reserved)
            if hold and (held or transport in self.event_transports):
                self._live[call_id] = _new_live((now, expires_at, cast(Customer, customer).id,
                                                 cast(IngressRoute, route).id, cast(Order, decision.routes), held,
                                                 transport))
                self._wheel.add(call_id, expires_at)
        rate = decision.rate
        if rate is None or route is None:
            rate_json = "null"
        else:
            found = self._fragments.get(id(rate))
            if found is None or found[0] is not rate or found[1] != route.rate_card_id:
                found = self._fragments[id(rate)] = (rate, route.rate_card_id, _rate_json(rate, route.rate_card_id))
            rate_json = found[2]
        # Milliseconds, written as decimal seconds: formatting a float costs a microsecond, an int a fifth of it.
        at = str(round(now * 1000))
        quoted_cli, quoted_destination = _quote(call.cli), _quote(call.destination)
        cli = quoted_cli if decision.cli == call.cli else _quote(decision.cli) if decision.cli else "null"
        destination = quoted_destination if decision.destination == call.destination else _quote(
            decision.destination) if decision.destination else "null"
        self.spool.append_line(
            f'{{"v":{SPOOL_VERSION},"kind":"attempt","call_id":{_quote(call_id)},"node":{self._node_json},'
            f'"at":{at[:-3]}.{at[-3:]},{scope[4]},"source_ip":{_quote(call.source_ip)},'
            f'"source_port":{call.source_port},"transport":{_quote(transport)},"cli_in":{quoted_cli},'
            f'"dst_in":{quoted_destination},"cli":{cli},"dst":{destination},'
            f'"pai":{"null" if decision.pai is None else _quote(decision.pai)},"code":{decision.code},'
            f'"reason":{_quote(decision.reason)},"rate":{rate_json},"providers":{order[1]},'
            f'"max_duration":{"null" if decision.max_duration is None else decision.max_duration},'
            f'"reserve":"{decision.reserve!s}","recording":{"true" if decision.recording else "false"},'
            f'"expires_at":{_expiry(at, hold)}}}\n')
        return decision

    async def _reserve_first(self, call_id: str, decision: Decision, expires_at: float) -> Decimal | None:
        """Take the decision's reservation (its first slice, or what is available); None when the counters no
        longer cover the first increment (another node's calls took the money since decide() read it)."""
        customer, row = cast(Customer, decision.customer), cast(RateRow, decision.rate)
        funds = self.counters.balance(customer.id) + customer.debit_limit
        least = first_increment_charge(row)
        taken = (self._sync.reserve_call(call_id, customer.id, decision.reserve, least, funds, expires_at)
                 if self._sync is not None else
                 await cast(AsyncLiveCounters, self._async).reserve_call(
                     call_id, customer.id, decision.reserve, least, funds, expires_at))
        if taken is not None:
            seconds = decision.max_duration
            target = self.slice_seconds if seconds is None or seconds > self.slice_seconds else seconds
            self._money[call_id] = _Money(customer, row, self.counters.tax_rate(customer.id), taken, target,
                                          seconds, expires_at)
        return taken

    def _scope(self, decision: Decision) -> tuple[object, object, object, tuple[Limit, ...], str, bool]:
        """What a call's customer, auth entry and route give every call: their limited scopes in decide()'s order
        and the attempt line's fragment naming them; kept per (auth, route)."""
        limits: list[Limit] = []
        customer, auth, route = decision.customer, decision.auth, decision.route
        if customer is not None and (customer.channels or customer.cps):
            limits.append((CUSTOMER, customer.id, customer.channels, customer.cps))
        if auth is not None and (auth.channels or auth.cps):
            limits.append((SIP_USER if type(auth) is SipUser else IP_AUTH, auth.id, auth.channels, auth.cps))
        if route is not None and (route.channels or route.cps):
            limits.append((ROUTE, route.id, route.channels, route.cps))
        kind = "null" if auth is None else '"sip_user"' if type(auth) is SipUser else '"ip"'
        fragment = (f'"customer":{"null" if customer is None else customer.id},"auth_kind":{kind},'
                    f'"auth_id":{"null" if auth is None else auth.id},'
                    f'"tech_prefix":{"null" if route is None else _quote(route.tech_prefix)},'
                    f'"route":{"null" if route is None else route.id}')
        scope = self._scopes[id(auth), id(route)] = (auth, route, customer, tuple(limits), fragment,
                                                     any(limit[2] for limit in limits))
        return scope

    def _order(self, routes: tuple[Egress, ...]) -> tuple[object, str, Limit | None]:
        """The attempt line's providers list and the first provider's limits, kept per egress order: the orders of
        the index's plans live as long as it does. Others (weighted draws, providers left out at their limits)
        are new each call, so the memo is emptied when it grows past ORDER_MEMO."""
        found = self._fragments.get(id(routes))
        if found is None or found[0] is not routes:
            if len(self._fragments) > ORDER_MEMO:
                self._fragments.clear()
            provider = routes[0].provider if routes else None
            found = self._fragments[id(routes)] = (
                routes, f"[{','.join([_provider_json(item) for item in routes])}]",
                (PROVIDER, provider.id, provider.channels, provider.cps)
                if provider is not None and (provider.channels or provider.cps) else None)
        return found

    @staticmethod
    def _refused_at(decision: Decision, refused: Refusal) -> Decision:
        """A provider refused leaves the egress (the next one is tried); any other scope refuses the call."""
        scope, _, kind = refused
        if scope == PROVIDER and len(decision.routes) > 1:
            return decision._replace(routes=Order(decision.routes[1:]))
        return decision._replace(accepted=False, code=503, reason=CHANNEL_LIMIT if kind == CHANNELS else CPS_LIMIT,
                                 trace=(), routes=(), recording=False)

    # Events.

    async def event(self, call_id: str, kind: EventKind, data: Mapping[str, object]) -> bool:
        """Spool a dialog event of a call this process routed; False (nothing spooled) for an unknown call id.

        With shared (Redis) counters another process may have routed the call (the edge's events land on any
        process): its line is spooled all the same, the provider left to the loader (from the attempt line's
        gateways and the line's gateway), and failed (final) / ended let its hold in Redis go by call id."""
        live = self._live.get(call_id)
        if live is None:
            if self._async is None:
                return False  # one process: unknown really is unknown
            return await self._foreign_event(call_id, kind, data, self._async)
        at = data.get("at")
        line: dict[str, object] = {"v": SPOOL_VERSION, "kind": str(kind), "call_id": call_id, "node": self.node,
                                   "at": at if isinstance(at, int | float) else self.clock()}
        if kind != EventKind.ENDED:
            provider, branch, gateway = self._provider_of(live, data.get("uri"))
            if provider is None and isinstance(data.get("provider"), int):
                provider = cast(int, data["provider"])
            line["provider"] = provider
        if kind == EventKind.ROUTED:
            line["gateway"], line["branch"] = gateway, branch
        elif kind == EventKind.ANSWERED:
            self._answered[call_id] = cast(float, line["at"])
        if await self._spool_event(line, kind, data):
            self._forget(call_id, stale=True)
            if live.held:
                if self._sync is not None:
                    self._sync.release(call_id)
                else:
                    await cast(AsyncLiveCounters, self._async).release(call_id)
            await self._money_ends(call_id, kind)
        elif kind == EventKind.ANSWERED:
            self._money_answered(call_id, cast(float, line["at"]), data.get("dialog"))
        return True

    def _money_answered(self, call_id: str, at: float, dialog: object) -> None:
        """Paid time runs from the answer: the renewal is due `lead` seconds before it runs out."""
        money = self._money.get(call_id)
        if money is None or money.answered is not None:
            return
        money.answered = at
        if isinstance(dialog, dict):
            money.dialog = (int(dialog["h_entry"]), int(dialog["h_id"]))
        self._schedule(call_id, money)

    def _schedule(self, call_id: str, money: _Money) -> None:
        paid = paid_seconds(money.row, money.reserved, money.tax)
        answered = cast(float, money.answered)
        if paid is None or (money.max_duration is not None and paid >= money.max_duration and not money.last):
            money.due = None  # free, or paid up to the max duration the edge enforces: nothing more to reserve
            return
        money.due = answered + paid if money.last else answered + max(paid - self.lead, 0)
        heapq.heappush(self._due, (money.due, call_id))

    async def _money_ends(self, call_id: str, kind: EventKind) -> None:
        """A failed call is charged nothing: its money goes now. An ended call's waits for its charge."""
        money = self._money.pop(call_id, None)
        if money is None:
            return
        if kind == EventKind.ENDED:
            if self.spool.synchronous:
                self.spool.flush()
            else:
                await self.spool.aflush()
            position = self.spool.position()
            if position is not None and not is_charged(self._charged, *position):
                self._unsettled[call_id] = position  # settle() lets it go once balances.json shows it charged
                return
        if self._sync is not None:
            self._sync.release_reservation(call_id)
        else:
            await cast(AsyncLiveCounters, self._async).release_reservation(call_id)

    # Renewals and Balance Disconnect.

    async def renew(self, now: float) -> int:
        """Reserve the next slice of the calls whose renewal is due; end those whose paid time ran out with
        nothing more reserved. The number of calls disconnected."""
        disconnects: list[Any] = []
        due = self._due
        while due and due[0][0] <= now:
            when, call_id = heapq.heappop(due)
            money = self._money.get(call_id)
            if money is None or money.due != when:
                continue  # ended, or rescheduled
            if money.last:
                money.due = None
                disconnects.append(self._disconnect(call_id, money, now))
                continue
            target = money.target + self.slice_seconds
            if money.max_duration is not None and target > money.max_duration:
                target = money.max_duration
            want = slice_cost(money.row, target, money.tax) - money.reserved
            funds = self.counters.balance(money.customer.id) + money.customer.debit_limit
            taken = (self._sync.reserve_call(call_id, money.customer.id, want, _ZERO, funds, money.expires_at)
                     if self._sync is not None else
                     await cast(AsyncLiveCounters, self._async).reserve_call(
                         call_id, money.customer.id, want, _ZERO, funds, money.expires_at)) or _ZERO
            money.reserved += taken
            money.target = target
            money.last = taken < want
            self._schedule(call_id, money)
        if disconnects:
            await asyncio.gather(*disconnects)
        return len(disconnects)

    async def _disconnect(self, call_id: str, money: _Money, now: float) -> None:
        """Spool the disconnect line (the call's release reason), then ask the edge to end the dialog."""
        self.disconnected += 1
        self.spool.append({"v": SPOOL_VERSION, "kind": EventKind.DISCONNECT.value, "call_id": call_id,
                           "node": self.node, "at": now, "reason": ReleaseReason.BALANCE_DISCONNECT.value})
        if self.spool.synchronous:
            self.spool.flush()
        else:
            await self.spool.aflush()
        if money.dialog is None:
            log.error("call %s: paid time over but the edge gave no dialog to end; its max duration ends it", call_id)
            return
        try:
            await self._end_dialog(*money.dialog)
        except Exception as error:
            log.error("call %s: dlg.end_dlg at %s failed (its max duration ends it): %s", call_id, self.edge_rpc_url,
                      error)

    async def _end_dialog(self, h_entry: int, h_id: int) -> None:
        """Kamailio's JSON-RPC dlg.end_dlg [h_entry, h_id]; raises unless it answers a result."""
        import aiohttp  # imported here: a redirect-only switch never opens a client

        if self._rpc is None:
            self._rpc = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=EDGE_RPC_TIMEOUT))
        body = {"jsonrpc": "2.0", "method": "dlg.end_dlg", "params": [h_entry, h_id], "id": 1}
        async with self._rpc.post(self.edge_rpc_url, json=body) as response:
            answer = await response.json(content_type=None)
        if not isinstance(answer, dict) or "result" not in answer:
            raise RuntimeError(f"answered {answer!r}")

    async def _foreign_event(self, call_id: str, kind: EventKind, data: Mapping[str, object],
                             counters: AsyncLiveCounters) -> bool:
        """An event of a call another process routed (shared counters): spooled without the egress order."""
        at = data.get("at")
        line: dict[str, object] = {"v": SPOOL_VERSION, "kind": str(kind), "call_id": call_id, "node": self.node,
                                   "at": at if isinstance(at, int | float) else self.clock()}
        uri = data.get("uri")
        gateway = uri_hostport(uri) if isinstance(uri, str) else None
        if kind != EventKind.ENDED:
            provider = data.get("provider")
            line["provider"] = provider if isinstance(provider, int) else None
        if kind == EventKind.ROUTED:
            line["gateway"], line["branch"] = gateway, None
        if await self._spool_event(line, kind, data):
            await counters.release(call_id)  # idempotent: a call without a hold or let go already is a no-op
            # Its reservation is in Redis by call id: let go now (failed) or once charged (ended), from here.
            if kind == EventKind.ENDED:
                await self.spool.aflush()
                position = self.spool.position()
                if position is not None:
                    self._unsettled[call_id] = position
                    return True
            await counters.release_reservation(call_id)
        return True

    async def _spool_event(self, line: dict[str, object], kind: EventKind, data: Mapping[str, object]) -> bool:
        """Add the kind's own fields to an event line and spool it; True when the event ends the call (ended, or
        a final failed), whose hold the caller lets go."""
        if kind == EventKind.EARLY:
            line["code"] = data.get("code")
        elif kind == EventKind.ANSWERED:
            dialog = data.get("dialog")
            line["dialog"] = dialog if isinstance(dialog, dict) else None
        elif kind == EventKind.FAILED:
            line["code"], line["reason"], line["final"] = data.get("code"), data.get("reason"), bool(
                data.get("final", False))
        elif kind == EventKind.ENDED:
            line["release_reason"], line["duration"] = data.get("release_reason"), data.get("duration")
        elif kind != EventKind.ROUTED:
            raise ValueError(f"{kind!r} is not a dialog event")
        self.spool.append(line)
        if kind == EventKind.ANSWERED:
            # Durable before the edge hears back: a kill -9 from here on loses nothing answered.
            if self.spool.synchronous:
                self.spool.flush()
            else:
                await self.spool.aflush()
            return False
        return kind == EventKind.ENDED or (kind == EventKind.FAILED and bool(line["final"]))

    @staticmethod
    def _provider_of(live: _Live, uri: object) -> tuple[int | None, int | None, str | None]:
        """(provider id, its position in the egress order, "host:port") of a branch's R-URI."""
        if not isinstance(uri, str):
            return None, None, None
        gateway = uri_hostport(uri)
        if gateway is None:
            return None, None, None
        for branch, item in enumerate(live.egress):
            for candidate in item.gateways:
                if hostport(candidate).lower() == gateway:
                    return item.provider.id, branch, gateway
        return None, None, gateway

    # Expiry.

    def expire(self, now: float) -> int:
        """Let go of the channels held past their expiry, with an `expired` line each; the count (this pass).

        With Redis counters the shared holds (this node's and any other's, a restarted one's included) are
        expired by a background task, whose lines follow at the next flush."""
        count = 0
        if self._sync is not None:
            for call_id in self._sync.expire_reservations(now):
                self._money.pop(call_id, None)
                self._unsettled.pop(call_id, None)
            for call_id in self._sync.expire(now):
                self._forget(call_id, stale=True)
                self._expired_line(call_id, now)
                count += 1
        elif self.expiring is None or self.expiring.done():
            self.expiring = asyncio.get_running_loop().create_task(self._expire_remote(now))
        remembered = self._live
        for call_id in self._wheel.due(now, lambda call_id: live.expires_at if (
                live := remembered.get(call_id)) else None):
            live = self._forget(call_id)
            if live is None:
                continue  # on the wheel twice
            if live.held and self._async is not None:
                continue  # its hold expires in Redis, whose expiry writes the line
            if live.held and not cast(LiveCounters, self._sync).release(call_id):
                continue  # let go by the counters' expiry above, its line written
            self._expired_line(call_id, now)
            count += 1
        return count

    async def _expire_remote(self, now: float) -> None:
        try:
            for call_id in await cast(AsyncLiveCounters, self._async).expire_reservations(now):
                self._money.pop(call_id, None)
                self._unsettled.pop(call_id, None)
            expired = await cast(AsyncLiveCounters, self._async).expire(now)
        except Exception as error:
            log.error("expiring the held channels in Redis failed: %s", error)
            return
        for call_id in expired:
            self._forget(call_id, stale=True)
            self._expired_line(call_id, now)

    def _forget(self, call_id: str, *, stale: bool = False) -> _Live | None:
        """Drop a remembered call; `stale`: before its expiry, so its wheel entry goes stale."""
        live = self._live.pop(call_id, None)
        if live is not None:
            self._answered.pop(call_id, None)
            if stale and self._wheel.forget(len(self._live)):
                self._wheel.rebuild((known, call.expires_at) for known, call in self._live.items())
        return live

    def _expired_line(self, call_id: str, now: float) -> None:
        at = str(round(now * 1000))  # as the attempt line's: text, not json.dumps, since every held call ends here
        self.spool.append_line(f'{{"v":{SPOOL_VERSION},"kind":"expired","call_id":{_quote(call_id)},'
                               f'"node":{self._node_json},"at":{at[:-3]}.{at[-3:]}}}\n')

    # Introspection and shutdown.

    def live(self) -> list[dict[str, object]]:
        """The calls this process remembers (holding channels or expecting events), oldest first."""
        return [{"call_id": call_id, "customer": live.customer, "route": live.route,
                 "providers": [item.provider.id for item in live.egress], "transport": live.transport,
                 "started": live.at, "answered": self._answered.get(call_id), "expires_at": live.expires_at,
                 "held": live.held}
                for call_id, live in self._live.items()]

    def flush(self) -> None:
        self.spool.flush()

    async def close(self) -> None:
        """Write what is pending and let go of the connections (the server calls it on the way out)."""
        if self._rpc is not None:
            await self._rpc.close()
        if self.expiring is not None and not self.expiring.done():
            await asyncio.gather(self.expiring, return_exceptions=True)
        await self.spool.aflush()
        closing = getattr(self.spool, "aclose", None)
        if closing is not None:
            await closing()
        else:
            self.spool.close()
        closing = getattr(self.counters, "aclose", None)
        if closing is not None:
            await closing()


def build_engine(*, routing_file: Path, counters_url: str | None, node: str, var_dir: Path | str, secret: bytes,
                 realm: str = "trunkline", clock: Callable[[], float] = time, slice_seconds: int = DEFAULT_SLICE,
                 lead: int = DEFAULT_LEAD, edge_rpc_url: str = DEFAULT_EDGE_RPC_URL) -> Engine:
    """The engine `trunkline switch` runs: in-process counters and a file spool under var_dir/spool, or, with
    COUNTERS_URL, Redis for both. Call load() on it next."""
    nonces = Nonces(secret)
    counters: LiveCounters | AsyncLiveCounters
    spool: Spool
    if counters_url:
        from trunkline.switch.counters import RedisCounters
        from trunkline.switch.spool import RedisSpool

        counters, spool = RedisCounters(counters_url), RedisSpool(counters_url)
    else:
        counters, spool = MemoryCounters(clock), FileSpool(Path(var_dir) / SPOOL_DIR, node)
    return Engine(routing_file=routing_file, counters=counters, spool=spool, node=node, nonces=nonces, realm=realm,
                  clock=clock, slice_seconds=slice_seconds, lead=lead, edge_rpc_url=edge_rpc_url)

