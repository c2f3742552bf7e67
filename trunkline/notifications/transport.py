"""Sending one email (SMTP) or one SMS (a Twilio-compatible REST API). No Django models here: callers pass the
configuration, so these work the same from a request, a job or a test.
"""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

SMTP_TIMEOUT = 30
SMS_TIMEOUT = 30


class DeliveryError(Exception):
    """The server or provider refused the message; the text says why, for the delivery log."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none, starttls, tls
    username: str
    password: str
    sender: str
    sender_name: str = ""


@dataclass(frozen=True)
class SmsConfig:
    api_url: str
    account_sid: str
    auth_token: str
    sender: str


def send_email(config: SmtpConfig, *, to: str, subject: str, body: str) -> str:
    """Send one plain-text email; returns its Message-ID."""
    message = EmailMessage()
    try:
        message["From"] = formataddr((config.sender_name, config.sender)) if config.sender_name else config.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
        message.set_content(body)
    except ValueError as error:
        # A header holding a line break ("Header values may not contain linefeed or carriage return characters"):
        # this message cannot be sent, which is the caller's to log, like a refusal by the server.
        raise DeliveryError(f"The email could not be written: {error}") from error
    try:
        if config.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=SMTP_TIMEOUT,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT)
        with client:
            if config.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config.username:
                client.login(config.username, config.password)
            client.send_message(message, from_addr=config.sender, to_addrs=[to])
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP {config.host}:{config.port}: {_smtp_reason(error)}") from error
    return message["Message-ID"]


def _smtp_reason(error: Exception) -> str:
    """The server's own words ("550 5.1.1 Mailbox unavailable"), not Python's repr of bytes."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{to}: {code} {reply.decode(errors='replace')}"
                         for to, (code, reply) in error.recipients.items())
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"{error.smtp_code} {reply}"
    return str(error)


def sms_endpoint(config: SmsConfig) -> str:
    return f"{config.api_url.rstrip('/')}/2010-04-01/Accounts/{urllib.parse.quote(config.account_sid)}/Messages.json"


def send_sms(config: SmsConfig, *, to: str, body: str) -> str:
    """Send one SMS the way Twilio's API takes it (form fields To, From, Body; basic auth SID:token).
    Returns the provider's message id (sid)."""
    data = urllib.parse.urlencode({"To": to, "From": config.sender, "Body": body}).encode()
    credentials = base64.b64encode(f"{config.account_sid}:{config.auth_token}".encode()).decode()
    request = urllib.request.Request(sms_endpoint(config), data=data, method="POST", headers={
        "Authorization": f"Basic {credentials}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    })
    try:
        with urllib.request.urlopen(request, timeout=SMS_TIMEOUT) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"SMS provider answered {error.code}: {_provider_message(error)}") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DeliveryError(f"SMS provider unreachable: {error}") from error
    return str(answer.get("sid", ""))


def _provider_message(error: urllib.error.HTTPError) -> str:
    """Twilio puts the reason in a JSON body's "message"; fall back to the raw text."""
    raw = error.read().decode(errors="replace")
    try:
        return str(json.loads(raw).get("message") or raw)
    except ValueError:
        return raw.strip() or error.reason
