"""What the Dialogs lists and the Latest Calls tab show per call: one row object per record, its texts worked out
here (durations, authentication, the attempts with their providers' names) so the templates only lay them out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from trunkline.cdrs.choices import CallState
from trunkline.cdrs.models import CallRecord
from trunkline.routing.models import Provider
from trunkline.sipauth.models import IpAuth, SipUser


def duration_text(seconds: int | None) -> str:
    """Seconds as a clock reads: 0:42, 12:05, 1:02:03 ("" when unknown)."""
    if seconds is None:
        return ""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def ms_text(milliseconds: int | None) -> str:
    """A post-dial delay in seconds to the hundredth: 1.25 s."""
    return "" if milliseconds is None else f"{milliseconds / 1000:.2f} s"


# The state badges: answered calls are up, the others still ringing (or just routed).
STATE_BADGES = {CallState.ANSWERED: "ok", CallState.RINGING: "wait", CallState.ROUTED: "wait"}


@dataclass(frozen=True)
class DialogRow:
    record: CallRecord
    customer: str
    provider: str
    state: str
    state_badge: str
    duration: str  # since the answer; "" while not answered
    endable: bool  # the edge reported the dialog (at the answer): End Calls can name it

    @property
    def pk(self) -> int:
        return self.record.pk


def dialog_rows(records: Iterable[CallRecord], now: datetime) -> list[DialogRow]:
    rows = []
    for record in records:
        answered = record.answered_at
        rows.append(DialogRow(
            record=record,
            customer=record.customer.name if record.customer else record.customer_name,
            provider=record.provider.name if record.provider else record.provider_name,
            state=record.get_state_display(),
            state_badge=STATE_BADGES.get(CallState(record.state), "off"),
            duration=duration_text(int((now - answered).total_seconds())) if answered else "",
            endable=record.dialog_h_entry is not None and record.dialog_h_id is not None,
        ))
    return rows


@dataclass(frozen=True)
class AttemptRow:
    position: int
    provider: str
    gateway: str
    code: int | None
    reason: str


@dataclass(frozen=True)
class CallRow:
    record: CallRecord
    authentication: str
    duration: str
    pdd: str
    attempts: list[AttemptRow]

    @property
    def pk(self) -> int:
        return self.record.pk


def _authentication(record: CallRecord, ips: dict[int, str], users: dict[int, str]) -> str:
    """How the customer was identified: its IP-auth entry or SIP user, by what an operator recognises."""
    if record.auth_kind == "ip":
        return f"IP {ips.get(record.auth_id or 0, record.source_ip)}"
    if record.auth_kind == "sip_user":
        return f"SIP user {users.get(record.auth_id or 0, f'#{record.auth_id}')}"
    return ""


def call_rows(records: Iterable[CallRecord]) -> list[CallRow]:
    """Rows for Latest Calls, with the names of the auth entries and of every provider tried, read in three
    queries for the whole page whatever its length."""
    records = list(records)
    ip_ids = {r.auth_id for r in records if r.auth_kind == "ip" and r.auth_id}
    user_ids = {r.auth_id for r in records if r.auth_kind == "sip_user" and r.auth_id}
    provider_ids = {a.get("provider") for r in records for a in r.attempts if isinstance(a, dict)} - {None}
    ips = {pk: str(ip) for pk, ip in IpAuth.objects.filter(pk__in=ip_ids).values_list("pk", "ip")} if ip_ids else {}
    users = dict(SipUser.objects.filter(pk__in=user_ids).values_list("pk", "username")) if user_ids else {}
    providers = dict(Provider.objects.filter(pk__in=provider_ids).values_list("pk", "name")) if provider_ids else {}
    rows = []
    for record in records:
        attempts = [
            AttemptRow(position=index, provider=providers.get(attempt.get("provider"), "")
                       or (f"Provider #{attempt['provider']}" if attempt.get("provider") else "Unknown gateway"),
                       gateway=attempt.get("gateway") or "", code=attempt.get("code"),
                       reason=attempt.get("reason") or "")
            for index, attempt in enumerate(record.attempts, start=1) if isinstance(attempt, dict)
        ]
        rows.append(CallRow(record=record, authentication=_authentication(record, ips, users),
                            duration=duration_text(record.duration), pdd=ms_text(record.pdd_ms), attempts=attempts))
    return rows
