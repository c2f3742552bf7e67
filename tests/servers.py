"""Real servers for tests that send email and SMS: nothing is mocked, the product talks to a socket.

Fixtures (registered for every test by `pytest_plugins` in tests/conftest.py; browser tests use them too):

- `smtp_server`: an aiosmtpd SMTP server on 127.0.0.1 and a kernel-chosen free port. Every message it accepts
  is in `smtp_server.messages` as a ReceivedMail (envelope sender and recipients, parsed From/To/subject/body).
  `smtp_server.reject_next(n)` refuses the next n messages with a 5xx reply; `wait_for(n)` waits for mail sent
  from another thread (a live server, a worker).
- `smtp_settings`: Setup > Settings saved to send through `smtp_server` (no TLS, no login), from EMAIL_FROM.
- `sms_server`: a Twilio-compatible HTTP API on 127.0.0.1 (a free port). It records every request in
  `sms_server.requests` (path, headers, basic-auth credentials, form fields) and answers 201 {"sid": "SM..."}
  like Twilio; `sms_server.fail_next(n)` makes the next n requests fail (400, Twilio error 21211 by default).
- `sms_settings`: Setup > Settings saved to send SMS through `sms_server` with SMS_ACCOUNT_SID, SMS_AUTH_TOKEN
  and SMS_FROM.
- `closed_port`: a loopback port nobody listens on ("the SMTP server is down").

The two settings fixtures each write only their own fields, so a test can use both.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from trunkline.core.context import change_context
from trunkline.core.models import SystemSettings

HOST = "127.0.0.1"
EMAIL_FROM = "noc@carrier.test"
COMPANY_NAME = "Test Carrier Ltd"
SMS_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
SMS_AUTH_TOKEN = "test-auth-token-5f2b7c9d"
SMS_FROM = "+15005550006"
SMS_PATH = f"/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json"
TWILIO_INVALID_TO = 21211
WAIT_SECONDS = 5.0


#
# SMTP
#


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server received it."""

    sender: str  # the envelope's MAIL FROM
    recipients: list[str]  # the envelope's RCPT TO addresses
    message: EmailMessage

    @property
    def header_from(self) -> str:
        return str(self.message["From"])

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """The plain-text body with the wire's CRLF line ends as \\n, as the sender wrote it."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""


class _SMTPController(Controller):
    """aiosmtpd's Controller bound to port 0: the kernel picks a free port, so no two servers ever collide."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPServer:
    """A real SMTP server in a thread that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self._rejections: list[str] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._controller = _SMTPController(self, hostname=HOST, port=0)

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def reject_next(self, count: int = 1, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        """Refuse the next `count` messages with `reply` (the client sees an SMTP error)."""
        with self._lock:
            self._rejections.extend([reply] * count)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def to(self, address: str) -> list[ReceivedMail]:
        """The messages whose envelope went to `address`."""
        with self._lock:
            return [mail for mail in self.messages if address in mail.recipients]

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[ReceivedMail]:
        """Wait until at least `count` messages arrived (sent from another thread); fails the test on timeout."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                pytest.fail(f"Expected {count} emails within {timeout} s; {len(self.messages)} arrived.")
            return list(self.messages)

    # aiosmtpd handler hook, run in the server's thread
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._arrived:
            if self._rejections:
                return self._rejections.pop(0)
            content = envelope.original_content or envelope.content
            raw = content if isinstance(content, bytes) else content.encode()
            message = email.message_from_bytes(raw, policy=email.policy.default)
            self.messages.append(ReceivedMail(sender=envelope.mail_from, recipients=list(envelope.rcpt_tos),
                                              message=message))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(db, smtp_server: SMTPServer) -> SystemSettings:
    """Settings that send email through `smtp_server`, from EMAIL_FROM, with COMPANY_NAME as the sender name."""
    return save_settings(smtp_host=HOST, smtp_port=smtp_server.port, smtp_security=SystemSettings.SmtpSecurity.NONE,
                         smtp_username="", smtp_password="", email_from=EMAIL_FROM, company_name=COMPANY_NAME)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


#
# SMS (a Twilio-compatible REST API)
#


@dataclass
class SMSRequest:
    """One HTTP request as the SMS provider received it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    form: dict[str, str] = field(default_factory=dict)  # the url-encoded fields (To, From, Body)
    status: int | None = None
    response: dict[str, Any] | None = None  # the JSON answered: {"sid": "SM..."} when accepted

    @property
    def auth(self) -> tuple[str, str] | None:
        """The HTTP basic-auth (user, password): Twilio's (account SID, auth token)."""
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user, password


@dataclass
class _Failure:
    status: int
    code: int
    message: str | None  # None: Twilio's "The 'To' number ... is not a valid phone number." for the request's To


class SMSProviderServer:
    """A local HTTP server speaking the part of Twilio's Messages API that Trunkline uses.

    POST {url}/2010-04-01/Accounts/{sid}/Messages.json with basic auth (sid, token) and form fields To, From,
    Body answers 201 {"sid": "SM...", "status": "queued", ...}. Wrong credentials answer 401 and an unknown path
    404, as Twilio does; every request is recorded, answered or not.
    """

    def __init__(self, account_sid: str = SMS_ACCOUNT_SID, auth_token: str = SMS_AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[SMSRequest] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((HOST, 0), _SMSHandler)
        self._httpd.provider = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sms-provider", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def sent(self) -> list[SMSRequest]:
        """The requests answered 201 (messages the provider accepted)."""
        with self._lock:
            return [request for request in self.requests if request.status == HTTPStatus.CREATED]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def fail_next(self, count: int = 1, *, status: int = 400, code: int = TWILIO_INVALID_TO,
                  message: str | None = None) -> None:
        """Answer the next `count` requests with a Twilio error: {"code": code, "message": message, ...}."""
        with self._lock:
            self._failures.extend(_Failure(status, code, message) for _ in range(count))

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[SMSRequest]:
        """Wait until at least `count` requests arrived; fails the test on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        pytest.fail(f"Expected {count} SMS requests within {timeout} s; {len(self.requests)} arrived.")

    def answer(self, request: SMSRequest) -> dict[str, Any]:
        """Record the request, set its status, and return the JSON to send back."""
        with self._lock:
            self.requests.append(request)
            request.status, request.response = self._reply(request)
            return request.response

    def _reply(self, request: SMSRequest) -> tuple[int, dict[str, Any]]:  # called holding the lock
        expected_path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or request.path != expected_path:
            return 404, {"code": 20404, "message": f"The requested resource {request.path} was not found",
                         "status": 404}
        if request.auth != (self.account_sid, self.auth_token):
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if self._failures:
            failure = self._failures.pop(0)
            to = request.form.get("To", "")
            text = failure.message or f"The 'To' number {to} is not a valid phone number."
            return failure.status, {"code": failure.code, "message": text, "status": failure.status,
                                    "more_info": f"https://www.twilio.com/docs/errors/{failure.code}"}
        return 201, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued", "account_sid": self.account_sid,
                     "to": request.form.get("To"), "from": request.form.get("From"),
                     "body": request.form.get("Body")}


class _SMSHandler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        form = dict(parse_qsl(body.decode(), keep_blank_values=True)) \
            if self.headers.get_content_type() == "application/x-www-form-urlencoded" else {}
        request = SMSRequest(method=self.command, path=self.path,
                             headers={name.lower(): value for name, value in self.headers.items()},
                             body=body, form=form)
        data = json.dumps(self.server.provider.answer(request)).encode()  # type: ignore[attr-defined]
        self.send_response(request.status or 500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the recorded requests are the log


@pytest.fixture
def sms_server() -> Iterator[SMSProviderServer]:
    server = SMSProviderServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sms_settings(db, sms_server: SMSProviderServer) -> SystemSettings:
    """Settings that send SMS through `sms_server` as SMS_ACCOUNT_SID / SMS_AUTH_TOKEN, from SMS_FROM."""
    return save_settings(sms_api_url=sms_server.url, sms_account_sid=SMS_ACCOUNT_SID, sms_auth_token=SMS_AUTH_TOKEN,
                         sms_from=SMS_FROM)


def save_settings(**fields: Any) -> SystemSettings:
    """Update Setup > Settings with `fields`, keeping the others (a test's setup write, audit-logged as such)."""
    with change_context(source="test"):
        settings = SystemSettings.load()
        for name, value in fields.items():
            setattr(settings, name, value)
        settings.save()
    return settings
