"""A real HTTP server standing in for Kamailio's JSON-RPC (jsonrpcs over xhttp): it records each request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class KamailioRpc:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.content_types: list[str] = []
        self.fail_with: str | None = None  # answer a JSON-RPC error with this message
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
                    failure = rpc.fail_with
                if failure is None:
                    answer = {"jsonrpc": "2.0", "result": {}, "id": request.get("id")}
                else:  # Kamailio answers an error in the body with HTTP 200
                    answer = {"jsonrpc": "2.0", "error": {"code": 404, "message": failure}, "id": request.get("id")}
                data = json.dumps(answer).encode()
                self.send_response(200)
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
