"""A local mail and SMS sink for the demo and for trying the product: an SMTP server and a Twilio-compatible SMS
API on 127.0.0.1 that accept every message and write it to a folder (var/outbox/) instead of delivering it.

`make run` starts it (`trunkline outbox`) and the demo data points Setup > Settings at it, so Send Email & SMS
works out of the box. No Django here: the command passes the folder and ports.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
SMTP_PORT = 8025
SMS_PORT = 8026
# What the demo saves in Setup > Settings to send through the outbox.
SMS_ACCOUNT_SID = "ACoutbox"
SMS_AUTH_TOKEN = "outbox"
SMS_PATH_PREFIX = "/2010-04-01/Accounts/"
# The largest SMS request body read: a 1,600-character body form-encoded (up to 9 bytes a character as %XX of
# UTF-8) with To and From fits with room to spare; a larger or unreadable Content-Length is refused unread.
SMS_MAX_REQUEST = 64 * 1024


class Outbox:
    """Writes each message it receives to `folder` as one file and tells `report` (a line for the terminal)."""

    def __init__(self, folder: Path, *, smtp_port: int = SMTP_PORT, sms_port: int = SMS_PORT,
                 report: Callable[[str], None] = lambda line: None) -> None:
        self.folder = folder
        self.report = report
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._smtp = _Controller(_SMTPHandler(self), hostname=HOST, port=smtp_port)
        self._http = ThreadingHTTPServer((HOST, sms_port), _SMSHandler)
        self._http.outbox = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._http.serve_forever, name="outbox-sms", daemon=True)

    @property
    def smtp_port(self) -> int:
        return self._smtp.port

    @property
    def sms_url(self) -> str:
        return f"http://{HOST}:{self._http.server_address[1]}"

    def start(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._smtp.start()
        self._thread.start()

    def stop(self) -> None:
        self._smtp.stop()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def write(self, kind: str, suffix: str, content: bytes, summary: str) -> Path:
        """Keep one message as `<UTC time>-<number>-<kind><suffix>`, in arrival order; says where."""
        with self._lock:
            number = next(self._numbers)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.folder / f"{stamp}-{number:04d}-{kind}{suffix}"
        path.write_bytes(content)
        self.report(f"Outbox: {summary} -> {path}")
        return path


class _Controller(Controller):
    """aiosmtpd's Controller that learns the port the kernel chose when asked for port 0 (tests)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _SMTPHandler:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        raw = (content if isinstance(content, bytes) else content.encode()).replace(b"\r\n", b"\n")  # a local file
        subject = next((line[len(b"Subject:"):].strip().decode(errors="replace") for line in raw.splitlines()
                        if line.lower().startswith(b"subject:")), "")
        self.outbox.write("email", ".eml", raw, f"email to {', '.join(envelope.rcpt_tos)}, {subject!r}")
        return "250 Kept in the outbox"


class _SMSHandler(BaseHTTPRequestHandler):
    """Twilio's Messages API as Trunkline uses it: POST .../Accounts/{sid}/Messages.json with To, From, Body."""

    # Seconds a client may stay silent: one that declares a body and never sends it frees its thread.
    timeout = 30

    def do_POST(self) -> None:
        outbox: Outbox = self.server.outbox  # type: ignore[attr-defined]
        if not (self.path.startswith(SMS_PATH_PREFIX) and self.path.endswith("/Messages.json")):
            self._answer(HTTPStatus.NOT_FOUND, {"code": 20404, "message": "The requested resource was not found"})
            return
        declared = self.headers.get("Content-Length") or "0"
        if not (declared.isascii() and declared.isdigit()):
            self._answer(HTTPStatus.BAD_REQUEST, {"code": 20001, "message": "Content-Length is not a number"})
            return
        length = int(declared)
        if length > SMS_MAX_REQUEST:
            self.close_connection = True  # the body is left unread
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                         {"code": 20001, "message": f"The request is larger than {SMS_MAX_REQUEST:,} bytes"})
            return
        form = dict(parse_qsl(self.rfile.read(length).decode(errors="replace"), keep_blank_values=True))
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        text = f"To: {to}\nFrom: {sender}\n\n{body}\n"
        outbox.write("sms", ".txt", text.encode(), f"SMS to {to}")
        self._answer(HTTPStatus.CREATED, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued", "to": to,
                                          "from": sender, "body": body})

    def _answer(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the outbox reports each message itself
