"""SIP benchmark: SIPp at rising rates against `trunkline switch` and, in the same run, against Kamailio answering
the same 302 from an mtree of the same prefixes (issue 10, item 7).

    .venv/bin/python bench/sip.py [--quick] [--rates 2000,4000,...] [--duration S] [--processes 1,2]
                                  [--customers N] [--prefixes N] [--kamailio-children N] [--rcvbuf BYTES]
                                  [--skip-kamailio] [--skip-switch] [--skip-through] [--through-processes N]
                                  [--through-rates R,...] [--nice N] [--keep]

1. Data: bench/decide.py's routing snapshot (10,000 customers with 20,000 IP-auth entries, a customer card and 5
   provider cards of 100,000 prefixes each, seed 20261128), plus one IP-auth entry 127.0.0.1 for customer 1 (SIPp
   sends from there) with its channel/CPS limits lifted and a debit limit that outlasts the run, so every call is
   routed. Written with trunkline.contracts.codec into a temporary TRUNKLINE_VAR_DIR. The dialled numbers (the
   injection file, SEQUENTIAL) are random 12-digit numbers under the customer card's prefixes that route_call()
   routes in process; the CLI is a random 10-digit number (customer 1's CLI rule wants 6-15 digits).
2. Kamailio 5.6 (bench/kamailio/redirect.cfg): stateless 302 from an mtree loaded through db_text holding every
   active prefix of the customer card -> the gateways of its LCR order ("host:port|..."; the numbers of the
   injection file get exactly the order route_call() gave them), one Contact per gateway, q descending.
3. `trunkline switch --sip-port P --http-port Q --processes N` (N > 1 shares counters through Redis:
   COUNTERS_URL=redis://127.0.0.1:6379/<--redis-db>, flushed before and after).
4. SIPp (bench/sip_scenarios/uac_302.xml): INVITE, optional 100, 302 (response time measured there), ACK in the
   INVITE's transaction. Same scenario, same SIPp socket buffers (-buff_size) and the same server receive buffer
   for both: Kamailio's maxbuffer (how far it probes SO_RCVBUF) is --rcvbuf, by default what trunkline switch asks
   for (trunkline.switch.server.UDP_BUFFER); the kernel caps both at net.core.rmem_max, and the buffer each got
   is printed (ss's rb).
5. For each server, rising rates of --duration seconds each (-m rate x duration); a rate is clean when SIPp saw 0
   failed calls and 0 retransmissions and completed >= 95 % of the asked rate ("RATE NOT REACHED": SIPp could
   not send that fast, or its limit of open calls, one second's worth, held it back). Two unclean rates in a row
   end the ladder; when the first rate is already unclean it is halved (down to 100/s) until one is clean. Per
   rate: CPU of every process of the server (utime+stime from /proc/<pid>/stat, all of Kamailio's children; the
   Redis server's apart) / calls, SIPp's own CPU, the machine's UDP receive-buffer drops, p50/p99 of SIPp's
   per-call response times (-trace_rtt; SIPp measures whole milliseconds).
6. Through Kamailio (deploy/kamailio/kamailio.cfg, when present): SIPp UAC -> Kamailio -> POST /route on the
   switch's HTTP -> the first gateway, a SIPp UAS answering 200, BYE after the answer; rising rates until unclean
   (target >= 2,000 routed calls/s).

--nice N runs the servers and SIPp at niceness N, and their sessions' autogroups too (the kernel schedules each
session as one group against the machine's others, whatever its processes' niceness): on a shared machine,
`--nice -10` (root) keeps other work from deciding the figures; both servers get the same.

Prints the table: server, processes, highest clean rate, CPU µs/call, p99 ms, and the ratios against Kamailio
(targets: 1 process >= 100 % of its rate, 2 processes >= 130 %, CPU per call <= 75 %, p99 <= 20 ms). Every
process started here runs in its own session and is killed by process group on the way out. A benchmark is not
a test: the exit code is 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple, Protocol

from decide import SEED, build_snapshot  # bench/ is the script's directory, so on the path
from harness import ROOT, log

from trunkline.contracts.codec import SNAPSHOT_FILE, write_snapshot
from trunkline.contracts.snapshot import Gateway, IpAuth, RoutingSnapshot
from trunkline.switch.counters import MemoryCounters
from trunkline.switch.fast import FastIndex, route_call
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.types import Call, Decision

BENCH = Path(__file__).resolve().parent
SCENARIO = BENCH / "sip_scenarios" / "uac_302.xml"
KAMAILIO_CFG = BENCH / "kamailio" / "redirect.cfg"
DEPLOY_CFG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
TRUNKLINE = Path(sys.executable).parent / "trunkline"
SENDER = 1  # the customer SIPp calls as (127.0.0.1)
SENDER_AUTH_ID = 1  # bench/decide.py's entries are 2c and 2c+1: id 1 is free
DEFAULT_RATES = (2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 14_000, 16_000, 18_000, 20_000)
QUICK_RATES = (500, 1_000, 2_000)
MIN_RATE = 100  # calls/s: the lowest a ladder halves down to
THROUGH_RATES = (250, 500, 1_000, 1_500, 2_000, 2_500, 3_000, 4_000)
TARGET_ONE = 1.00
TARGET_TWO = 1.30
TARGET_CPU = 0.75
TARGET_P99_MS = 20.0
TARGET_THROUGH = 2_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- data -----------------------------------------------------------------------------------------------------


class Data(NamedTuple):
    snapshot: RoutingSnapshot
    var_dir: Path
    numbers: list[tuple[str, str]]  # (dialled number, CLI), all routed by route_call()
    mtree: dict[str, str]  # customer-card prefix -> "host:port|host:port..." in LCR order
    contacts: float  # mean Contacts per 302 over the numbers


def gateways(decision: Decision) -> str:
    return "|".join(f"{gateway.host}:{gateway.port}" for egress in decision.routes for gateway in egress.gateways)


def bench_snapshot(customers: int, prefixes: int, seed: int) -> tuple[RoutingSnapshot, MemoryCounters]:
    """bench/decide.py's snapshot, with 127.0.0.1 as an entry of customer 1, whose limits are lifted."""
    snapshot, counters = build_snapshot(random.Random(seed), customers, prefixes)
    sender = next(customer for customer in snapshot.customers if customer.id == SENDER)
    route = next(route for route in snapshot.ingress_routes if route.customer_id == SENDER)
    # Calls are never ended in a redirect test, and a routed call holds what it reserves: a debit limit that a
    # million calls cannot exhaust, no channel/CPS limits (0 = unlimited) on the scopes SIPp's calls count in.
    customers_ = tuple(dataclasses.replace(customer, channels=0, cps=0, debit_limit=Decimal(10**9))
                       if customer is sender else customer for customer in snapshot.customers)
    routes = tuple(dataclasses.replace(item, channels=0, cps=0) if item is route else item
                   for item in snapshot.ingress_routes)
    ip_auths = (IpAuth(SENDER_AUTH_ID, SENDER, "127.0.0.1"), *snapshot.ip_auths)
    return dataclasses.replace(snapshot, customers=customers_, ingress_routes=routes, ip_auths=ip_auths), counters


def write_balances(var_dir: Path, snapshot: RoutingSnapshot, counters: MemoryCounters) -> None:
    """balances.json beside the routing file (what the engine reads balances from): the benchmark's balances."""
    balances = {str(customer.id): str(counters.balance(customer.id)) for customer in snapshot.customers}
    (var_dir / "balances.json").write_text(json.dumps(balances))


def build_data(customers: int, prefixes: int, numbers: int, seed: int) -> Data:
    started = time.perf_counter()
    snapshot, counters = bench_snapshot(customers, prefixes, seed)
    var_dir = Path(tempfile.mkdtemp(prefix="trunkline-bench-sip-"))
    write_snapshot(snapshot, var_dir / SNAPSHOT_FILE)
    write_balances(var_dir, snapshot, counters)
    log(f"data: snapshot of {len(snapshot.customers):,} customers, {len(snapshot.ip_auths):,} IP-auth entries, "
        f"{len(snapshot.rate_cards)} cards x {prefixes:,} prefixes written to {var_dir / SNAPSHOT_FILE} "
        f"({(var_dir / SNAPSHOT_FILE).stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - started:.1f} s")
    fast = FastIndex(SnapshotIndex(snapshot))
    generator = random.Random(seed + 1)
    card = next(card for card in snapshot.rate_cards if card.provider_id is None)
    active = [row.prefix for row in card.rows if not row.blocked]
    mtree: dict[str, str] = {}
    # Every active prefix: the order its number padded with zeros gets (a number under it with a longer provider
    # match may order differently; the injection file's numbers are set exactly below).
    for prefix in active:
        decision = route_call(fast, counters, Call("127.0.0.1", prefix.ljust(12, "0"), "2025550100"))
        if decision.accepted and decision.routes:
            mtree[decision.rate.prefix if decision.rate else prefix] = gateways(decision)
    chosen: list[tuple[str, str]] = []
    count = 0
    attempts = 0
    while len(chosen) < numbers and attempts < numbers * 20:
        attempts += 1
        prefix = generator.choice(active)
        number = prefix + "".join(generator.choices("0123456789", k=12 - len(prefix)))
        cli = str(generator.randrange(10**9, 10**10))
        decision = route_call(fast, counters, Call("127.0.0.1", number, cli))
        if not (decision.accepted and decision.routes and decision.rate):
            continue
        mtree[decision.rate.prefix] = gateways(decision)
        chosen.append((number, cli))
        count += sum(len(egress.gateways) for egress in decision.routes)
    log(f"data: {len(mtree):,} mtree prefixes, {len(chosen):,} routed numbers for SIPp "
        f"({count / max(1, len(chosen)):.2f} Contacts per 302 on average); {time.perf_counter() - started:.1f} s")
    return Data(snapshot, var_dir, chosen, mtree, count / max(1, len(chosen)))


def write_injection(path: Path, numbers: Sequence[tuple[str, str]]) -> None:
    path.write_text("SEQUENTIAL\n" + "".join(f"{number};{cli}\n" for number, cli in numbers))


def write_mtree(directory: Path, mtree: dict[str, str]) -> None:
    """db_text's files: the version table mtree checks and the tree (':' in a value is escaped)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "version").write_text("id(int,auto) table_name(string) table_version(int) \n0:mtree:1\n")
    with open(directory / "mtree", "w") as handle:
        handle.write("id(int,auto) tprefix(string) tvalue(string) \n")
        for number, (prefix, value) in enumerate(sorted(mtree.items()), 1):
            handle.write(f"{number}:{prefix}:{value.replace(':', chr(92) + ':')}\n")


# --- processes ------------------------------------------------------------------------------------------------


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_sip_port() -> int:
    """A port free on both UDP and TCP (the switch listens on both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def session_pids(sid: int) -> list[int]:
    """Every live process of session `sid` (each server starts a session of its own)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after the name: state, ppid, pgrp, session
            found.append(int(entry))
    return found


def redis_pids() -> list[int]:
    """The Redis server's processes (the counters of a multi-process switch live there; not started here)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError):
                if Path(f"/proc/{entry}/comm").read_text().strip() == "redis-server":
                    found.append(int(entry))
    return found


def udp_receive_drops() -> int:
    """The kernel's count of datagrams dropped for a full receive buffer, machine-wide (/proc/net/snmp, Udp:
    RcvbufErrors): says whether a step's retransmissions came from a buffer overflowing (on either side)."""
    with suppress(OSError, ValueError, IndexError):
        rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
        return int(rows[1][rows[0].index("RcvbufErrors")])
    return 0


def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        with suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


NICENESS = [0]  # --nice: the niceness every process started here runs at (servers and SIPp alike)


def niced(command: list[str]) -> list[str]:
    return ["nice", "-n", str(NICENESS[0]), *command] if NICENESS[0] else command


def nice_session(pid: int) -> None:
    """With the kernel's autogroup scheduling on, each session (every process here starts one) shares the CPU
    with the machine's other sessions as one group, whatever its processes' niceness: the group's niceness is
    set too."""
    if NICENESS[0]:
        with suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text(str(NICENESS[0]))


class Measured(Protocol):
    """What a ladder needs of what it measures: one server or several (Group)."""

    def cpu(self) -> float: ...

    def alive(self) -> bool: ...

    def tail(self, lines: int = 15) -> str: ...


class Server:
    """A process group started in a session of its own; stop() kills the whole group."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # closed in stop()
        self.process = subprocess.Popen(niced(command), env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        nice_session(self.process.pid)

    def pids(self) -> list[int]:
        return session_pids(self.process.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pids())

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        with suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # Children may outlive the leader (Kamailio's workers): whatever is left of the group goes.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self._log.close()


def sip_ready(port: int, server: Server, timeout: float) -> bool:
    """True once the server answers an OPTIONS over UDP (any answer), False if it died or timed out."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
        probe.settimeout(0.5)
        sequence = 0
        while time.monotonic() < deadline and server.alive():
            sequence += 1
            probe.sendto((f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
                          f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-ready-{sequence}\r\n"
                          f"From: <sip:bench@127.0.0.1>;tag=ready\r\nTo: <sip:ping@127.0.0.1>\r\n"
                          f"Call-ID: ready-{sequence}@bench\r\nCSeq: {sequence} OPTIONS\r\nMax-Forwards: 70\r\n"
                          f"Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", port))
            try:
                if probe.recv(65535).startswith(b"SIP/2.0 "):
                    return True
            except (TimeoutError, ConnectionRefusedError):
                time.sleep(0.5)
    return False


@contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def start_kamailio(work: Path, mtree: dict[str, str], children: int, rcvbuf: int, config: Path = KAMAILIO_CFG
                   ) -> tuple[Server, int]:
    database = work / "kamailio-db"
    write_mtree(database, mtree)
    port = free_sip_port()
    command = ["kamailio", "-f", str(config), "-DD", "-E", "-m", "1024", "-M", "16", "-Y", str(work),
               "-A", f"BENCH_LISTEN=udp:127.0.0.1:{port}", "-A", f'BENCH_DB="text://{database}"',
               "-A", f"BENCH_CHILDREN={children}", "-A", f"BENCH_RCVBUF={rcvbuf}"]
    return Server(f"Kamailio mtree ({children} UDP workers)", command, log_path=work / "kamailio.log"), port


def switch_env(var_dir: Path, processes: int, redis_db: int) -> dict[str, str]:
    env = {**os.environ, "TRUNKLINE_VAR_DIR": str(var_dir), "SWITCH_NODE": f"bench-{processes}"}
    env.pop("COUNTERS_URL", None)
    if processes > 1:
        env["COUNTERS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
    return env


def flush_redis(redis_db: int) -> None:
    try:
        import redis

        redis.Redis.from_url(f"redis://127.0.0.1:6379/{redis_db}", socket_timeout=5).flushdb()
    except Exception as error:  # the two-process row then fails visibly on its own
        log(f"redis db {redis_db}: could not flush: {error}")


def start_switch(work: Path, var_dir: Path, processes: int, redis_db: int) -> tuple[Server, int, int]:
    sip_port, http_port = free_sip_port(), free_port(socket.SOCK_STREAM)
    if processes > 1:
        flush_redis(redis_db)
    command = [str(TRUNKLINE), "switch", "--sip-port", str(sip_port), "--http-port", str(http_port),
               "--host", "127.0.0.1", "--processes", str(processes)]
    server = Server(f"trunkline switch ({processes} process{'es' if processes > 1 else ''})", command,
                    env=switch_env(var_dir, processes, redis_db), cwd=ROOT,
                    log_path=work / f"switch-{processes}.log")
    return server, sip_port, http_port


def switch_available() -> str | None:
    """None when `trunkline switch` serves SIP, else why not."""
    if not TRUNKLINE.exists():
        return f"{TRUNKLINE} is missing"
    completed = subprocess.run([str(TRUNKLINE), "switch", "--help"], capture_output=True, text=True, cwd=ROOT,
                               check=False, timeout=60)
    if "--sip-port" not in completed.stdout:
        return "`trunkline switch --help` has no --sip-port (the SIP server is not in this checkout yet)"
    return None


# --- SIPp -----------------------------------------------------------------------------------------------------


class Step(NamedTuple):
    rate: int
    calls: int  # SIPp's created calls
    successful: int
    failed: int
    retransmissions: int
    dead_call_msgs: int
    seconds: float  # SIPp's elapsed time
    cpu: float  # server CPU seconds during the step
    sipp_cpu: float
    p99_ms: float | None
    p50_ms: float | None
    drops: int  # UDP receive-buffer drops machine-wide during the step

    @property
    def achieved(self) -> float:
        return self.successful / self.seconds if self.seconds else 0.0

    @property
    def short(self) -> bool:
        return self.achieved < 0.95 * self.rate

    @property
    def clean(self) -> bool:
        return (self.failed == 0 and self.retransmissions == 0 and self.successful == self.calls > 0
                and not self.short)

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.successful * 1e6 if self.successful else float("nan")

    def describe(self) -> str:
        verdict = "clean" if self.clean else ("RATE NOT REACHED" if self.failed == self.retransmissions == 0
                                              else "UNCLEAN")
        p99 = f"{self.p99_ms:.0f}" if self.p99_ms is not None else "-"
        p50 = f"{self.p50_ms:.0f}" if self.p50_ms is not None else "-"
        return (f"{self.rate:>6,}/s asked, {self.achieved:>7,.0f}/s done: {self.successful:,}/{self.calls:,} ok, "
                f"{self.failed:,} failed, {self.retransmissions:,} retransmissions, {self.dead_call_msgs:,} dead-call "
                f"msgs, {self.drops:,} UDP buffer drops; server CPU {self.cpu_us:.1f} µs/call "
                f"({self.cpu / self.seconds if self.seconds else 0:.0%} of a core), "
                f"SIPp {self.sipp_cpu / max(1, self.successful) * 1e6:.1f} µs/call; "
                f"p50 {p50} ms, p99 {p99} ms  {verdict}")


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def parse_stats(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))


def elapsed_seconds(value: str) -> float:
    """SIPp's ElapsedTime(C): HH:MM:SS:mmmmmm (or HH:MM:SS)."""
    parts = value.split(":")
    seconds = int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2])
    return seconds + (int(parts[3]) / 10 ** len(parts[3]) if len(parts) > 3 and parts[3] else 0)


def run_sipp(target: str, scenario: Path, injection: Path | None, rate: int, seconds: float, work: Path,
             server: Measured, buff_size: int, extra: Sequence[str] = ()) -> Step:
    work.mkdir(parents=True, exist_ok=True)
    calls = max(1, int(rate * seconds))
    command = ["sipp", target, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_port()),
               "-r", str(rate), "-rp", "1000", "-m", str(calls), "-l", str(max(rate, 100)),
               "-buff_size", str(buff_size), "-recv_timeout", "4000", "-timeout", f"{int(seconds * 3 + 30)}s",
               "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-nostdin",
               "-trace_stat", "-stf", "stats.csv", "-fd", "1", "-trace_rtt", "-rtt_freq", "100",
               "-trace_screen", "-screen_file", "screen.log", *extra]
    if injection is not None:
        command[4:4] = ["-inf", str(injection)]
    before, drops = server.cpu(), udp_receive_drops()
    # SIPp is the only child reaped meanwhile (the servers run on), so the children's rusage delta is its CPU.
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(work / "sipp.out", "wb") as output:
        sipp = subprocess.Popen(niced(command), cwd=work, stdout=output, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        nice_session(sipp.pid)
        try:
            sipp.wait(timeout=seconds * 3 + 60)
        finally:
            if sipp.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(sipp.pid, signal.SIGKILL)
                sipp.wait()
    cpu, drops = server.cpu() - before, udp_receive_drops() - drops
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    sipp_cpu = usage.ru_utime + usage.ru_stime - reaped.ru_utime - reaped.ru_stime
    stats = parse_stats(work / "stats.csv") if (work / "stats.csv").exists() else {}
    rtts: list[float] = []
    for path in work.glob("*_rtt.csv"):
        for line in path.read_text().splitlines()[1:]:
            fields = line.split(";")
            with suppress(IndexError, ValueError):
                rtts.append(float(fields[1]))

    def number(key: str) -> int:
        with suppress(KeyError, ValueError):
            return int(stats[key])
        return 0

    seconds_done = elapsed_seconds(stats["ElapsedTime(C)"]) if "ElapsedTime(C)" in stats else 0.0
    return Step(rate, number("TotalCallCreated"), number("SuccessfulCall(C)"), number("FailedCall(C)"),
                number("Retransmissions(C)"), number("DeadCallMsgs(C)"), seconds_done, cpu, sipp_cpu,
                percentile(rtts, 0.99), percentile(rtts, 0.5), drops)


class Ladder(NamedTuple):
    server: str
    processes: int
    steps: list[Step]
    error: str | None = None

    def report_error(self) -> Ladder:
        """Print why the ladder could not run (in full: the table shows the last line) and return it."""
        if self.error:
            print(f"{self.server}: {self.error}", flush=True)
        return self

    @property
    def best(self) -> Step | None:
        clean = [step for step in self.steps if step.clean]
        return max(clean, key=lambda step: step.rate) if clean else None


def climb(name: str, processes: int, server: Measured, port: int, injection: Path | None, rates: Sequence[int],
          seconds: float, work: Path, buff_size: int, scenario: Path = SCENARIO, extra: Sequence[str] = ()
          ) -> Ladder:
    steps: list[Step] = []
    misses = 0
    print(f"{name}:", flush=True)
    # When the first rate is already unclean, halve it (down to MIN_RATE) so the table still has a clean rate.
    ladder = list(rates)
    index = 0
    while index < len(ladder):
        rate = ladder[index]
        index += 1
        if not server.alive():
            return Ladder(name, processes, steps, f"the server exited: {server.tail()}").report_error()
        parts = [(part.name, part.cpu()) for part in server.servers] if isinstance(server, Group) else []
        redis = redis_pids() if processes > 1 and isinstance(server, Server) and "switch" in name else []
        redis_before = cpu_seconds(redis)
        step = run_sipp(f"127.0.0.1:{port}", scenario, injection, rate, seconds, work / f"rate-{rate}", server,
                        buff_size, extra)
        steps.append(step)
        print(f"  {step.describe()}", flush=True)
        if redis and step.successful:
            print(f"    Redis (the shared server, whoever else uses it included): "
                  f"{(cpu_seconds(redis) - redis_before) / step.successful * 1e6:.0f} µs/call more", flush=True)
        if isinstance(server, Group) and step.successful:
            print("    CPU µs/call by part: " + ", ".join(
                f"{name} {(part.cpu() - before) / step.successful * 1e6:.0f}"
                for (name, before), part in zip(parts, server.servers, strict=True)), flush=True)
        misses = 0 if step.clean else misses + 1
        time.sleep(2)  # let the last transactions settle (and a backlog drain) before the next rate
        if not any(item.clean for item in steps):
            if rate // 2 >= MIN_RATE and rate <= ladder[0]:
                ladder[index:] = [rate // 2]
                continue
            break
        if misses == 2:
            break
    return Ladder(name, processes, steps)


# --- the run --------------------------------------------------------------------------------------------------


def default_rcvbuf() -> int:
    """What trunkline switch asks for its UDP socket (the kernel caps it at net.core.rmem_max, then doubles it)."""
    try:
        from trunkline.switch.server import UDP_BUFFER
    except ImportError:
        return 8 * 2**20
    return UDP_BUFFER


def socket_rcvbuf(port: int) -> int | None:
    """The receive buffer the kernel gave the UDP socket on `port` (ss's skmem rb), to show both servers got the
    same."""
    with suppress(OSError, subprocess.SubprocessError):
        output = subprocess.run(["ss", "-uanm", f"sport = :{port}"], capture_output=True, text=True, timeout=10,
                                check=False).stdout
        found = re.search(r"rb(\d+)", output)
        if found:
            return int(found.group(1))
    return None


def common_steps(ladder: Ladder, base: Ladder) -> tuple[Step, Step] | None:
    """Both ladders' steps at the highest rate both ran clean: CPU per call compared at the same load (a server
    idling between calls spends more per call at a low rate). With no rate in common, the ladder's highest clean
    step against the baseline's clean step nearest to it in rate (the table then names both rates)."""
    theirs = {step.rate: step for step in base.steps if step.clean}
    shared = [step for step in ladder.steps if step.clean and step.rate in theirs]
    if shared:
        step = max(shared, key=lambda item: item.rate)
        return step, theirs[step.rate]
    best = ladder.best
    if best is None or not theirs:
        return None
    return best, theirs[min(theirs, key=lambda rate: abs(rate - best.rate))]


def at_rates(common: tuple[Step, Step]) -> str:
    ours, theirs = common
    return f"{ours.rate:,}/s" if ours.rate == theirs.rate else f"{ours.rate:,}/s (Kamailio's at {theirs.rate:,}/s)"


def print_table(ladders: Sequence[Ladder], kamailio: Ladder | None, through: Ladder | None,
                through_reason: str | None, top_rate: int) -> None:
    print()
    print(f"{'server':<36} {'procs':>5} {'highest clean rate':>19} {'CPU µs/call':>11} {'p99 ms':>6} "
          f"{'rate vs Kamailio':>16} {'CPU/call vs Kamailio (ours/Kamailio µs, rates)':>44}")
    base = kamailio.best if kamailio else None
    for ladder in ladders:
        best = ladder.best
        if best is None:
            reason = ([line for line in (ladder.error or "").splitlines() if line.strip()] or ["no clean rate"])[-1]
            print(f"{ladder.server:<36} {ladder.processes:>5} {'-':>19} {'-':>11} {'-':>6}  ({reason[:100]})")
            continue
        rate_ratio = cpu_ratio = "-"
        if kamailio is not None and base is not None and ladder is not kamailio:
            rate_ratio = f"{best.rate / base.rate:.0%}"
            common = common_steps(ladder, kamailio)
            if common:
                cpu_ratio = (f"{common[0].cpu_us / common[1].cpu_us:.0%} ({common[0].cpu_us:.1f}/"
                             f"{common[1].cpu_us:.1f} at {common[0].rate:,}/{common[1].rate:,})")
        p99 = f"{best.p99_ms:.0f}" if best.p99_ms is not None else "-"
        rate = f"{best.rate:,}/s" + ("+" if best.rate >= top_rate else " ")
        print(f"{ladder.server:<36} {ladder.processes:>5} {rate:>19} {best.cpu_us:>11.1f} {p99:>6} {rate_ratio:>16} "
              f"{cpu_ratio:>44}")
    print(f"(+ = clean at the highest rate asked ({top_rate:,}/s): the limit lies above; CPU µs/call at the highest "
          f"clean rate, all of the server's processes; p99 in whole ms, SIPp's resolution)")
    print()
    if base is None:
        print("No Kamailio baseline: ratios not computed.")
    for ladder in ladders:
        best = ladder.best
        if ladder is kamailio or kamailio is None or base is None or best is None:
            continue
        rate_target = TARGET_ONE if ladder.processes == 1 else TARGET_TWO
        rate_ok = best.rate / base.rate >= rate_target
        print(f"  {'PASS' if rate_ok else 'FAIL'}: {ladder.server} clean rate {best.rate:,}/s = "
              f"{best.rate / base.rate:.0%} of Kamailio's {base.rate:,}/s (target >= {rate_target:.0%})")
        common = common_steps(ladder, kamailio)
        if ladder.processes == 1 and common:
            ratio = common[0].cpu_us / common[1].cpu_us
            print(f"  {'PASS' if ratio <= TARGET_CPU else 'FAIL'}: CPU per call at {at_rates(common)} "
                  f"{common[0].cpu_us:.1f} µs = {ratio:.0%} of Kamailio's {common[1].cpu_us:.1f} µs (target <= "
                  f"{TARGET_CPU:.0%}); at each one's highest clean rate {best.cpu_us:.1f} vs {base.cpu_us:.1f} µs = "
                  f"{best.cpu_us / base.cpu_us:.0%}")
        if best.p99_ms is not None:
            print(f"  {'PASS' if best.p99_ms <= TARGET_P99_MS else 'FAIL'}: {ladder.server} p99 {best.p99_ms:.0f} ms "
                  f"at {best.rate:,}/s (target <= {TARGET_P99_MS:.0f} ms)")
    if through is not None:
        best = through.best
        if best is None:
            print("  FAIL: through Kamailio with POST /route: no clean rate (see above)")
        else:
            verdict = "PASS" if best.rate >= TARGET_THROUGH else "FAIL"
            p99 = f"{best.p99_ms:.0f}" if best.p99_ms is not None else "-"
            print(f"  {verdict}: {through.server}: {best.rate:,} routed calls/s clean, CPU "
                  f"{best.cpu_us:.1f} µs/call (Kamailio + switch), p99 {p99} ms to the 200 (target >= "
                  f"{TARGET_THROUGH:,}/s)")
    elif through_reason:
        print(f"  through Kamailio with POST /route: skipped ({through_reason})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 200 customers, 2,000 prefixes per card, rates 500/1,000/2,000, 3 s each")
    parser.add_argument("--rates", help="comma-separated calls/s, rising (default 2,000 to 20,000 by 2,000)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per rate (default 6; --quick 3)")
    parser.add_argument("--processes", default="1,2", help="switch process counts to measure (default 1,2)")
    parser.add_argument("--customers", type=int, default=None, help="default 10,000 (--quick 200)")
    parser.add_argument("--prefixes", type=int, default=None, help="per card; default 100,000 (--quick 2,000)")
    parser.add_argument("--numbers", type=int, default=50_000, help="dialled numbers in SIPp's injection file")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--kamailio-children", type=int, default=os.cpu_count() or 2,
                        help="Kamailio's UDP workers (default: one per core)")
    parser.add_argument("--rcvbuf", type=int, default=default_rcvbuf(),
                        help="Kamailio's maxbuffer, bytes (default: what trunkline switch asks for its UDP socket)")
    parser.add_argument("--buff-size", type=int, default=1_048_576, help="SIPp's -buff_size (default 1 MiB)")
    parser.add_argument("--redis-db", type=int, default=8, help="Redis database for --processes > 1 (flushed)")
    parser.add_argument("--skip-kamailio", action="store_true")
    parser.add_argument("--skip-switch", action="store_true")
    parser.add_argument("--skip-through", action="store_true", help="skip the through-Kamailio (POST /route) row")
    parser.add_argument("--through-processes", type=int, default=1,
                        help="switch processes behind Kamailio (default 1; more share counters in Redis)")
    parser.add_argument("--through-rates", type=lambda text: [int(rate) for rate in text.split(",")],
                        help="calls/s through Kamailio (default 250 to 4,000)")
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness of the servers and SIPp alike (e.g. -10 as root, to keep other work on a "
                             "shared machine from deciding the figures; default 0)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, SIPp files)")
    options = parser.parse_args()
    customers = options.customers or (200 if options.quick else 10_000)
    prefixes = options.prefixes or (2_000 if options.quick else 100_000)
    seconds = options.duration or (3.0 if options.quick else 6.0)
    rates = ([int(rate) for rate in options.rates.split(",")] if options.rates
             else list(QUICK_RATES if options.quick else DEFAULT_RATES))
    process_counts = [int(count) for count in options.processes.split(",") if count]
    NICENESS[0] = options.nice

    missing = [tool for tool in ("sipp", "kamailio") if shutil.which(tool) is None]
    if "sipp" in missing:
        print("SIP benchmark: skipped, `sipp` is not installed (Debian: sip-tester)")
        return
    print(f"SIP benchmark: {customers:,} customers, 6 cards x {prefixes:,} prefixes, rates {rates} calls/s, "
          f"{seconds:g} s each; {os.cpu_count()} cores; server receive buffer asked {options.rcvbuf:,} B, SIPp "
          f"-buff_size {options.buff_size:,} B; niceness {options.nice}; load average now {os.getloadavg()[0]:.2f}")
    data = build_data(customers, prefixes, min(options.numbers, max(1_000, int(max(rates) * seconds))), options.seed)
    work = data.var_dir / "work"
    work.mkdir()
    injection = work / "numbers.csv"
    write_injection(injection, data.numbers)
    ladders: list[Ladder] = []
    kamailio: Ladder | None = None
    through: Ladder | None = None
    through_reason: str | None = None
    try:
        if options.skip_kamailio or "kamailio" in missing:
            print("Kamailio: skipped" + (" (not installed)" if "kamailio" in missing else ""))
        else:
            server, port = start_kamailio(work, data.mtree, options.kamailio_children, options.rcvbuf)
            with running(server):
                if not sip_ready(port, server, 300):
                    kamailio = Ladder(server.name, options.kamailio_children, [],
                                      f"did not answer OPTIONS: {server.tail()}").report_error()
                else:
                    log(f"{server.name}: receive buffer {socket_rcvbuf(port) or '?'} B (ss rb)")
                    kamailio = climb(server.name, options.kamailio_children, server, port, injection, rates, seconds,
                                     work / "kamailio", options.buff_size)
            ladders.append(kamailio)
        unavailable = None if options.skip_switch else switch_available()
        if options.skip_switch:
            print("trunkline switch: skipped")
        elif unavailable:
            print(f"trunkline switch: skipped, {unavailable}")
        else:
            for processes in process_counts:
                server, port, _ = start_switch(work, data.var_dir, processes, options.redis_db)
                with running(server):
                    began = time.monotonic()
                    if not sip_ready(port, server, 600):
                        ladders.append(Ladder(server.name, processes, [],
                                              f"did not answer OPTIONS: {server.tail()}").report_error())
                        continue
                    log(f"{server.name}: ready in {time.monotonic() - began:.0f} s, receive buffer "
                        f"{socket_rcvbuf(port) or '?'} B (ss rb)")
                    ladders.append(climb(server.name, processes, server, port, injection, rates, seconds,
                                         work / f"switch-{processes}", options.buff_size))
                if processes > 1:
                    flush_redis(options.redis_db)
        if options.skip_through:
            through_reason = "--skip-through"
        elif (unavailable := unavailable if not options.skip_switch else switch_available()):
            through_reason = f"trunkline switch is not available: {unavailable}"
        elif not DEPLOY_CFG.exists():
            through_reason = f"{DEPLOY_CFG.relative_to(ROOT)} is not in this checkout"
        else:
            through = run_through(data, work, options, seconds, options.through_rates or THROUGH_RATES)
    finally:
        if options.keep:
            log(f"kept {data.var_dir}")
        else:
            shutil.rmtree(data.var_dir, ignore_errors=True)
    print_table(ladders, kamailio, through, through_reason, max(rates))
    print(f"(conditions: {os.cpu_count()} cores shared with SIPp and whatever else runs; load average at the end "
          f"{os.getloadavg()[0]:.2f}; {data.contacts:.2f} Contacts per 302 on average)")


class Group:
    """Several servers measured as one (Kamailio and the switch behind it): CPU summed, alive when all are."""

    def __init__(self, *servers: Server) -> None:
        self.servers = servers

    def cpu(self) -> float:
        return sum(server.cpu() for server in self.servers)

    def alive(self) -> bool:
        return all(server.alive() for server in self.servers)

    def tail(self, lines: int = 15) -> str:
        return "\n".join(f"{server.name}: {server.tail(lines)}" for server in self.servers if not server.alive())


def run_through(data: Data, work: Path, options: argparse.Namespace, seconds: float, rates: Sequence[int]
                ) -> Ladder:
    """SIPp UAC -> Kamailio (deploy/kamailio/kamailio.cfg) -> POST /route on the switch -> SIPp UAS answering.

    The switch gets a snapshot of its own whose providers' gateways are the UAS; the UAC's calls hang up at once.
    """
    through = work / "through"
    through.mkdir()
    uas_port = free_sip_port()
    providers = tuple(dataclasses.replace(provider, gateways=(Gateway("127.0.0.1", uas_port),))
                      for provider in data.snapshot.providers)
    write_snapshot(dataclasses.replace(data.snapshot, providers=providers), through / SNAPSHOT_FILE)
    shutil.copy(data.var_dir / "balances.json", through / "balances.json")
    processes = options.through_processes
    name = f"through Kamailio (POST /route, {processes} switch process{'es' if processes > 1 else ''})"
    switch, switch_port, http_port = start_switch(through, through, processes, options.redis_db)
    servers: list[Server] = [switch]
    try:
        uas = Server("SIPp UAS", ["sipp", "-sf", str(BENCH / "sip_scenarios" / "through_uas.xml"), "-i", "127.0.0.1",
                                  "-p", str(uas_port), "-buff_size", str(options.buff_size), "-nostdin",
                                  "-max_recv_loops", "10000", "-max_sched_loops", "10000"],
                     cwd=through, log_path=through / "uas.log")
        servers.append(uas)
        kamailio_port, rpc_port = free_sip_port(), free_port(socket.SOCK_STREAM)
        substdefs = {"TL_SIP_PORT": kamailio_port, "TL_RPC_PORT": rpc_port,
                     "TL_SWITCH_URL": f"http://127.0.0.1:{http_port}"}
        # No -E: the deployed config logs to syslog, as in production.
        command = ["kamailio", "-f", str(DEPLOY_CFG), "-DD", "-m", "512", "-M", "16", "-Y", str(through),
                   *(f"--substdef=!{key}!{value}!g" for key, value in substdefs.items())]
        kamailio = Server("Kamailio edge", command, log_path=through / "kamailio.log")
        servers.append(kamailio)
        if not sip_ready(switch_port, switch, 600):
            return Ladder(name, processes, [], f"the switch did not answer OPTIONS: {switch.tail()}").report_error()
        if not sip_ready(kamailio_port, kamailio, 60):
            return Ladder(name, processes, [], f"Kamailio did not answer OPTIONS: {kamailio.tail()}").report_error()
        return climb(name, processes, Group(switch, kamailio), kamailio_port, work / "numbers.csv", rates, seconds,
                     through, options.buff_size, BENCH / "sip_scenarios" / "through_uac.xml")
    finally:
        for server in reversed(servers):
            server.stop()
        if processes > 1:
            flush_redis(options.redis_db)


if __name__ == "__main__":
    main()
