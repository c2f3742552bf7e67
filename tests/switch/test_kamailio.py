"""End to end through Kamailio at the edge (deploy/kamailio/kamailio.cfg), every part real.

A SIPp UAC plays the customer and sends to Kamailio 5.6; Kamailio asks a running `trunkline switch` over HTTP
(POST /route), forks to SIPp UASes playing the provider's gateways, and reports each dialog event to the switch
(POST /events), which spools them (trunkline/contracts/calls.py). End Calls is Kamailio's JSON-RPC dlg.end_dlg
over HTTP, as the panel sends it. The customer is told by the address the UAC sends from (every 127.0.0.0/8
address is local on Linux): Kamailio hands the switch the packet's source, so each test's caller binds the
address of the customer it needs.

Without `kamailio` or `sipp` these tests skip, unless TRUNKLINE_REQUIRE_SIP=1 (CI): then they fail.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trunkline.contracts.codec import SNAPSHOT_FILE, write_snapshot
from trunkline.contracts.snapshot import (
    Customer,
    Gateway,
    IngressRoute,
    IpAuth,
    Provider,
    RateCard,
    RateRow,
    RoutingSnapshot,
    SipUser,
)
from trunkline.switch.auth import ha1

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
SCENARIOS = Path(__file__).resolve().parent / "kamailio"
D = Decimal

CUSTOMER_IP = "127.0.0.1"  # Acme: routed over Alpha (the first gateway), then Bravo
BRIEF_IP = "127.0.0.2"  # Brief: its ingress route has a max duration of 2 s
PREFIXED_IP = "127.0.0.4"  # Prefixed: its only route wants tech prefix 99#: 580 No Route Available without it
SIP_USER_IP = "127.0.0.7"  # no IP-auth entry: calls as SIP user alice (407, then digest)
UNKNOWN_IP = "127.0.0.9"  # no IP-auth entry: 403 IP Not Authorised
NUMBER = "441234567890"
CLI = "15551234567"
ALPHA, BRAVO = 101, 102
ALICE, ALICE_PASSWORD, REALM = "alice", "secret-alice", "trunkline"


def binary_or_skip(name: str, package: str) -> str:
    # Debian installs kamailio in /usr/sbin, which a non-root PATH may leave out.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        reason = f"{name} (Debian {package}) is not installed"
        if os.environ.get("TRUNKLINE_REQUIRE_SIP") == "1":
            pytest.fail(f"{reason}, and TRUNKLINE_REQUIRE_SIP=1 forbids skipping the SIP tests.", pytrace=False)
        pytest.skip(f"{reason} (set TRUNKLINE_REQUIRE_SIP=1 to make this a failure).")
    return found


_PORTS = random.Random()


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (Kamailio listens on both for SIP), below the kernel's
    ephemeral range: a gateway's port stays in the routing file for the whole module, and an ephemeral one could
    meanwhile be handed to any process's outgoing socket."""
    low, _ = (int(value) for value in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    while True:
        port = _PORTS.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def world(alpha_port: int, bravo_port: int) -> RoutingSnapshot:
    """Acme's calls to 44 go to Alpha's gateway (0.01), then Bravo's (0.02): both are SIPp UASes on 127.0.0.1."""
    card, card_a, card_b = 1, 11, 12
    funded = D(1000)
    customers = (Customer(1, "Acme", debit_limit=funded), Customer(2, "Brief", debit_limit=funded),
                 Customer(4, "Prefixed", debit_limit=funded), Customer(7, "Sipco", debit_limit=funded))
    ip_auths = (IpAuth(1, 1, CUSTOMER_IP), IpAuth(2, 2, BRIEF_IP), IpAuth(4, 4, PREFIXED_IP))
    routes = (IngressRoute(1, 1, card), IngressRoute(2, 2, card, max_duration=2),
              IngressRoute(4, 4, card, tech_prefix="99#"), IngressRoute(7, 7, card))
    providers = (Provider(ALPHA, "Alpha", (Gateway("127.0.0.1", alpha_port),)),
                 Provider(BRAVO, "Bravo", (Gateway("127.0.0.1", bravo_port),)))
    cards = (RateCard(card, "Retail", "USD", (RateRow("44", D("0.05")),), egress_card_ids=(card_a, card_b)),
             RateCard(card_a, "Alpha", "USD", (RateRow("44", D("0.01")),), provider_id=ALPHA),
             RateCard(card_b, "Bravo", "USD", (RateRow("44", D("0.02")),), provider_id=BRAVO))
    users = (SipUser(1, 7, ALICE, ha1(ALICE, REALM, ALICE_PASSWORD)),)
    return RoutingSnapshot(1, datetime(2026, 12, 6, 12, 0, tzinfo=UTC), rate_cards=cards, customers=customers,
                           ip_auths=ip_auths, sip_users=users, providers=providers, ingress_routes=routes)


# --- the processes ------------------------------------------------------------------------------------------

_SWITCH_START = re.compile(r"^trunkline switch: SIP udp\+tcp [\d.]+:\d+, HTTP [\d.]+:(?P<http>\d+), ")


def stop(process: subprocess.Popen[Any], timeout: float = 15) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: Kamailio's children with it
            process.wait()
    return process.returncode


@dataclass
class Edge:
    switch: subprocess.Popen[str]
    kamailio: subprocess.Popen[bytes]
    var_dir: Path
    http_port: int
    sip_port: int
    rpc_port: int
    alpha_port: int
    bravo_port: int
    kamailio_log: Path
    switch_log: Path

    def lines(self, call_id: str) -> list[dict[str, Any]]:
        """The spool lines of one call, in the order they were written."""
        found: list[dict[str, Any]] = []
        for path in sorted((self.var_dir / "spool").glob("calls-*.jsonl")):
            for text in path.read_text().splitlines():
                if text:
                    line = json.loads(text)
                    if line["call_id"] == call_id:
                        found.append(line)
        return found

    def wait_lines(self, call_id: str, until: Callable[[list[dict[str, Any]]], bool],
                   timeout: float = 15) -> list[dict[str, Any]]:
        """The call's spool lines once `until` holds for them (events reach the spool a moment after SIP)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.lines(call_id)
            if until(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def wait_kind(self, call_id: str, kind: str, timeout: float = 15) -> list[dict[str, Any]]:
        return self.wait_lines(call_id, lambda found: any(line["kind"] == kind for line in found), timeout)

    def rpc(self, method: str, *params: object) -> dict[str, Any]:
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.rpc_port}/RPC", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return dict(json.loads(answer.read()))

    def log(self) -> str:
        return self.kamailio_log.read_text(errors="replace")


def start_switch(var_dir: Path, snapshot: RoutingSnapshot) -> tuple[subprocess.Popen[str], int, Path]:
    var_dir.mkdir(parents=True, exist_ok=True)
    write_snapshot(snapshot, var_dir / SNAPSHOT_FILE)
    log = var_dir / "switch.stderr"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "TRUNKLINE_VAR_DIR": str(var_dir),
           "SWITCH_NODE": "edge-test"}
    with log.open("w") as errors:
        process = subprocess.Popen([sys.executable, "-m", "trunkline.manage", "switch", "--sip-port", "0",
                                    "--http-port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors,
                                   text=True, start_new_session=True)
    assert process.stdout is not None
    line = process.stdout.readline().rstrip("\n")
    found = _SWITCH_START.match(line)
    if found is None:
        stop(process)
        pytest.fail(f"trunkline switch did not start: {line!r}\n{log.read_text()}")
    return process, int(found["http"]), log


def kamailio_command(binary: str, run_dir: Path, *, sip_port: int, rpc_port: int, switch_url: str) -> list[str]:
    """In the foreground (-DD), logging to stderr (-E), one SIP worker per socket (-n 1), its own runtime dir (-Y)
    so instances never share a file; the settings as the README tells operators to give them."""
    return [binary, "-f", str(CONFIG), "-DD", "-E", "-n", "1", "-Y", str(run_dir), "-w", str(run_dir),
            f"--substdef=!TL_SIP_PORT!{sip_port}!g", f"--substdef=!TL_RPC_PORT!{rpc_port}!g",
            f"--substdef=!TL_SWITCH_URL!{switch_url}!g", "--substdef=!TL_ROUTE_WORKERS!2!g"]


def options_ping(port: int) -> bool:
    """An OPTIONS to Kamailio itself: True once it answers 200."""
    call_id = uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local = sock.getsockname()[1]
        sock.settimeout(0.2)
        sock.sendto((f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK"
                     f"{call_id}\r\nFrom: <sip:ping@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: "
                     f"{call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
                    ("127.0.0.1", port))
        try:
            return sock.recv(65535).startswith(b"SIP/2.0 200 ")
        except TimeoutError:
            return False


def start_kamailio(run_dir: Path, *, sip_port: int, rpc_port: int,
                   switch_url: str) -> tuple[subprocess.Popen[bytes], Path]:
    binary = binary_or_skip("kamailio", "kamailio")
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "kamailio.stderr"
    with log.open("wb") as errors:
        process = subprocess.Popen(kamailio_command(binary, run_dir, sip_port=sip_port, rpc_port=rpc_port,
                                                    switch_url=switch_url),
                                   stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, start_new_session=True)
    deadline = time.monotonic() + 20
    while not options_ping(sip_port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"Kamailio did not start:\n{log.read_text(errors='replace')[-4000:]}")
    return process, log


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    binary_or_skip("sipp", "sip-tester")
    binary_or_skip("kamailio", "kamailio")
    base = tmp_path_factory.mktemp("edge")
    alpha_port, bravo_port = free_port(), free_port()
    switch, http_port, switch_log = start_switch(base / "var", world(alpha_port, bravo_port))
    sip_port, rpc_port = free_port(), free_port()
    try:
        kamailio, kamailio_log = start_kamailio(base / "kamailio", sip_port=sip_port, rpc_port=rpc_port,
                                                switch_url=f"http://127.0.0.1:{http_port}")
    except BaseException:
        stop(switch)
        raise
    running = Edge(switch, kamailio, base / "var", http_port, sip_port, rpc_port, alpha_port, bravo_port,
                   kamailio_log, switch_log)
    yield running
    log = running.log()
    kamailio_code, switch_code = stop(kamailio), stop(switch)
    assert kamailio_code == 0, log[-4000:]
    assert switch_code == 0, switch_log.read_text()[-4000:]
    # Nothing went wrong inside Kamailio along the way: no failed HTTP request, no event it could not queue.
    assert [line for line in log.splitlines() if " ERROR: " in line or " CRITICAL: " in line] == [], log[-4000:]


# --- SIPp ------------------------------------------------------------------------------------------------------


@dataclass
class SippRun:
    process: subprocess.Popen[str]
    messages: Path
    errors: Path

    def finish(self, timeout: float = 45) -> SippRun:
        self.process.wait(timeout)
        return self

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def text(self) -> str:
        return self.messages.read_text(errors="replace") if self.messages.exists() else ""

    def received_messages(self) -> list[str]:
        """Each message SIPp received, in order (its message log: a dashed line, a title, a blank line, the
        message)."""
        blocks = re.split(r"^-+ \S+ \S+\n", self.text(), flags=re.M)
        return [block.split("\n\n", 1)[1] for block in blocks if block.startswith("UDP message received")]

    def received(self) -> list[str]:
        """The first line of each message SIPp received, in order."""
        return [message.split("\n", 1)[0] for message in self.received_messages()]

    def call_id(self) -> str:
        found = re.search(r"^Call-ID: (\S+)", self.text(), re.M)
        assert found, self.text()
        return found[1]

    def report(self) -> str:
        errors = self.errors.read_text(errors="replace") if self.errors.exists() else ""
        stdout = self.process.stdout.read() if self.process.stdout and self.returncode is not None else ""
        return f"exit {self.returncode}\n{errors[-3000:]}\n{stdout[-3000:]}\n{self.text()[-3000:]}"


class Sipp:
    def __init__(self, binary: str, directory: Path, edge: Edge | None) -> None:
        self.binary, self.directory, self.edge = binary, directory, edge
        self.runs: list[SippRun] = []

    def _start(self, scenario: str, arguments: list[str], replace: dict[str, str] | None = None) -> SippRun:
        number = len(self.runs)
        text = (SCENARIOS / scenario).read_text()
        for token, value in (replace or {}).items():
            text = text.replace(token, value)
        path = self.directory / f"{number}-{scenario}"
        path.write_text(text)
        messages, errors = self.directory / f"{number}-messages.log", self.directory / f"{number}-errors.log"
        command = [self.binary, "-sf", str(path), "-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin",
                   "-trace_msg", "-message_file", str(messages), "-trace_err", "-error_file", str(errors), *arguments]
        process = subprocess.Popen(command, cwd=self.directory, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        run = SippRun(process, messages, errors)
        self.runs.append(run)
        return run

    def gateway(self, scenario: str, port: int, *, pause_ms: int = 0,
                replace: dict[str, str] | None = None) -> SippRun:
        """A UAS on 127.0.0.1:`port`, bound before this returns."""
        run = self._start(scenario, ["-i", "127.0.0.1", "-p", str(port), "-d", str(pause_ms)], replace)
        deadline = time.monotonic() + 10
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    return run  # SIPp holds the port: it is listening
            assert run.process.poll() is None and time.monotonic() < deadline, run.report()
            time.sleep(0.02)

    def caller(self, scenario: str, *, local_ip: str = CUSTOMER_IP, number: str = NUMBER, pause_ms: int = 0,
               replace: dict[str, str] | None = None, transport: str = "u1", sip_port: int = 0) -> SippRun:
        """A UAC calling Kamailio (the edge's, or the one on `sip_port`) from `local_ip`."""
        if not sip_port:
            assert self.edge is not None
            sip_port = self.edge.sip_port
        return self._start(scenario, [f"127.0.0.1:{sip_port}", "-i", local_ip, "-p", str(free_port()),
                                      "-s", number, "-d", str(pause_ms), "-t", transport], replace)

    def stop_all(self) -> None:
        for run in self.runs:
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)
                run.process.wait()
            if run.process.stdout is not None:
                run.process.stdout.close()


@pytest.fixture
def sipp(edge: Edge, tmp_path: Path) -> Iterator[Sipp]:
    runner = Sipp(binary_or_skip("sipp", "sip-tester"), tmp_path, edge)
    yield runner
    runner.stop_all()


def ok(*runs: SippRun) -> None:
    for run in runs:
        run.finish()
        assert run.returncode == 0, run.report()


def kinds(lines: list[dict[str, Any]]) -> list[str]:
    return [line["kind"] for line in lines]


def event(lines: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [line for line in lines if line["kind"] == kind]
    assert len(found) == 1, lines
    return found[0]


def ended(edge: Edge, call_id: str) -> list[dict[str, Any]]:
    return edge.wait_kind(call_id, "ended")


# --- the tests -------------------------------------------------------------------------------------------------


def test_a_call_is_answered_through_kamailio_and_every_event_reaches_the_spool(edge: Edge, sipp: Sipp) -> None:
    gateway = sipp.gateway("uas_answer.xml", edge.alpha_port)
    caller = sipp.caller("uac_bye.xml", pause_ms=3000)
    ok(caller, gateway)
    call_id = caller.call_id()
    lines = ended(edge, call_id)
    assert kinds(lines) == ["attempt", "routed", "early", "answered", "ended"], lines
    attempt = event(lines, "attempt")
    # The switch's attempt line: the caller's address as Kamailio saw it, "http" for a decision asked over HTTP.
    assert (attempt["code"], attempt["reason"], attempt["source_ip"], attempt["transport"]) == (
        200, "Routed", CUSTOMER_IP, "http")
    assert (attempt["customer"], attempt["dst"], attempt["cli"]) == (1, NUMBER, CLI)
    assert [item["provider"] for item in attempt["providers"]] == [ALPHA, BRAVO]
    routed = event(lines, "routed")
    assert (routed["provider"], routed["gateway"], routed["branch"]) == (ALPHA, f"127.0.0.1:{edge.alpha_port}", 0)
    early = event(lines, "early")
    assert (early["provider"], early["code"]) == (ALPHA, 180)
    answered = event(lines, "answered")
    assert answered["provider"] == ALPHA
    assert set(answered["dialog"]) == {"h_entry", "h_id"}
    assert all(type(value) is int for value in answered["dialog"].values())
    end = event(lines, "ended")
    assert end["release_reason"] == "Downstream BYE"
    assert abs(end["duration"] - 3) <= 1, end  # the caller hangs up 3 s after the answer
    assert end["at"] - answered["at"] == pytest.approx(3, abs=1)

    # The gateway got the call from Kamailio, record-routed, with the From the switch decided; the caller's BYE
    # came through Kamailio too.
    invite, ack, bye = gateway.received_messages()
    assert invite.startswith(f"INVITE sip:{NUMBER}@127.0.0.1:{edge.alpha_port} SIP/2.0\n")
    assert re.search(rf"^Record-Route: <sip:127\.0\.0\.1:{edge.sip_port};lr=on;ftag=[^;>]+", invite, re.M), invite
    assert re.search(rf"^From: \"Caller\" <sip:{CLI}@127\.0\.0\.1>;tag=", invite, re.M), invite
    assert ack.startswith("ACK ") and bye.startswith("BYE ")
    assert caller.received() == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK", "SIP/2.0 200 OK"]


def test_a_caller_over_tcp_reaches_a_udp_gateway_and_hangs_up_through_kamailio(edge: Edge, sipp: Sipp) -> None:
    gateway = sipp.gateway("uas_answer.xml", edge.alpha_port)
    caller = sipp.caller("uac_bye.xml", pause_ms=500, transport="t1")
    ok(caller, gateway)
    lines = ended(edge, caller.call_id())
    assert kinds(lines) == ["attempt", "routed", "early", "answered", "ended"], lines
    assert event(lines, "ended")["release_reason"] == "Downstream BYE"
    # Kamailio record-routes twice when the transport changes: the gateway sees the UDP side first.
    invite = gateway.received_messages()[0]
    assert re.findall(r"^Record-Route: <sip:127\.0\.0\.1:(\d+);(?:transport=(tcp);)?r2=on", invite, re.M) == [
        (str(edge.sip_port), ""), (str(edge.sip_port), "tcp")], invite


def test_a_503_from_the_first_gateway_fails_over_to_the_second_and_both_attempts_are_reported(
        edge: Edge, sipp: Sipp) -> None:
    refusing = sipp.gateway("uas_refuse.xml", edge.alpha_port, replace={"{status}": "503 Service Unavailable"})
    answering = sipp.gateway("uas_answer.xml", edge.bravo_port)
    caller = sipp.caller("uac_bye.xml", pause_ms=1000)
    ok(caller, refusing, answering)
    call_id = caller.call_id()
    lines = ended(edge, call_id)
    assert kinds(lines) == ["attempt", "routed", "failed", "routed", "early", "answered", "ended"], lines
    first, second = (line for line in lines if line["kind"] == "routed")
    assert (first["provider"], first["gateway"], first["branch"]) == (ALPHA, f"127.0.0.1:{edge.alpha_port}", 0)
    assert (second["provider"], second["gateway"], second["branch"]) == (BRAVO, f"127.0.0.1:{edge.bravo_port}", 1)
    failed = event(lines, "failed")
    assert (failed["provider"], failed["code"], failed["reason"], failed["final"]) == (
        ALPHA, 503, "Service Unavailable", False)
    assert event(lines, "answered")["provider"] == BRAVO
    assert event(lines, "ended")["release_reason"] == "Downstream BYE"
    # The caller never saw the 503: Kamailio kept it and tried Bravo.
    assert caller.received() == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK", "SIP/2.0 200 OK"]
    assert refusing.received()[0].startswith(f"INVITE sip:{NUMBER}@127.0.0.1:{edge.alpha_port} ")
    assert answering.received()[0].startswith(f"INVITE sip:{NUMBER}@127.0.0.1:{edge.bravo_port} ")


@pytest.mark.parametrize(("status", "answered"), [
    ("486 Busy Here", "486 Busy Here"),
    ("480 Temporarily Unavailable", "480 Temporarily Unavailable"),
    ("404 Not Found", "404 Not Found"),
    ("302 Moved Temporarily", "503 Service Unavailable"),  # a gateway's redirect is not passed on
])
def test_busy_unavailable_not_found_and_redirects_halt_failover(edge: Edge, sipp: Sipp, status: str,
                                                                answered: str) -> None:
    """domain.md 7.2: these answers end the call at the first gateway; Bravo is never tried."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bravo:
        bravo.bind(("127.0.0.1", edge.bravo_port))
        refusing = sipp.gateway("uas_refuse.xml", edge.alpha_port, replace={"{status}": status})
        caller = sipp.caller("uac_reject.xml", replace={"{code}": answered.split()[0]})
        ok(caller, refusing)
        bravo.setblocking(False)
        with pytest.raises(BlockingIOError):
            bravo.recv(65535)
    assert caller.received() == ["SIP/2.0 100 Trying", f"SIP/2.0 {answered}"]
    call_id = caller.call_id()
    lines = edge.wait_kind(call_id, "failed")
    assert kinds(lines) == ["attempt", "routed", "failed"], lines
    failed = event(lines, "failed")
    code, reason = status.split(" ", 1)
    assert (failed["provider"], failed["code"], failed["reason"], failed["final"]) == (ALPHA, int(code), reason, True)


def test_a_silent_gateway_times_out_after_its_fr_timer_and_the_next_one_is_tried(edge: Edge, sipp: Sipp) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as alpha:
        alpha.bind(("127.0.0.1", edge.alpha_port))  # takes the INVITEs, answers nothing
        answering = sipp.gateway("uas_answer.xml", edge.bravo_port)
        caller = sipp.caller("uac_bye.xml", pause_ms=500)
        ok(caller, answering)
        invite = alpha.recv(65535)
    assert invite.startswith(f"INVITE sip:{NUMBER}@127.0.0.1:{edge.alpha_port} SIP/2.0\r\n".encode())
    lines = ended(edge, caller.call_id())
    assert kinds(lines) == ["attempt", "routed", "failed", "routed", "early", "answered", "ended"], lines
    failed = event(lines, "failed")
    assert (failed["provider"], failed["code"], failed["reason"], failed["final"]) == (
        ALPHA, 408, "Request Timeout", False)
    first, second = (line for line in lines if line["kind"] == "routed")
    # The switch's fr_timer for each gateway is 3 s (trunkline/switch/http/rtjson.py).
    assert failed["at"] - first["at"] == pytest.approx(3, abs=1)
    assert second["provider"] == BRAVO


def test_a_sip_user_gets_the_switchs_challenge_through_kamailio_then_is_routed(edge: Edge, sipp: Sipp) -> None:
    gateway = sipp.gateway("uas_answer.xml", edge.alpha_port)
    caller = sipp.caller("uac_auth.xml", local_ip=SIP_USER_IP, pause_ms=500,
                         replace={"{user}": ALICE, "{password}": ALICE_PASSWORD})
    ok(caller, gateway)
    messages = caller.received_messages()
    assert [message.split("\n", 1)[0] for message in messages] == [
        "SIP/2.0 100 Trying", "SIP/2.0 407 Proxy Authentication Required", "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing", "SIP/2.0 200 OK", "SIP/2.0 200 OK"]
    challenge = re.findall(r"^Proxy-Authenticate: (.*)$", messages[1], re.M)
    assert len(challenge) == 1, messages[1]
    assert re.fullmatch(r'Digest realm="trunkline", nonce="[^"]+", algorithm=MD5, qop="auth"', challenge[0])
    lines = ended(edge, caller.call_id())
    # The challenge writes no attempt line: one attempt, the authenticated INVITE's.
    assert kinds(lines) == ["attempt", "routed", "early", "answered", "ended"], lines
    attempt = event(lines, "attempt")
    assert (attempt["code"], attempt["customer"], attempt["auth_kind"]) == (200, 7, "sip_user")


def test_the_caller_cancelling_while_it_rings_ends_the_forking(edge: Edge, sipp: Sipp) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bravo:
        bravo.bind(("127.0.0.1", edge.bravo_port))
        ringing = sipp.gateway("uas_ring.xml", edge.alpha_port)
        caller = sipp.caller("uac_cancel.xml", pause_ms=500)
        ok(caller, ringing)
        bravo.setblocking(False)
        with pytest.raises(BlockingIOError):
            bravo.recv(65535)  # no failover after a CANCEL
    assert caller.received() == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 canceling",
                                 "SIP/2.0 487 Request Terminated"]
    lines = edge.wait_kind(caller.call_id(), "failed")
    assert kinds(lines) == ["attempt", "routed", "early", "failed"], lines
    failed = event(lines, "failed")
    assert (failed["provider"], failed["code"], failed["reason"], failed["final"]) == (
        ALPHA, 487, "Request Terminated", True)


def test_end_calls_over_json_rpc_sends_bye_both_ways_and_ends_with_mi_termination(edge: Edge, sipp: Sipp) -> None:
    gateway = sipp.gateway("uas_answer.xml", edge.alpha_port)
    caller = sipp.caller("uac_wait_bye.xml")
    deadline = time.monotonic() + 15
    while not caller.messages.exists() or "Call-ID:" not in caller.text():
        assert time.monotonic() < deadline, caller.report()
        time.sleep(0.05)
    call_id = caller.call_id()
    dialog = event(edge.wait_kind(call_id, "answered"), "answered")["dialog"]

    assert edge.rpc("dlg.end_dlg", dialog["h_entry"], dialog["h_id"]) == {"jsonrpc": "2.0", "result": {}, "id": 1}
    ok(caller, gateway)
    assert caller.received()[-1].startswith("BYE sip:")  # both sides were sent a BYE by Kamailio
    assert gateway.received()[-1].startswith("BYE sip:")
    lines = ended(edge, call_id)
    assert kinds(lines) == ["attempt", "routed", "early", "answered", "ended"], lines
    assert event(lines, "ended")["release_reason"] == "MI Termination"
    # The dialog is gone: ending it again is refused.
    with pytest.raises(urllib.error.HTTPError) as refused:
        edge.rpc("dlg.end_dlg", dialog["h_entry"], dialog["h_id"])
    assert (refused.value.code, refused.value.reason) == (404, "Dialog not found")


def test_the_gateway_hanging_up_is_an_upstream_bye(edge: Edge, sipp: Sipp) -> None:
    gateway = sipp.gateway("uas_hangs_up.xml", edge.alpha_port, pause_ms=1000)
    caller = sipp.caller("uac_wait_bye.xml")
    ok(caller, gateway)
    lines = ended(edge, caller.call_id())
    assert kinds(lines) == ["attempt", "routed", "early", "answered", "ended"], lines
    end = event(lines, "ended")
    assert end["release_reason"] == "Upstream BYE"
    assert abs(end["duration"] - 1) <= 1, end


def test_the_decisions_max_duration_ends_the_call_with_lifetime_timeout(edge: Edge, sipp: Sipp) -> None:
    gateway = sipp.gateway("uas_answer.xml", edge.alpha_port)
    caller = sipp.caller("uac_wait_bye.xml", local_ip=BRIEF_IP)
    ok(caller, gateway)
    assert caller.received()[-1].startswith("BYE sip:") and gateway.received()[-1].startswith("BYE sip:")
    lines = ended(edge, caller.call_id())
    assert kinds(lines) == ["attempt", "routed", "early", "answered", "ended"], lines
    assert (event(lines, "attempt")["customer"], event(lines, "attempt")["max_duration"]) == (2, 2)
    end = event(lines, "ended")
    assert end["release_reason"] == "Lifetime Timeout"
    # The dialog module's timer ticks once a second: the call ends within a second of its max duration.
    assert abs(end["duration"] - 2) <= 1, end


@pytest.mark.parametrize(("local_ip", "number", "code", "reason"), [
    (UNKNOWN_IP, NUMBER, 403, "IP Not Authorised"),
    (PREFIXED_IP, NUMBER, 580, "No Route Available"),
    (CUSTOMER_IP, "33123456789", 503, "No Routes Available (Pre)"),
])
def test_a_reject_reaches_the_caller_with_its_code_and_reason_and_no_gateway_is_tried(
        edge: Edge, sipp: Sipp, local_ip: str, number: str, code: int, reason: str) -> None:
    caller = sipp.caller("uac_reject.xml", local_ip=local_ip, number=number, replace={"{code}": str(code)})
    ok(caller)
    assert caller.received() == ["SIP/2.0 100 Trying", f"SIP/2.0 {code} {reason}"]
    call_id = caller.call_id()
    lines = edge.wait_kind(call_id, "attempt")
    assert [(line["kind"], line["code"], line["reason"], line["source_ip"]) for line in lines] == [
        ("attempt", code, reason, local_ip)]


# --- the whole path: spool -> `trunkline load_calls` -> call records; End Calls from the panel's service ----------


def load_calls(settings: Any, edge: Edge) -> None:
    from django.core.management import call_command

    settings.VAR_DIR = str(edge.var_dir)
    call_command("load_calls", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_call_record_has_both_attempts_and_the_duration_kamailio_measured(edge: Edge, sipp: Sipp,
                                                                              settings: Any) -> None:
    from trunkline.cdrs.models import CallRecord

    refusing = sipp.gateway("uas_refuse.xml", edge.alpha_port, replace={"{status}": "503 Service Unavailable"})
    answering = sipp.gateway("uas_answer.xml", edge.bravo_port)
    caller = sipp.caller("uac_bye.xml", pause_ms=2000)
    ok(caller, refusing, answering)
    call_id = caller.call_id()
    lines = ended(edge, call_id)
    load_calls(settings, edge)

    record = CallRecord.objects.get(call_id=call_id)
    assert (record.state, record.sip_code, record.release_reason) == ("ended", 200, "Downstream BYE")
    assert record.duration == event(lines, "ended")["duration"]
    assert abs(record.duration - 2) <= 1
    assert [(attempt["provider"], attempt["gateway"], attempt["branch"], attempt["code"])
            for attempt in record.attempts] == [
        (ALPHA, f"127.0.0.1:{edge.alpha_port}", 0, 503), (BRAVO, f"127.0.0.1:{edge.bravo_port}", 1, 200)]
    assert (record.source_ip, record.dst, record.cli) == (CUSTOMER_IP, NUMBER, CLI)


@pytest.mark.django_db
def test_end_calls_from_the_panel_ends_the_live_call_through_kamailio(edge: Edge, sipp: Sipp, settings: Any) -> None:
    from trunkline.cdrs.models import CallRecord
    from trunkline.cdrs.selectors import live_dialogs
    from trunkline.cdrs.services.dialogs import dialogs_end
    from trunkline.core.context import change_context

    settings.KAMAILIO_RPC_URL = f"http://127.0.0.1:{edge.rpc_port}/RPC"
    gateway = sipp.gateway("uas_answer.xml", edge.alpha_port)
    caller = sipp.caller("uac_wait_bye.xml")
    deadline = time.monotonic() + 15
    while not caller.messages.exists() or "Call-ID:" not in caller.text():
        assert time.monotonic() < deadline, caller.report()
        time.sleep(0.05)
    call_id = caller.call_id()
    dialog = event(edge.wait_kind(call_id, "answered"), "answered")["dialog"]
    load_calls(settings, edge)
    # The answered call is in Dialogs, with the dialog Kamailio reported.
    live = live_dialogs().get(call_id=call_id)
    assert (live.state, live.dialog_h_entry, live.dialog_h_id) == ("answered", dialog["h_entry"], dialog["h_id"])

    with change_context(source="test"):
        result = dialogs_end(ids=[live.pk])
    assert (result.ended, result.errors) == ([live.pk], {})
    ok(caller, gateway)
    assert caller.received()[-1].startswith("BYE sip:") and gateway.received()[-1].startswith("BYE sip:")
    ended(edge, call_id)
    load_calls(settings, edge)
    record = CallRecord.objects.get(pk=live.pk)
    assert (record.state, record.release_reason) == ("ended", "MI Termination")
    assert record.end_requested_at is not None
    assert not live_dialogs().filter(pk=live.pk).exists()


def test_without_an_answer_from_the_switch_the_caller_gets_503_lcr_unavailable(tmp_path: Path) -> None:
    """A Kamailio whose switch URL leads nowhere: no gateway is tried and the call fails at once."""
    runner = Sipp(binary_or_skip("sipp", "sip-tester"), tmp_path, None)
    closed = free_port()  # nothing listens there
    sip_port, rpc_port = free_port(), free_port()
    kamailio, log = start_kamailio(tmp_path / "kamailio", sip_port=sip_port, rpc_port=rpc_port,
                                   switch_url=f"http://127.0.0.1:{closed}")
    try:
        caller = runner.caller("uac_reject.xml", replace={"{code}": "503"}, sip_port=sip_port)
        ok(caller)
        assert caller.received() == ["SIP/2.0 100 Trying", "SIP/2.0 503 LCR Unavailable"]
    finally:
        runner.stop_all()
        assert stop(kamailio) == 0
    errors = [line.split("<script>: ", 1)[1] for line in log.read_text().splitlines() if "<script>: " in line]
    # curl's error 7: could not connect.
    assert errors == ["POST /route gave 7 (under 100: a curl error code): 503 LCR Unavailable"]
