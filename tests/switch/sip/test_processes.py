"""`trunkline switch` as a process: its command line, the start line, stopping, several processes on one port.

Every test starts its own `trunkline switch` (the module fixture's is not shared here: these tests stop, kill and
reconfigure it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.switch.sip.conftest import (
    ACME_IP,
    CLI,
    LIMITED_IP,
    ROOT,
    Peer,
    Sipp,
    Switch,
    contact_values,
    invite,
    parse_response,
    start_switch,
    switch_command,
    switch_env,
    world,
)
from tests.switch.sip.test_sipp import expected_contacts, passed
from trunkline.contracts.codec import SNAPSHOT_FILE, write_snapshot
from trunkline.contracts.snapshot import Gateway, Provider
from trunkline.switch.config import ConfigError, resolve

REDIS_URL = "redis://127.0.0.1:6379/14"  # a database of its own: the spool stream and counters of these tests


def run(*arguments: str, var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(switch_command(*arguments), cwd=ROOT, env=switch_env(var_dir, **env), capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def switches() -> Iterator[list[Switch]]:
    started: list[Switch] = []
    yield started
    for running in started:
        with contextlib.suppress(Exception):
            running.stop()


# --- the command line --------------------------------------------------------------------------------------


def test_a_missing_routing_file_exits_2_with_the_check_commands_message(tmp_path: Path) -> None:
    result = run("--sip-port", "0", "--http-port", "0", var_dir=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"trunkline switch: no routing file at {tmp_path / SNAPSHOT_FILE}; publish one with "
                             f"`trunkline publish_snapshot` or name it with --routing-file\n")


def test_a_routing_file_that_is_no_snapshot_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = run("--sip-port", "0", "--http-port", "0", "--routing-file", str(bad), var_dir=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"trunkline switch: cannot read the routing file {bad}: "), result.stderr


def test_several_processes_without_shared_counters_are_refused(tmp_path: Path) -> None:
    write_snapshot(world(), tmp_path / SNAPSHOT_FILE)
    result = run("--processes", "2", var_dir=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "trunkline switch: --processes 2 needs COUNTERS_URL (redis://host:port/db): several processes share one set "
        "of channel and CPS counters only through Redis; without it run one process\n")
    result = run(var_dir=tmp_path, SWITCH_PROCESSES="3")
    assert result.returncode == 2 and result.stderr.startswith("trunkline switch: --processes 3 needs COUNTERS_URL")


def test_a_setting_that_is_not_a_port_is_refused(tmp_path: Path) -> None:
    write_snapshot(world(), tmp_path / SNAPSHOT_FILE)
    result = run(var_dir=tmp_path, SWITCH_SIP_PORT="fifty")
    assert (result.returncode, result.stderr) == (2, "trunkline switch: SWITCH_SIP_PORT must be a whole number, "
                                                     "not 'fifty'\n")
    result = run("--http-port", "70000", var_dir=tmp_path)
    assert (result.returncode, result.stderr) == (2, "trunkline switch: --http-port must be between 0 and 65535, "
                                                     "not 70000\n")


def test_options_override_the_environment_which_overrides_the_defaults(tmp_path: Path) -> None:
    environ = {"SWITCH_SIP_PORT": "5070", "SWITCH_HTTP_PORT": "8095", "SWITCH_HOST": "0.0.0.0",
               "SWITCH_NODE": "edge-1", "COUNTERS_URL": "redis://10.0.0.5:6379/2", "SWITCH_PROCESSES": "2"}
    routing = tmp_path / SNAPSHOT_FILE
    config = resolve(host=None, sip_port=None, http_port=None, processes=None, routing_file=routing,
                     var_dir=tmp_path, environ=environ)
    assert (config.host, config.sip_port, config.http_port, config.processes, config.node, config.counters_url) == (
        "0.0.0.0", 5070, 8095, 2, "edge-1", "redis://10.0.0.5:6379/2")
    config = resolve(host="127.0.0.2", sip_port=5080, http_port=8091, processes=4, routing_file=routing,
                     var_dir=tmp_path, environ=environ)
    assert (config.host, config.sip_port, config.http_port, config.processes) == ("127.0.0.2", 5080, 8091, 4)
    config = resolve(host=None, sip_port=None, http_port=None, processes=None, routing_file=routing,
                     var_dir=tmp_path, environ={})
    assert (config.host, config.sip_port, config.http_port, config.processes, config.counters_url) == (
        "127.0.0.1", 5060, 8090, 1, None)
    assert config.node == os.uname().nodename
    with pytest.raises(ConfigError, match=r"^--processes must be between 1 and 64, not 0$"):
        resolve(host=None, sip_port=None, http_port=None, processes=0, routing_file=routing, var_dir=tmp_path,
                environ={})


def test_help_lists_the_options() -> None:
    result = subprocess.run(switch_command("--help"), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--sip-port", "--http-port", "--host", "--processes", "--routing-file", "check"):
        assert option in result.stdout


# --- one process ---------------------------------------------------------------------------------------------


def get_json(port: int, path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        assert response.status == 200
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_it_prints_one_start_line_serves_http_beside_sip_and_stops_on_sigterm(
        tmp_path: Path, switches: list[Switch], peer_factory: Callable[..., Peer]) -> None:
    running = start_switch(tmp_path)
    switches.append(running)
    assert running.start_line == (f"trunkline switch: SIP udp+tcp 127.0.0.1:{running.sip_port}, HTTP "
                                  f"127.0.0.1:{running.http_port}, 1 process, routing revision 7")
    assert get_json(running.http_port, "/health") == {"status": "ok", "node": "test-node", "live": 0}
    peer = peer_factory(running.sip_port)
    peer.send(peer.invite(call_id="before-stop@test"))
    assert [peer.receive().code, peer.receive().code] == [100, 302]
    assert running.stop() == 0
    assert [line["code"] for line in running.attempts("before-stop@test")] == [200]  # flushed on the way out
    assert running.process.stdout is not None


def test_sigint_stops_it_too(tmp_path: Path, switches: list[Switch]) -> None:
    running = start_switch(tmp_path)
    switches.append(running)
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(15) == 0
    running.stopped = True


def test_a_new_routing_file_is_picked_up_without_a_restart(tmp_path: Path, switches: list[Switch],
                                                         peer_factory: Callable[..., Peer]) -> None:
    running = start_switch(tmp_path)
    switches.append(running)
    peer = peer_factory(running.sip_port)
    trying, moved = peer.call()
    assert (trying.code, moved.code, moved.values("Contact")) == (100, 302, contact_values())
    old = world()
    providers = (dataclasses.replace(old.providers[0], gateways=(Gateway("a2.example", 5062),)),
                 *old.providers[1:])
    assert isinstance(providers[0], Provider)
    write_snapshot(dataclasses.replace(old, revision=8, providers=providers), running.routing_file)
    deadline = time.monotonic() + 10
    while True:
        contacts = peer.call()[1].values("Contact")
        if contacts != contact_values() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert contacts == [contact_values()[0], f"<sip:441234567890@a2.example:5062?X-CLI={CLI}>;q=0.9",
                        contact_values()[2]]
    assert "revision 8" in running.log()


# --- several processes -------------------------------------------------------------------------------------


@pytest.fixture
def redis_db() -> Iterator[str]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("TRUNKLINE_REQUIRE_SIP") == "1":
            pytest.fail("Redis is not running on 127.0.0.1:6379", pytrace=False)
        pytest.skip("Redis is not running on 127.0.0.1:6379")

    def clear() -> None:
        keys = list(client.scan_iter("trunkline:*"))
        if keys:
            client.delete(*keys)

    clear()
    yield REDIS_URL
    clear()
    client.close()


def test_two_processes_share_the_traffic_of_one_source_address(tmp_path: Path, switches: list[Switch], sipp: Sipp,
                                                              redis_db: str) -> None:
    running = start_switch(tmp_path / "var", processes=2, env={"COUNTERS_URL": redis_db})
    switches.append(running)
    assert running.start_line.endswith(", 2 processes, routing revision 7")
    calls = 1000
    result = sipp("uac_302.xml", running.sip_port, local_ip=ACME_IP, calls=calls, rate=500,
                  tokens={"CLI": CLI, "CONTACTS": expected_contacts()})
    passed(result, calls)
    stats = running.stats(2)
    assert len(stats) == 2, running.log()
    handled = {pid: figures["handled"] for pid, figures in stats.items()}
    # Every INVITE started one transaction in exactly one of the two processes; each did at least 30 %.
    assert sum(handled.values()) == calls
    assert all(count >= 0.3 * calls for count in handled.values()), handled
    # An ACK read by the other process was handed to the owner of its transaction. One that went astray would
    # leave its final being sent again every 0.5, 1, 2, 4 s: over 4.5 s no process sends any.
    assert sum(figures["handed"] for figures in stats.values()) > 0
    time.sleep(1.0)
    before = running.stats(2)
    time.sleep(4.5)
    after = running.stats(2)
    assert {pid: figures["retransmitted"] for pid, figures in after.items()} == {
        pid: figures["retransmitted"] for pid, figures in before.items()}


def test_with_two_processes_a_retransmitted_invite_is_still_decided_once(
        tmp_path: Path, switches: list[Switch], redis_db: str, peer_factory: Callable[..., Peer]) -> None:
    import redis

    running = start_switch(tmp_path / "var", processes=2, env={"COUNTERS_URL": redis_db})
    switches.append(running)
    peer = peer_factory(running.sip_port)
    calls = 100
    for number in range(calls):  # five copies of each INVITE back to back: both processes read copies at once
        request = peer.invite(call_id=f"again-{number}@test", branch=f"z9hG4bK-again-{number}")
        for _ in range(5):
            peer.send(request)
    finals: dict[str, set[bytes]] = {}
    peer.sock.settimeout(1.5)  # until the 302s, not ACKed, go quiet between timer G's 3.5 s and 7.5 s
    with contextlib.suppress(TimeoutError):
        while True:
            answer = parse_response(peer.sock.recvfrom(65535)[0])
            if answer.code != 100:
                finals.setdefault(answer.header("Call-ID"), set()).add(answer.data)
    # Every call got its 302, the same bytes whichever process sent them (the owner repeats its own answer).
    assert sorted(finals) == sorted(f"again-{number}@test" for number in range(calls))
    assert all(len(answers) == 1 for answers in finals.values())
    client = redis.Redis.from_url(redis_db)
    lines = [json.loads(fields[b"line"]) for _, fields in client.xrange("trunkline:calls")]
    client.close()
    attempts = sorted(line["call_id"] for line in lines if line["kind"] == "attempt")
    assert attempts == sorted(f"again-{number}@test" for number in range(calls))
    stats = running.stats(2)
    assert sum(figures["handled"] for figures in stats.values()) == calls


def test_a_process_that_dies_is_replaced_and_the_port_keeps_answering(tmp_path: Path, switches: list[Switch],
                                                                     redis_db: str,
                                                                     peer_factory: Callable[..., Peer]) -> None:
    running = start_switch(tmp_path / "var", processes=2, env={"COUNTERS_URL": redis_db})
    switches.append(running)
    first = set(running.stats(2))
    assert len(first) == 2
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:
        now = running.stats(2, timeout=2.0)
        if (len(now) == 2 and victim not in now) or time.monotonic() > deadline:
            break
    assert len(now) == 2 and victim not in now and (set(first) - {victim}) <= set(now), (first, now)
    assert f"process {victim} exited (signal 9); starting another" in running.log()
    peer = peer_factory(running.sip_port)
    for _ in range(10):  # whichever process reads it, every INVITE is answered
        assert [answer.code for answer in peer.call()] == [100, 302]
    assert running.stop() == 0


def test_the_processes_stop_when_the_parent_is_killed(tmp_path: Path, switches: list[Switch]) -> None:
    running = start_switch(tmp_path)
    switches.append(running)
    child, = running.stats(1)
    running.process.kill()  # SIGKILL: the parent forwards nothing
    running.process.wait(10)
    running.stopped = True
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, os.WNOHANG)
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()


def test_a_cancel_while_the_decision_is_pending_gets_200_and_the_invite_487(
        tmp_path: Path, switches: list[Switch], redis_db: str) -> None:
    import redis

    # With Redis counters every INVITE is decided in a Task; an INVITE and its CANCEL in one TCP segment are both
    # read before that Task runs, so the CANCEL finds the INVITE still proceeding.
    running = start_switch(tmp_path / "var", env={"COUNTERS_URL": redis_db})
    switches.append(running)
    with socket.create_connection(("127.0.0.1", running.sip_port), timeout=5,
                                  source_address=(LIMITED_IP, 0)) as stream:  # a customer with a channel limit
        local_port = stream.getsockname()[1]
        options = {"local_ip": LIMITED_IP, "local_port": local_port, "transport": "TCP", "call_id": "cancelled@test",
                   "branch": "z9hG4bK-cancelled-1"}
        stream.sendall(invite(running.sip_port, **options) + invite(running.sip_port, method="CANCEL", **options))
        received = b""
        end = b"Content-Length: 0\r\n\r\n"
        while received.count(end) < 3:
            chunk = stream.recv(65536)
            assert chunk, received
            received += chunk
    answers = [parse_response(part + end) for part in received.split(end)[:-1]]
    assert [(answer.code, answer.reason, answer.header("CSeq")) for answer in answers] == [
        (100, "Trying", "1 INVITE"), (200, "OK", "1 CANCEL"), (487, "Request Terminated", "1 INVITE")]
    assert answers[1].header("To") == answers[2].header("To")  # one To tag for both (RFC 3261 §9.2)
    # The routed decision's channel went back at once: a failed line, nothing live.
    client = redis.Redis.from_url(redis_db)
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(fields[b"line"]) for _, fields in client.xrange("trunkline:calls")]
        kinds = [(line["kind"], line.get("code")) for line in lines if line["call_id"] == "cancelled@test"]
        if len(kinds) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    client.close()
    assert kinds == [("attempt", 200), ("failed", 487)]
    assert get_json(running.http_port, "/health")["live"] == 0


def test_the_ports_and_host_come_from_the_environment_without_options(tmp_path: Path) -> None:
    write_snapshot(world(), tmp_path / SNAPSHOT_FILE)
    env = switch_env(tmp_path, SWITCH_SIP_PORT="0", SWITCH_HTTP_PORT="0", SWITCH_HOST="127.0.0.1")
    process = subprocess.Popen(switch_command(), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("trunkline switch: SIP udp+tcp 127.0.0.1:") and line.endswith(
            ", 1 process, routing revision 7\n"), line
        assert ":5060," not in line and ":8090," not in line  # port 0: the kernel's choice, not the defaults
    finally:
        process.terminate()
        assert process.wait(15) == 0
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
