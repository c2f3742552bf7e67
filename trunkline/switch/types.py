"""The engine's values: the call as the SIP server hands it over, and the decision it gets back.

Also the reason phrases of DESIGN.md's reject-codes table, so the SIP server, the simulator and the tests name
one constant each.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from trunkline.contracts.snapshot import (
    Customer,
    CustomerStatus,
    Gateway,
    IngressRoute,
    IpAuth,
    Provider,
    RateRow,
    SipUser,
)
from trunkline.switch.trace import TraceLine

IP_NOT_AUTHORISED = "IP Not Authorised"
UNKNOWN_USER = "Unknown User"
VERIFICATION_REQUIRED = "Verification Required"
NO_ROUTE = "No Route Available"
BLOCKED_BY_DIAL_PLAN = "Blocked by Dial plan"
NO_ROUTES_PRE = "No Routes Available (Pre)"
NO_ROUTES_U = "No Routes Available (U)"
NO_ROUTES_PROFIT = "No Routes Available (Profit Assurance)"
CHANNEL_LIMIT = "Channel Limit Reached"
CPS_LIMIT = "CPS Limit Reached"
INSUFFICIENT_BALANCE = "Insufficient Balance"
RATE_ABOVE_CAP = "Rate Above Cap"
CONNECT_COST_BLOCKED = "Connect Cost Blocked"
CHALLENGE = "Proxy Authentication Required"
STATUS_REASONS = {
    CustomerStatus.INACTIVE: "Account Inactive",
    CustomerStatus.PENDING_APPROVAL: "Account Pending Approval",
    CustomerStatus.PENALTY: "Account Penalty",
}

_ZERO = Decimal(0)


class Digest(NamedTuple):
    """The Authorization/Proxy-Authorization fields of a SIP request (RFC 2617)."""

    realm: str
    nonce: str
    uri: str
    response: str
    method: str = "INVITE"
    qop: str = ""  # "" (RFC 2069 style) or "auth"
    nc: str = ""
    cnonce: str = ""


class Call(NamedTuple):
    source_ip: str
    destination: str
    cli: str
    source_port: int = 5060
    sip_user: str = ""  # "" = identify by source IP
    digest: Digest | None = None  # None with a sip_user = not yet challenged
    pai: str | None = None


class Egress(NamedTuple):
    """One provider to try; it receives `provider.tech_prefix + decision.destination`."""

    provider: Provider
    gateways: tuple[Gateway, ...]
    card_id: int
    rate: RateRow
    cost: Decimal  # per minute
    margin: Decimal  # customer rate - provider rate, per minute


class Decision(NamedTuple):
    accepted: bool
    code: int  # 200 when accepted; else the SIP reject code (407 = challenge)
    reason: str
    trace: tuple[TraceLine, ...]
    customer: Customer | None = None
    auth: IpAuth | SipUser | None = None
    route: IngressRoute | None = None
    rate: RateRow | None = None
    destination: str = ""  # after rewrites and tech-prefix stripping
    cli: str = ""
    pai: str | None = None
    routes: tuple[Egress, ...] = ()
    max_duration: int | None = None  # seconds; None = no limit
    reserve: Decimal = _ZERO  # the first increment's charge the SIP server reserves
    recording: bool = False

    @property
    def challenge(self) -> bool:
        return self.code == 407
