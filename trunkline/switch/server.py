"""`trunkline switch`: the process model. The parent binds, forks, supervises; each child runs one uvloop loop.

The parent binds the SIP UDP socket, the SIP TCP listening socket and the HTTP listening socket once, then forks
`--processes` children that all serve the SAME sockets. A datagram socket shared across a fork hands each datagram
to whichever process reads first, so traffic from ONE busy peer (one SBC, one SIPp) spreads over every process;
SO_REUSEPORT with one socket per process would hash that peer to a single process. The listening sockets are
shared the same way (the kernel wakes one accepting process per connection).

Each child loads the routing file into its own engine, serves SIP (trunkline.switch.sip.server) and HTTP
(trunkline.switch.http.app, aiohttp over the shared socket) in one event loop, reloads the routing file when it
changes and lets held channels expire, once a second each. The parent restarts a child that dies, forwards
SIGTERM/SIGINT (stop) and SIGUSR1 (each child prints a stats line to stderr), and exits once its children have.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from types import FrameType

from trunkline.switch.config import SwitchConfig
from trunkline.switch.engine import Engine, build_engine
from trunkline.switch.sip.transactions import Owners

log = logging.getLogger("trunkline.switch")

READY_TIMEOUT = 600.0  # seconds a child may take to load a large routing file before the parent gives up
STOP_GRACE = 10.0  # seconds children get to finish after SIGTERM before SIGKILL
RESTART_DELAY = 1.0  # a child dying at start must not make the parent spin
UDP_BUFFER = 8 * 2**20  # receive buffer: absorbs bursts while a process reloads its index
_PR_SET_PDEATHSIG = 1  # prctl(2)
INBOX_BUFFER = 2**20  # datagrams handed between processes (ACKs, retransmissions): small, a burst's worth


@dataclass(frozen=True, slots=True)
class Sockets:
    udp: socket.socket
    tcp: socket.socket
    http: socket.socket
    # With several processes: the table of which process owns each UDP INVITE transaction, and per process an
    # inbox (a datagram socket pair: it reads [0], the others write [1]) for the ACKs and retransmissions of its
    # transactions that another process read off the shared UDP socket.
    owners: Owners | None = None
    inboxes: tuple[tuple[socket.socket, socket.socket], ...] = ()

    def close(self) -> None:
        for sock in (self.udp, self.tcp, self.http, *(end for pair in self.inboxes for end in pair)):
            sock.close()


def bind(config: SwitchConfig) -> Sockets:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    udp = socket.socket(family, socket.SOCK_DGRAM)
    tcp = socket.socket(family, socket.SOCK_STREAM)
    http = socket.socket(family, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(OSError):  # capped by net.core.rmem_max; a smaller buffer still works
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER)
        udp.bind((config.host, config.sip_port))
        sip_port = udp.getsockname()[1]  # --sip-port 0: TCP takes the port UDP was given
        for stream, port in ((tcp, sip_port), (http, config.http_port)):
            stream.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            stream.bind((config.host, port))
            stream.listen(1024)
        for sock in (udp, tcp, http):
            sock.setblocking(False)
    except BaseException:
        for sock in (udp, tcp, http):
            sock.close()
        raise
    if config.processes == 1:
        return Sockets(udp, tcp, http)
    inboxes = tuple(socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(config.processes))
    for pair in inboxes:
        for end in pair:
            end.setblocking(False)
            with contextlib.suppress(OSError):
                end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF if end is pair[0] else socket.SO_SNDBUF,
                               INBOX_BUFFER)
    return Sockets(udp, tcp, http, Owners(), inboxes)


def serve(config: SwitchConfig) -> int:
    """Run the switch until SIGTERM/SIGINT; the exit status of `trunkline switch`."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="trunkline switch: %(message)s")
    # Checked here, before forking, for one clear message; the children load it (the parent holds no index).
    if not config.routing_file.is_file():
        sys.stderr.write(f"trunkline switch: no routing file at {config.routing_file}; publish one with "
                         f"`trunkline publish_snapshot` or name it with --routing-file\n")
        return 2
    try:
        sockets = bind(config)
    except OSError as error:
        sys.stderr.write(f"trunkline switch: cannot listen on {config.host} (SIP {config.sip_port}, HTTP "
                         f"{config.http_port}): {error.strerror or error}\n")
        return 2
    return Supervisor(config, sockets).run()


class Supervisor:
    def __init__(self, config: SwitchConfig, sockets: Sockets) -> None:
        self.config = config
        self.sockets = sockets
        self.revision = ""  # the routing revision the first child to start reports
        # Nonces must verify in whichever process the authenticated INVITE lands: one secret, made before forking.
        self.secret = os.urandom(32)
        self.pid = os.getpid()
        self.children: dict[int, int] = {}  # pid -> slot
        self.stopping = False
        self.ready_read, self.ready_write = os.pipe()

    def run(self) -> int:
        previous = {number: signal.signal(number, self._on_signal)
                    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
        try:
            for slot in range(self.config.processes):
                self._fork(slot)
            status = self._await_ready()
            if status:
                self._stop_children()
                return status
            udp_host, sip_port = self.sockets.udp.getsockname()[:2]
            http_port = self.sockets.http.getsockname()[1]
            count = self.config.processes
            sys.stdout.write(f"trunkline switch: SIP udp+tcp {udp_host}:{sip_port}, HTTP {udp_host}:{http_port}, "
                             f"{count} process{'es' if count > 1 else ''}, routing revision {self.revision}\n")
            sys.stdout.flush()
            return self._supervise()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            self.sockets.close()
            os.close(self.ready_read)
            os.close(self.ready_write)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        if number == signal.SIGUSR1:
            self._signal_children(signal.SIGUSR1)
            return
        self.stopping = True
        self._signal_children(signal.SIGTERM)

    def _signal_children(self, number: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    def _fork(self, slot: int) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = slot
            return
        status = 1
        try:
            for number in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
                signal.signal(number, signal.SIG_DFL)
            _stop_with_parent(self.pid)
            os.close(self.ready_read)
            status = run_child(self.config, self.sockets, slot, self.secret, self.ready_write)
        except BaseException:  # a child must never return into the parent's code
            log.exception("process %d failed", os.getpid())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)

    def _await_ready(self) -> int:
        """0 once every child serves (each writes its routing revision and a newline to the pipe); else the exit
        status of a child that failed to start."""
        ready = 0
        received = b""
        deadline = time.monotonic() + READY_TIMEOUT
        while ready < self.config.processes:
            if self.stopping:
                return 1
            waiting = deadline - time.monotonic()
            if waiting <= 0:
                sys.stderr.write("trunkline switch: the processes did not start in time\n")
                return 1
            readable, _, _ = select.select([self.ready_read], [], [], min(waiting, 0.2))
            if readable:
                received += os.read(self.ready_read, 4096)
                lines = received.split(b"\n")
                ready = len(lines) - 1
                self.revision = self.revision or lines[0].decode()
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid:
                self.children.pop(pid, None)
                return os.waitstatus_to_exitcode(status) or 1
        return 0

    def _supervise(self) -> int:
        restarts: dict[int, float] = {}
        while self.children:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            slot = self.children.pop(pid, None)
            if slot is None or self.stopping:
                continue
            log.warning("process %d exited (%s); starting another", pid,
                        _describe(os.waitstatus_to_exitcode(status)))
            wait = restarts.get(slot, 0.0) + RESTART_DELAY - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if self.stopping:
                continue
            restarts[slot] = time.monotonic()
            self._fork(slot)
        return 0

    def _stop_children(self) -> None:
        self._signal_children(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while self.children and time.monotonic() < deadline:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid:
                self.children.pop(pid, None)
            else:
                time.sleep(0.05)
        self._signal_children(signal.SIGKILL)
        for pid in list(self.children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.children.clear()


def _stop_with_parent(parent: int) -> None:
    """Linux: SIGTERM this child when the parent dies (a kill -9 of the parent must not leave orphans serving)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _describe(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"status {code}"


# --- one child -----------------------------------------------------------------------------------------------


def run_child(config: SwitchConfig, sockets: Sockets, slot: int, secret: bytes, ready_fd: int) -> int:
    import uvloop  # imported here: the parent never runs a loop

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format=f"trunkline switch[{os.getpid()}]: %(levelname)s %(message)s")
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve_child(config, sockets, slot, secret, ready_fd))
    finally:
        loop.close()


async def _serve_child(config: SwitchConfig, sockets: Sockets, slot: int, secret: bytes, ready_fd: int) -> int:
    from aiohttp import web

    from trunkline.switch.http.app import make_app
    from trunkline.switch.sip.server import SipServer

    loop = asyncio.get_running_loop()
    engine = build_engine(routing_file=config.routing_file, counters_url=config.counters_url, node=config.node,
                          var_dir=config.var_dir, secret=secret, slice_seconds=config.slice_seconds,
                          lead=config.lead, edge_rpc_url=config.edge_rpc_url)
    try:
        engine.load()
    except FileNotFoundError:
        sys.stderr.write(f"trunkline switch: no routing file at {config.routing_file}; publish one with "
                         f"`trunkline publish_snapshot` or name it with --routing-file\n")
        return 2
    except Exception as error:  # unreadable, not a snapshot, or an index that cannot be built from it
        sys.stderr.write(f"trunkline switch: cannot read the routing file {config.routing_file}: {error}\n")
        return 2
    # The index is a million long-lived objects: frozen out of the collector's reach, or every full collection
    # walks it (pauses of most of a second under load). Frozen objects are still freed by their reference counts,
    # which is how an index swapped out by a reload goes (_housekeeping freezes the new one).
    gc.collect()
    gc.freeze()
    # Every call leaves a transaction alive for seconds (timers I/H): with the default thresholds the oldest
    # generation, walking tens of thousands of them, is collected often. Rarer collections: SipServer INVITE+ACK
    # 212 -> 183 us/call once 15,000 transactions are live (bench data, micro).
    gc.set_threshold(20_000, 20, 100)
    stopped = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    # In-process counters: route() never suspends, so the SIP server drives it without a Task per INVITE.
    sip = SipServer(engine, loop, eager=config.counters_url is None, owners=sockets.owners, slot=slot,
                    inbox=sockets.inboxes[slot][0] if sockets.inboxes else None,
                    outboxes=tuple(pair[1] for pair in sockets.inboxes))
    await sip.start(sockets.udp, sockets.tcp)
    runner = web.AppRunner(make_app(engine), handle_signals=False, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sockets.http).start()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop)
    loop.add_signal_handler(signal.SIGUSR1, lambda: sys.stderr.write(sip.stats_line() + "\n"))
    housekeeping = loop.create_task(_housekeeping(engine))
    renewing = loop.create_task(_reservations(engine))
    os.write(ready_fd, f"{engine.fast.index.snapshot.revision}\n".encode())
    try:
        await stopped
    finally:
        housekeeping.cancel()
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await housekeeping
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        await sip.stop()
        await runner.cleanup()
        engine.flush()
        await engine.close()
    return 0


async def _reservations(engine: Engine) -> None:
    """Four times a second: the next slices of live calls are reserved, calls whose paid time ran out are ended
    (a Balance Disconnect is at most a quarter second late)."""
    while True:
        await asyncio.sleep(0.25)
        try:
            if await engine.renew(time.time()):
                engine.flush()
        except Exception:
            log.exception("reservations failed")


async def _housekeeping(engine: Engine) -> None:
    """Once a second: a new routing file swaps in, held channels past their expiry are let go."""
    while True:
        await asyncio.sleep(1.0)
        try:
            if await engine.reload_if_changed():
                # No collection first: that walks the new index (0.8 s on 6 x 100k prefixes) with calls waiting.
                # The old index holds no cycles, so it is freed frozen (its count does not grow over reloads).
                gc.freeze()
            engine.expire(time.time())
            engine.flush()
        except Exception:  # housekeeping must outlive one bad pass
            log.exception("housekeeping failed")
