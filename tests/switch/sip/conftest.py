"""Fixtures for the SIP server's tests: a routing file, a running `trunkline switch`, SIPp and a raw SIP client.

Everything is real: the switch runs as a subprocess (`python -m trunkline.manage switch ...`, as the console
script does) on ports the kernel picked (it prints them on its start line), SIPp is Debian's `sipp`, answers
come over real sockets. The source address picks the customer: every 127.0.0.0/8 address is local on Linux,
so SIPp (`-i`) and the raw client bind the address of the customer a test needs (see `WORLD`).

Without `sipp` the SIPp tests skip, unless TRUNKLINE_REQUIRE_SIP=1 (CI): then they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
D = Decimal
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

# Who calls from where (source address -> customer), and what they dial.
ACME_IP = "127.0.0.1"  # funded, no limits: 302
UNKNOWN_IP = "127.0.0.2"  # no IP-auth entry: 403 IP Not Authorised
BROKE_IP = "127.0.0.3"  # debit limit 0, no balance: 402 Insufficient Balance
LIMITED_IP = "127.0.0.4"  # customer limited to 2 channels: 503 Channel Limit Reached on the third call
RAPID_IP = "127.0.0.5"  # customer limited to 1 call per second: 503 CPS Limit Reached on the second
PREFIXED_IP = "127.0.0.6"  # only a route with tech prefix 99#: 580 No Route Available without it
SIP_USER_IP = "127.0.0.7"  # no IP-auth entry: calls as SIP user alice (407, then digest)
SPARE_IPS = ("127.0.0.8", "127.0.0.9", "127.0.0.10", "127.0.0.11", "127.0.0.12")  # more Acme addresses
NUMBER = "441234567890"
UNRATED = "33123456789"  # no customer rate: 503 No Routes Available (Pre)
CLI = "15551234567"
REALM = "trunkline"
ALICE, ALICE_PASSWORD = "alice", "secret-alice"

# The 302 for NUMBER: LCR order Bravo 0.01, Alpha 0.02, Charlie 0.03 (tech prefix 77#).
GATEWAYS = (("b.example", 5080, ""), ("a.example", 5060, ""), ("c.example", 5060, "77#"))


def world() -> RoutingSnapshot:
    card, card_a, card_b, card_c = 1, 11, 12, 13
    funded = D(1000)
    customers = (Customer(1, "Acme", debit_limit=funded), Customer(3, "Broke"),
                 Customer(4, "Limited", debit_limit=funded, channels=2),
                 Customer(5, "Rapid", debit_limit=funded, cps=1),
                 Customer(6, "Prefixed", debit_limit=funded), Customer(7, "Sipco", debit_limit=funded))
    ip_auths = (IpAuth(1, 1, ACME_IP), IpAuth(3, 3, BROKE_IP), IpAuth(4, 4, LIMITED_IP), IpAuth(5, 5, RAPID_IP),
                IpAuth(6, 6, PREFIXED_IP), *(IpAuth(10 + index, 1, ip) for index, ip in enumerate(SPARE_IPS)))
    routes = (IngressRoute(1, 1, card), IngressRoute(3, 3, card), IngressRoute(4, 4, card), IngressRoute(5, 5, card),
              IngressRoute(6, 6, card, tech_prefix="99#"), IngressRoute(7, 7, card))
    providers = (Provider(101, "Alpha", (Gateway("a.example"),)), Provider(102, "Bravo", (Gateway("b.example", 5080),)),
                 Provider(103, "Charlie", (Gateway("c.example"),), tech_prefix="77#"))
    cards = (RateCard(card, "Retail", "USD", (RateRow("44", D("0.05")),), egress_card_ids=(card_a, card_b, card_c)),
             RateCard(card_a, "Alpha", "USD", (RateRow("44", D("0.02")),), provider_id=101),
             RateCard(card_b, "Bravo", "USD", (RateRow("44", D("0.01")),), provider_id=102),
             RateCard(card_c, "Charlie", "USD", (RateRow("44", D("0.03")),), provider_id=103))
    users = (SipUser(1, 7, ALICE, ha1(ALICE, REALM, ALICE_PASSWORD)),)
    return RoutingSnapshot(7, NOW, rate_cards=cards, customers=customers, ip_auths=ip_auths, sip_users=users,
                           providers=providers, ingress_routes=routes)


# --- the switch process -----------------------------------------------------------------------------------

_START = re.compile(r"^trunkline switch: SIP udp\+tcp (?P<host>[\d.]+):(?P<sip>\d+), HTTP [\d.]+:(?P<http>\d+), "
                    r"(?P<processes>\d+) process(es)?, routing revision (?P<revision>\d+)$")


@dataclass
class Switch:
    process: subprocess.Popen[str]
    sip_port: int
    http_port: int
    var_dir: Path
    stderr: Path
    start_line: str
    stopped: bool = field(default=False)

    @property
    def routing_file(self) -> Path:
        return self.var_dir / SNAPSHOT_FILE

    def spool_lines(self) -> list[dict[str, object]]:
        lines: list[dict[str, object]] = []
        for path in sorted((self.var_dir / "spool").glob("calls-*.jsonl")):
            lines.extend(json.loads(line) for line in path.read_text().splitlines() if line)
        return lines

    def attempts(self, call_id: str) -> list[dict[str, object]]:
        return [line for line in self.spool_lines() if line["call_id"] == call_id and line["kind"] == "attempt"]

    def wait_for_attempt(self, call_id: str, timeout: float = 5.0) -> list[dict[str, object]]:
        """The attempt lines of `call_id` once at least one is on the spool (it is flushed once per loop tick)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.attempts(call_id)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def log(self) -> str:
        return self.stderr.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stats(self, processes: int, timeout: float = 10.0) -> dict[int, dict[str, int]]:
        """SIGUSR1 the parent: each process prints its stats line; {pid: {"handled": requests that started a
        transaction, "retransmitted": finals sent again, "handed": datagrams handed to another process}}."""
        before = len(self.log())
        self.process.send_signal(signal.SIGUSR1)
        pattern = re.compile(r"trunkline switch\[(\d+)\]: handled (\d+) requests .*?, (\d+) finals retransmitted, "
                             r".*?, (\d+) handed to their owner")
        deadline = time.monotonic() + timeout
        while True:
            found = {int(pid): {"handled": int(handled), "retransmitted": int(again), "handed": int(handed)}
                     for pid, handled, again, handed in pattern.findall(self.log()[before:])}
            if len(found) >= processes or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def stop(self) -> int:
        if not self.stopped:
            self.stopped = True
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
        return self.process.returncode


def switch_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "trunkline.manage", "switch", *arguments]


def switch_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "TRUNKLINE_VAR_DIR": str(var_dir),
           "SWITCH_NODE": "test-node"}
    env.update(extra)
    return env


def start_switch(var_dir: Path, snapshot: RoutingSnapshot | None = None, *, processes: int = 1,
                 env: dict[str, str] | None = None) -> Switch:
    var_dir.mkdir(parents=True, exist_ok=True)
    write_snapshot(snapshot or world(), var_dir / SNAPSHOT_FILE)
    stderr = var_dir / "switch.stderr"
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            switch_command("--sip-port", "0", "--http-port", "0", "--processes", str(processes)), cwd=ROOT,
            env=switch_env(var_dir, **(env or {})), stdout=subprocess.PIPE, stderr=errors, text=True,
            start_new_session=True)
    assert process.stdout is not None
    line = process.stdout.readline().rstrip("\n")
    found = _START.match(line)
    if found is None:
        process.kill()
        process.wait()
        pytest.fail(f"trunkline switch did not start: {line!r}\n{stderr.read_text()}")
    return Switch(process, int(found["sip"]), int(found["http"]), var_dir, stderr, line)


@pytest.fixture(scope="module")
def switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    """One `trunkline switch` per test module, on the WORLD routing file. Tests that hold channels or use CPS use
    their own customer's address, so the module's tests do not see each other's calls."""
    running = start_switch(tmp_path_factory.mktemp("switch"))
    yield running
    assert running.stop() == 0, running.log()


# --- SIPp ----------------------------------------------------------------------------------------------------


def sipp_or_skip() -> str:
    found = shutil.which("sipp")
    if found is None:
        reason = "sipp (Debian sip-tester) is not installed"
        if os.environ.get("TRUNKLINE_REQUIRE_SIP") == "1":
            pytest.fail(f"{reason}, and TRUNKLINE_REQUIRE_SIP=1 forbids skipping the SIP tests.", pytrace=False)
        pytest.skip(f"{reason} (set TRUNKLINE_REQUIRE_SIP=1 to make this a failure).")
    return found


@dataclass
class SippResult:
    returncode: int
    stdout: str
    errors: str
    messages: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def count(self, row: str) -> int:
        """A cumulative figure of SIPp's final statistics screen ("Successful call", "Failed call", ...)."""
        found = re.findall(rf"{re.escape(row)}\s*\|\s*\d+\s*\|\s*(\d+)", self.stdout)
        assert found, f"no {row!r} row in SIPp's output:\n{self.stdout[-2000:]}"
        return int(found[-1])

    def row(self, label: str) -> tuple[int, int]:
        """(messages, retransmissions) of one row of SIPp's message screen: "INVITE", "100", "302", "ACK"..."""
        found = re.findall(rf"^\s*{re.escape(label)} (?:-+>|<-+)\s+(\d+)\s+(\d+)", self.stdout, re.M)
        assert found, f"no {label!r} row in SIPp's output:\n{self.stdout[-2000:]}"
        return int(found[-1][0]), int(found[-1][1])


Sipp = Callable[..., SippResult]


@pytest.fixture
def sipp(tmp_path: Path) -> Sipp:
    """Run one SIPp UAC scenario against a switch; the scenario is a file of scenarios/ whose `__NAME__` tokens
    are replaced by the keyword arguments given in `tokens`."""
    binary = sipp_or_skip()
    runs = iter(range(1000))

    def run(scenario: str, port: int, *, service: str = NUMBER, local_ip: str = ACME_IP, calls: int = 1,
            rate: int = 10, transport: str = "u1", tokens: dict[str, str] | None = None,
            extra: tuple[str, ...] = ()) -> SippResult:
        number = next(runs)
        text = (SCENARIOS / scenario).read_text()
        for name, value in (tokens or {}).items():
            text = text.replace(f"__{name}__", value)
        assert "__" not in re.sub(r"<!--.*?-->", "", text, flags=re.S), f"unfilled token in {scenario}"
        path = tmp_path / f"{number}-{scenario}"
        path.write_text(text)
        errors = tmp_path / f"{number}-errors.log"
        messages = tmp_path / f"{number}-messages.log"
        command = [binary, f"127.0.0.1:{port}", "-sf", str(path), "-m", str(calls), "-r", str(rate), "-s", service,
                   "-i", local_ip, "-t", transport, "-timeout", "30s", "-timeout_error", "-nostdin",
                   "-trace_err", "-error_file", str(errors), "-trace_msg", "-message_file", str(messages), *extra]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        return SippResult(done.returncode, done.stdout, errors.read_text() if errors.exists() else "",
                          messages.read_text() if messages.exists() else "")

    return run


# --- a raw SIP client -------------------------------------------------------------------------------------


@dataclass
class Response:
    data: bytes
    code: int
    reason: str
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def header(self, name: str) -> str:
        found = self.values(name)
        assert len(found) == 1, (name, self.data)
        return found[0]


def parse_response(data: bytes) -> Response:
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    _, code, reason = lines[0].split(" ", 2)
    headers = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines[1:])]
    return Response(data, int(code), reason, headers)


def invite(port: int, *, local_ip: str = ACME_IP, local_port: int = 0, number: str = NUMBER, cli: str = CLI,
           call_id: str | None = None, branch: str | None = None, cseq: int = 1, method: str = "INVITE",
           headers: tuple[str, ...] = (), transport: str = "UDP", to_tag: str | None = None) -> bytes:
    call_id = call_id or f"{uuid.uuid4().hex}@test"
    branch = branch or f"z9hG4bK{uuid.uuid4().hex}"
    to = f"<sip:{number}@127.0.0.1:{port}>" + (f";tag={to_tag}" if to_tag else "")
    lines = [f"{method} sip:{number}@127.0.0.1:{port} SIP/2.0",
             f"Via: SIP/2.0/{transport} {local_ip}:{local_port or 5060};branch={branch}",
             "Max-Forwards: 70", f"From: <sip:{cli}@{local_ip}>;tag=caller-{branch[-6:]}", f"To: {to}",
             f"Call-ID: {call_id}", f"CSeq: {cseq} {method}", f"Contact: <sip:{cli}@{local_ip}>", *headers,
             "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


class Peer:
    """A UDP socket on one of the 127.0.0.0/8 addresses, talking to the switch."""

    def __init__(self, port: int, local_ip: str = ACME_IP) -> None:
        self.port = port
        self.local_ip = local_ip
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local_ip, 0))
        self.local_port = self.sock.getsockname()[1]

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def invite(self, **options: object) -> bytes:
        return invite(self.port, local_ip=self.local_ip, local_port=self.local_port, **options)  # type: ignore[arg-type]

    def call(self, **options: object) -> tuple[Response, Response]:
        """An INVITE answered: (its 100, its final), skipping answers to earlier requests (a final retransmitted
        while waiting for an ACK); the final is ACKed."""
        call_id = f"{uuid.uuid4().hex}@test"
        branch = f"z9hG4bK{uuid.uuid4().hex}"
        self.send(self.invite(call_id=call_id, branch=branch, **options))
        answers: list[Response] = []
        while len(answers) < 2:
            answer = self.receive()
            if answer.header("Call-ID") == call_id and answer.data not in [seen.data for seen in answers]:
                answers.append(answer)
        tag = answers[1].header("To").rpartition(";tag=")[2]
        self.send(self.invite(call_id=call_id, branch=branch, method="ACK", to_tag=tag))
        return answers[0], answers[1]

    def receive(self, timeout: float = 5.0) -> Response:
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(65535)
        return parse_response(data)

    def silent(self, seconds: float) -> bool:
        """True when nothing arrives for `seconds`."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recvfrom(65535)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peer_factory() -> Iterator[Callable[..., Peer]]:
    peers: list[Peer] = []

    def make(port: int, local_ip: str = ACME_IP) -> Peer:
        peers.append(Peer(port, local_ip))
        return peers[-1]

    yield make
    for made in peers:
        with contextlib.suppress(OSError):
            made.close()


def contact_values(number: str = NUMBER, cli: str = CLI, local_ip: str = ACME_IP, transport: str = "udp") -> list[str]:
    """The Contact values of the 302 for `number`: Bravo, Alpha, Charlie (its 77# prefix escaped), q descending,
    the CLI as a URI header."""
    return [f"<sip:{number}@b.example:5080?X-CLI={cli}>;q=1.0", f"<sip:{number}@a.example:5060?X-CLI={cli}>;q=0.9",
            f"<sip:77%23{number}@c.example:5060?X-CLI={cli}>;q=0.8"]
