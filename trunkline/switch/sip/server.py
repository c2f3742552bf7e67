"""SIP over UDP and TCP for `trunkline switch`: a redirect server in front of the engine.

An INVITE gets `100 Trying`, then the engine's decision as one final answer: `302 Moved Temporarily` with a
Contact per gateway (redirect.build_redirect), the reject code and reason phrase, or `407` with a digest
challenge (when the decision asks for credentials, or the Proxy-Authorization's nonce is stale or not ours).
Server transactions (transactions.py) make a retransmitted request get the same answer again without a second
decision, retransmit the final over UDP until the ACK, and absorb the ACK.

Other requests:
- OPTIONS: 200 with Allow and Accept (also with Max-Forwards 0: RFC 3261 §16.3 lets the element that gets an
  OPTIONS with Max-Forwards 0 answer it itself).
- CANCEL: 200 when it matches an INVITE transaction (its final is sent or, when the decision is still pending,
  the INVITE then gets 487 Request Terminated instead and a routed decision's channel is released); 481
  Call/Transaction Does Not Exist otherwise.
- A request inside a dialog (a To tag: BYE, re-INVITE, INFO, UPDATE, ...): 481, as RFC 3261 §12.2.2 says for a
  dialog the UAS does not know; a redirect server never makes one.
- Any other method outside a dialog (REGISTER, SUBSCRIBE, MESSAGE, ...): 405 Method Not Allowed with Allow.
- An INVITE with Max-Forwards 0: 483 Too Many Hops.
- A malformed or oversized request: 400 with the parser's reason when enough of Via/From/To/Call-ID/CSeq can be
  read to address an answer, else dropped. Responses are ignored (this server sends no requests). Nothing a peer
  sends stops the server: every datagram and TCP frame is handled inside its own try, failures are counted.

Answers go to the packet's source address and port (RFC 3581: `received`/`rport` added to the top Via); over TCP
on the connection the request came on.

The hot path: the engine's route() coroutine is driven with `.send(None)` when the counters live in the process
(it then never suspends: no Task, no scheduling); with Redis counters each INVITE gets a Task (Redis calls need
one for their timeouts). The spool is flushed once per loop iteration (one call_soon per batch of datagrams).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
from collections.abc import Coroutine, Hashable
from typing import Any

from trunkline.contracts.calls import EventKind
from trunkline.switch.engine import Engine
from trunkline.switch.sip.message import (
    MAX_MESSAGE,
    Request,
    SipParseError,
    build_response,
    frame_length,
    is_response,
    parse_digest,
    parse_request,
)
from trunkline.switch.sip.redirect import build_redirect
from trunkline.switch.sip.transactions import (
    PROCEEDING,
    TICK,
    DatagramTransport,
    Owners,
    ServerTransaction,
    StreamTransport,
    Transactions,
)
from trunkline.switch.types import Call, Decision

log = logging.getLogger("trunkline.switch.sip")

ALLOW = "Allow: INVITE, ACK, CANCEL, OPTIONS"
ACCEPT = "Accept: application/sdp"
TCP_IDLE = 120.0  # seconds a TCP connection may stay silent before it is closed
TCP_WRITE_LIMIT = 2**20  # answers waiting to be sent on one connection; beyond, the connection is closed
MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 branches start with it; others are RFC 2543 clients
# The first Via's RFC 3261 branch (Via headers come before the others in practice; a miss falls back to parsing).
_ACK_BRANCH = re.compile(rb"\n(?:via|v)[ \t]*:[^\n]*?;[ \t]*branch=(z9hG4bK[^;,\s]*)", re.IGNORECASE)
_CRLF2 = b"\r\n\r\n"


class SipServer:
    """The SIP side of one switch process: the transaction table, the UDP endpoint and the TCP listener."""

    def __init__(self, engine: Engine, loop: asyncio.AbstractEventLoop, *, eager: bool = True,
                 owners: Owners | None = None, slot: int = 0, inbox: socket.socket | None = None,
                 outboxes: tuple[socket.socket, ...] = ()) -> None:
        self.engine = engine
        self.loop = loop
        # Several processes on one UDP socket: the shared table of who owns each INVITE transaction, this
        # process's number in it, where other processes hand it the ACKs and retransmissions of its
        # transactions, and where it hands theirs (server.py makes them before forking).
        self.owners = owners
        self.slot = slot
        self.inbox = inbox
        self.outboxes = outboxes
        self.forwarded = 0  # datagrams handed to the process owning their transaction
        self.eager = eager  # route() never suspends (in-process counters): drive it without a Task
        self.now = loop.time()
        self.transactions = Transactions(self.now, owners, slot)
        self.streams: set[SipStream] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.handled = 0  # requests that started a transaction
        self.invites = 0
        self.errors = 0  # malformed requests and handler failures
        self._tag_prefix = f"{os.getpid():x}."
        self._tags = 0
        self._flush_pending = False
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self._next_sweep = self.now + 1.0

    # --- life cycle ----------------------------------------------------------------------------------------

    async def start(self, udp: socket.socket, tcp: socket.socket) -> None:
        self._udp, _ = await self.loop.create_datagram_endpoint(lambda: SipDatagrams(self), sock=udp)
        self._tcp = await self.loop.create_server(lambda: SipStream(self), sock=tcp)
        self._ticker = self.loop.call_later(TICK, self._tick)
        if self.inbox is not None:
            self.loop.add_reader(self.inbox.fileno(), self._inbox_ready)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self.inbox is not None:
            self.loop.remove_reader(self.inbox.fileno())
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for stream in list(self.streams):
            stream.close()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=2.0)
        self.engine.flush()

    def stats_line(self) -> str:
        table = self.transactions
        return (f"trunkline switch[{os.getpid()}]: handled {self.handled} requests ({self.invites} INVITE), "
                f"{self.errors} malformed or failed, {table.retransmitted} finals retransmitted, {table.timeouts} "
                f"without ACK, {len(table)} transactions, {self.forwarded} handed to their owner, "
                f"{len(self.streams)} TCP connections")

    def _tick(self) -> None:
        # The one periodic callback: transaction timers, TCP idle sweep.
        now = self.now = self.loop.time()
        self._ticker = self.loop.call_later(TICK, self._tick)
        try:
            self.transactions.tick(now)
            if now >= self._next_sweep:
                self._next_sweep = now + 1.0
                for stream in [stream for stream in self.streams if now - stream.last > TCP_IDLE]:
                    stream.close()
        except Exception:
            log.exception("SIP timers failed")

    def _flush(self) -> None:
        self._flush_pending = False
        try:
            self.engine.flush()
        except Exception:
            log.exception("spool flush failed")

    def _tag(self) -> str:
        self._tags += 1
        return f"{self._tag_prefix}{self._tags:x}"

    # --- requests ------------------------------------------------------------------------------------------

    def receive(self, data: bytes, transport: DatagramTransport | StreamTransport, addr: tuple[str, int] | None,
                source: tuple[str, int], kind: str, forwarded: bool = False) -> None:
        """One datagram or TCP frame from `source`; `addr` is where UDP answers go (None: on the stream);
        `forwarded`: another process handed it over as this one's (never handed on again)."""
        try:
            self._receive(data, transport, addr, source, kind, forwarded)
        except Exception:  # one bad request must never stop the server
            self.errors += 1
            log.exception("SIP request from %s:%s failed", source[0], source[1])

    def _receive(self, data: bytes, transport: DatagramTransport | StreamTransport, addr: tuple[str, int] | None,
                 source: tuple[str, int], kind: str, forwarded: bool) -> None:
        if data[:4] == b"ACK ":
            # Half the datagrams of a call are ACKs, and an ACK needs only its branch to find its transaction (here
            # or in the process that owns it): a search instead of a full parse. An ACK without an RFC 3261 branch
            # is parsed; one for no transaction known is dropped (an ACK is never answered).
            found = _ACK_BRANCH.search(data, 0, 4096)
            if found is not None:
                acked = (found[1].decode("latin-1"), "INVITE", source)
                transaction = self.transactions.get(acked)
                if transaction is not None:
                    self.transactions.ack(transaction, self.now)
                elif self.owners is not None and addr is not None and not forwarded:
                    owner = self.owners.owner(hash(acked))
                    if owner is not None and owner != self.slot:
                        self._forward(owner, data, source)
                return
        try:
            request = parse_request(data)
        except SipParseError as error:
            if not is_response(data):
                self.errors += 1
                answer = bad_request(data, error.status, error.reason, source[0], source[1])
                if answer is not None:
                    _send(transport, addr, answer)
            return
        method = request.method
        branch = request.branch
        if branch.startswith(MAGIC_COOKIE):
            key: Hashable = (branch, "INVITE" if method == "ACK" else method, source)
        else:  # RFC 2543: the transaction is the request's identity (§17.2.3's fallback)
            key = (request.vias[0], request.call_id, request.cseq, request.from_tag,
                   "INVITE" if method == "ACK" else method, source)
        transactions = self.transactions
        transaction = transactions.get(key)
        claimed = 0
        owners = self.owners
        if owners is not None and addr is not None and transaction is None and not forwarded and (
                method == "INVITE" or method == "ACK" or method == "CANCEL"):
            owned = hash(key if method != "CANCEL" else _as_invite(key))
            owner = owners.claim(owned, self.slot) if method == "INVITE" else owners.owner(owned)
            if owner is not None and owner != self.slot:
                self._forward(owner, data, source)  # its transaction lives in another process
                return
            if method == "INVITE":
                claimed = owned
        if method == "ACK":
            if transaction is not None:
                transactions.ack(transaction, self.now)
            return  # an ACK with no transaction (for a 2xx: never sent here) is dropped
        if transaction is not None:
            transactions.retransmission(transaction)
            return
        self.handled += 1
        transaction = transactions.begin(key, method == "INVITE", transport, addr, self.now)
        transaction.owned = claimed
        via = _via_fix(request, source)
        if method == "INVITE":
            self.invites += 1
            if request.to_tag is not None:
                self._final(transaction, request, 481, "Call/Transaction Does Not Exist", via)
            else:
                self._invite(request, transaction, source, kind, via)
        elif method == "OPTIONS":
            self._final(transaction, request, 200, "OK", via, (ALLOW, ACCEPT))
        elif method == "CANCEL":
            self._cancel(request, transaction, key, via)
        elif request.to_tag is not None:
            self._final(transaction, request, 481, "Call/Transaction Does Not Exist", via)
        else:
            self._final(transaction, request, 405, "Method Not Allowed", via, (ALLOW,))

    def _final(self, transaction: ServerTransaction, request: Request, code: int, reason: str,
               via: tuple[str | None, int | None], headers: tuple[str, ...] = ()) -> None:
        if not transaction.tag:
            transaction.tag = self._tag()
        self.transactions.final(transaction, build_response(
            request, code, reason, to_tag=transaction.tag, headers=headers, received=via[0], rport=via[1]), self.now)

    def _cancel(self, request: Request, transaction: ServerTransaction, key: Hashable,
                via: tuple[str | None, int | None]) -> None:
        invite = self.transactions.get(_as_invite(key))
        if invite is None or not invite.invite:
            self._final(transaction, request, 481, "Call/Transaction Does Not Exist", via)
            return
        if not invite.tag:
            invite.tag = self._tag()
        transaction.tag = invite.tag  # RFC 3261 §9.2: the same To tag as the INVITE's answer
        if invite.state == PROCEEDING:
            invite.cancelled = True  # the pending decision's answer becomes 487
        self._final(transaction, request, 200, "OK", via)

    def _invite(self, request: Request, transaction: ServerTransaction, source: tuple[str, int], kind: str,
                via: tuple[str | None, int | None]) -> None:
        received, rport = via
        self.transactions.provisional(transaction, build_response(
            request, 100, "Trying", to_tag="", received=received, rport=rport))
        if request.max_forwards == 0:
            self._final(transaction, request, 483, "Too Many Hops", via)
            return
        source_ip, source_port = source[0], source[1]
        authorization = request.authorization
        if authorization is not None:
            credentials = parse_digest(authorization, "INVITE")
            if credentials is None:
                self._challenge(transaction, request, via, stale=False)
                return
            verdict = self.engine.nonces.check(credentials.digest.nonce, self.engine.clock())
            if verdict != "ok":
                self._challenge(transaction, request, via, stale=verdict == "stale")
                return
            call = Call(source_ip, request.user, request.from_user, source_port, credentials.username,
                        credentials.digest, request.pai_user)
        else:
            call = Call(source_ip, request.user, request.from_user, source_port,
                        self._challengeable(request, source_ip), None, request.pai_user)
        coroutine = self.engine.route(call, call_id=request.call_id, transport=kind)
        if not self.eager:
            self._spawn(self._decide(coroutine, request, transaction, via))
            return
        try:
            waiting = coroutine.send(None)
        except StopIteration as done:
            self._answer(request, transaction, done.value, via)
            return
        except Exception:
            self._failed(request, transaction, via)
            return
        # The engine suspended after all (a slow spool, a reload): finish under a Task.
        self._spawn(self._decide(_resume(coroutine, waiting), request, transaction, via))

    def _challengeable(self, request: Request, source_ip: str) -> str:
        """The SIP user to challenge for an INVITE without credentials: its From user, when that names a SIP user
        and the source address is not an IP-auth entry's (those calls are identified by address); else ""."""
        index = self.engine.fast.index
        user = request.from_user
        if not user or user not in index.users or source_ip in self.engine.fast.exact or index.ips.lookup(source_ip):
            return ""
        return user

    async def _decide(self, coroutine: Coroutine[Any, Any, Decision], request: Request,
                      transaction: ServerTransaction, via: tuple[str | None, int | None]) -> None:
        try:
            decision = await coroutine
        except Exception:
            log.exception("route() failed for Call-ID %s", request.call_id)
            self._failed(request, transaction, via)
            return
        self._answer(request, transaction, decision, via)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _answer(self, request: Request, transaction: ServerTransaction, decision: Decision,
                via: tuple[str | None, int | None]) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush)
        if transaction.cancelled:
            self._final(transaction, request, 487, "Request Terminated", via)
            if decision.accepted:  # the channel the decision took goes back at once
                self._spawn(self._release(request.call_id))
            return
        if decision.code == 407:
            self._challenge(transaction, request, via, stale=False)
            return
        if transaction.state != PROCEEDING:
            return
        if not decision.accepted:
            self._final(transaction, request, decision.code, decision.reason, via)
            return
        transaction.tag = self._tag()
        self.transactions.final(transaction, build_redirect(
            request, decision, transaction.tag, received=via[0], rport=via[1]), self.now)

    def _challenge(self, transaction: ServerTransaction, request: Request, via: tuple[str | None, int | None], *,
                   stale: bool) -> None:
        engine = self.engine
        header = engine.nonces.challenge_header(engine.realm, engine.clock(), stale=stale)
        self._final(transaction, request, 407, "Proxy Authentication Required", via,
                    (f"Proxy-Authenticate: {header}",))

    def _failed(self, request: Request, transaction: ServerTransaction, via: tuple[str | None, int | None]) -> None:
        self.errors += 1
        log.exception("route() failed for Call-ID %s", request.call_id)
        self._final(transaction, request, 500, "Server Internal Error", via)

    def _forward(self, owner: int, data: bytes, source: tuple[str, int]) -> None:
        self.forwarded += 1
        try:
            self.outboxes[owner].send(f"{source[0]} {source[1]}\n".encode() + data)
        except OSError:  # its inbox is full or gone (the process is being replaced): a lost datagram, as on UDP
            pass

    def _inbox_ready(self) -> None:
        inbox = self.inbox
        assert inbox is not None and self._udp is not None
        for _ in range(64):  # a batch, then back to the loop
            try:
                message = inbox.recv(MAX_MESSAGE + 128)
            except (BlockingIOError, InterruptedError):
                return
            head, _, data = message.partition(b"\n")
            host, _, port = head.decode().partition(" ")
            addr = (host, int(port))
            self.receive(data, self._udp, addr, addr, "udp", forwarded=True)

    async def _release(self, call_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.engine.event(call_id, EventKind.FAILED, {
                "provider": None, "code": 487, "reason": "Request Terminated", "final": True})


async def _resume(coroutine: Coroutine[Any, Any, Decision], waiting: object) -> Decision:
    """Go on driving a coroutine that suspended under `.send(None)`: wait for what it yielded, resume it, repeat.

    (A started coroutine cannot be awaited again, so it is stepped here as a Task would.)"""
    while True:
        if waiting is None:
            await asyncio.sleep(0)  # a bare yield: give the loop one turn
        else:
            future: asyncio.Future[Any] = waiting  # type: ignore[assignment]
            future._asyncio_future_blocking = False
            with contextlib.suppress(Exception):  # its outcome reaches the coroutine when resumed
                await future
        try:
            waiting = coroutine.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _as_invite(key: Hashable) -> Hashable:
    """The key of the INVITE transaction a CANCEL with `key` cancels (same branch or identity, method INVITE)."""
    assert isinstance(key, tuple)
    return (*key[:-2], "INVITE", key[-1])


def _via_fix(request: Request, source: tuple[str, int]) -> tuple[str | None, int | None]:
    """(received, rport) for the top Via of every answer: RFC 3581 when the request asked for rport, else RFC 3261
    §18.2.1's received when the sent-by host is not the packet's source address."""
    if request.rport:
        return source[0], source[1]
    sent_by = request.vias[0].partition(" ")[2].partition(";")[0].strip()
    host = sent_by[1:sent_by.find("]")] if sent_by[:1] == "[" else sent_by.partition(":")[0]
    return (None if host == source[0] else source[0]), None


def _send(transport: DatagramTransport | StreamTransport, addr: tuple[str, int] | None, data: bytes) -> None:
    if transport.is_closing():
        return
    if addr is None:
        transport.write(data)  # type: ignore[union-attr]
    else:
        transport.sendto(data, addr)  # type: ignore[union-attr]


# --- a 400 for what the parser refused ----------------------------------------------------------------------

_WANTED = {"via": "Via", "v": "Via", "from": "From", "f": "From", "to": "To", "t": "To", "call-id": "Call-ID",
           "i": "Call-ID", "cseq": "CSeq"}
_CONTROLS = dict.fromkeys([*range(32), 127])


def bad_request(data: bytes, status: int, reason: str, source_ip: str, source_port: int) -> bytes | None:
    """A `status reason` answer to a request the parser refused, addressed from whatever of its Via, From, To,
    Call-ID and CSeq can be read; None (drop it) when one of them is missing or the start line is no request."""
    head = data[:MAX_MESSAGE].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.replace("\r\n", "\n").split("\n")
    start = lines[0].split(" ")
    if len(start) != 3 or not start[2].startswith("SIP/2.0") or not start[0].isalpha() or start[0] == "ACK":
        return None  # no request line to answer, or an ACK (never answered, RFC 3261 §17.2.1)
    found: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        canonical = _WANTED.get(name.strip().lower()) if sep else None
        if canonical is not None:
            value = value.strip().translate(_CONTROLS)
            if value:
                found.setdefault(canonical, []).append(value)
    if any(name not in found for name in ("Via", "From", "To", "Call-ID", "CSeq")) or \
            not found["Via"][0].upper().startswith("SIP/2.0/"):
        return None
    to = found["To"][0]
    if ";tag=" not in to.lower():
        to += ";tag=bad"
    vias = found["Via"]
    vias[0] = f"{vias[0]};received={source_ip};rport={source_port}" if "rport" in vias[0].lower() else vias[0]
    text = "".join([
        f"SIP/2.0 {status} {reason.translate(_CONTROLS)}\r\n", *(f"Via: {via}\r\n" for via in vias),
        f"From: {found['From'][0]}\r\nTo: {to}\r\nCall-ID: {found['Call-ID'][0]}\r\nCSeq: {found['CSeq'][0]}\r\n",
        "Server: Trunkline\r\nContent-Length: 0\r\n\r\n"])
    return text.encode("latin-1", "replace")


# --- transports -----------------------------------------------------------------------------------------------


class SipDatagrams(asyncio.DatagramProtocol):
    __slots__ = ("server", "transport")

    def __init__(self, server: SipServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.receive(data, self.transport, addr, addr, "udp")  # type: ignore[arg-type]

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for an answer sent earlier (the peer went away): nothing to do


class SipStream(asyncio.Protocol):
    """One TCP connection: frames cut by Content-Length, answers on the same connection, no retransmissions.

    The buffer never holds more than one message's limit (frame_length refuses a longer one, and the connection
    is closed after its 400: a stream cannot be resynchronised); answers the peer does not read are held up to
    TCP_WRITE_LIMIT, then the connection is closed; one silent for TCP_IDLE is closed."""

    def __init__(self, server: SipServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.last = server.now

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1]) if peer else ("", 0)
        self.server.streams.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.streams.discard(self)
        self.transport = None

    def close(self) -> None:
        transport = self.transport
        if transport is not None:
            # Answers still waiting for a peer that reads nothing would hold close() open: dropped then.
            if transport.get_write_buffer_size():
                transport.abort()
            else:
                transport.close()

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None:
            return
        server = self.server
        self.last = server.now
        buffer = self.buffer
        buffer += data
        while buffer:
            if buffer[:2] == b"\r\n":  # RFC 5626 §3.5.1 keep-alive: a double CRLF ping gets a CRLF pong
                if len(buffer) < 4 and _CRLF2.startswith(bytes(buffer)):
                    return
                if buffer[:4] == _CRLF2:
                    del buffer[:4]
                    transport.write(b"\r\n")
                else:
                    del buffer[:2]
                continue
            try:
                length = frame_length(buffer)
            except SipParseError as error:
                server.errors += 1
                answer = bad_request(bytes(buffer), error.status, error.reason, *self.peer)
                if answer is not None:
                    transport.write(answer)
                buffer.clear()
                transport.close()
                return
            if length is None:
                return
            frame = bytes(buffer[:length])
            del buffer[:length]
            server.receive(frame, transport, None, self.peer, "tcp")
            if transport.get_write_buffer_size() > TCP_WRITE_LIMIT:
                transport.abort()  # a peer that sends and never reads (close() would wait to send it all first)
                return
