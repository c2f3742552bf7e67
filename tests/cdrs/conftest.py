"""Kamailio's JSON-RPC for End Calls: a recording HTTP server standing in for it (`kamailio_rpc`), and a real
Kamailio 5.6 with the dialog and jsonrpcs modules (`real_kamailio`; skipped when the binary is missing unless
TRUNKLINE_REQUIRE_SIP=1)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


class KamailioRpc:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.content_types: list[str] = []
        self.fail_with: str | None = None  # answer a JSON-RPC error with this message
        self.fail_status = 200  # and this HTTP status (Kamailio's jsonrpcs uses the fault's code: 404)
        self._lock = threading.Lock()
        rpc = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = json.loads(body)
                with rpc._lock:
                    rpc.requests.append(request)
                    rpc.paths.append(self.path)
                    rpc.content_types.append(self.headers.get("Content-Type", ""))
                    failure, status = rpc.fail_with, rpc.fail_status
                if failure is None:
                    answer = {"jsonrpc": "2.0", "result": {}, "id": request.get("id")}
                    status = 200
                else:
                    answer = {"jsonrpc": "2.0", "error": {"code": 404, "message": failure}, "id": request.get("id")}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/RPC"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kamailio_rpc(settings) -> Iterator[KamailioRpc]:
    """Kamailio's JSON-RPC on a free port, set as KAMAILIO_RPC_URL."""
    rpc = KamailioRpc()
    rpc.start()
    settings.KAMAILIO_RPC_URL = rpc.url
    try:
        yield rpc
    finally:
        rpc.stop()


KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:127.0.0.1:{sip_port}
listen=tcp:127.0.0.1:{rpc_port}
tcp_accept_no_cl=yes
mpath="{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "dialog.so"
loadmodule "xhttp.so"
loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "transport", 1)
modparam("xhttp", "url_match", "^/RPC")
request_route {{
    sl_send_reply("403", "Forbidden");
}}
event_route[xhttp:request] {{
    jsonrpc_dispatch();
}}
"""


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_kamailio(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    """Kamailio on free ports, once it answers JSON-RPC; None when it could not bind them (another test took a port
    between the probe and Kamailio's bind)."""
    rpc_port = _free_port(socket.SOCK_STREAM)
    config = tmp_path / "kamailio.cfg"
    config.write_text(KAMAILIO_CFG.format(sip_port=_free_port(socket.SOCK_DGRAM), rpc_port=rpc_port,
                                          modules=KAMAILIO_MODULES))
    with (tmp_path / "kamailio.log").open("w") as log:
        process = subprocess.Popen([KAMAILIO, "-DD", "-E", "-f", str(config), "-w", str(tmp_path)],
                                   stdout=log, stderr=subprocess.STDOUT)
    request = json.dumps({"jsonrpc": "2.0", "method": "core.version", "id": 0}).encode()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:  # ready once its JSON-RPC answers, not only once its port is bound
            with urllib.request.urlopen(f"http://127.0.0.1:{rpc_port}/RPC", data=request, timeout=5) as answer:
                answer.read()
            return process, rpc_port
        except urllib.error.HTTPError:  # an answer all the same
            return process, rpc_port
        except OSError:
            time.sleep(0.05)
    _stop(process)
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def real_kamailio(settings, tmp_path: Path) -> Iterator[str]:
    """A real Kamailio answering JSON-RPC on a free port (set as KAMAILIO_RPC_URL), holding no dialog."""
    if not os.path.exists(KAMAILIO):
        if os.environ.get("TRUNKLINE_REQUIRE_SIP") == "1":
            pytest.fail("kamailio is not installed and TRUNKLINE_REQUIRE_SIP=1")
        pytest.skip("kamailio is not installed")
    for _ in range(3):
        started = _start_kamailio(tmp_path)
        if started is not None:
            break
    else:
        pytest.fail(f"Kamailio did not start: {(tmp_path / 'kamailio.log').read_text()[-2000:]}")
    process, rpc_port = started
    settings.KAMAILIO_RPC_URL = f"http://127.0.0.1:{rpc_port}/RPC"
    try:
        yield settings.KAMAILIO_RPC_URL
    finally:
        _stop(process)
