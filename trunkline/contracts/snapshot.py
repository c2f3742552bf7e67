"""The routing snapshot: everything the switch needs to decide a call, as frozen plain data.

The Django side publishes a `RoutingSnapshot` after every relevant change; the switch loads it (see
`trunkline.contracts.codec` for the JSON file form) and compiles it into lookup structures once, so a call
never touches the database. Records mirror the database rows they come from and carry their ids, so the
simulator can name the row that decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# Bumped whenever a field is added, removed or changes meaning: a switch refuses a snapshot of another version
# instead of guessing (see codec.SnapshotVersionError).
# 2: customers, auth entries, providers, ingress routes, card egress/provider links.
# 3: Customer.balance left: balances move with every call, so the switch reads them through its Counters;
#    IpAuth.dial_pattern came.
SCHEMA_VERSION = 3

ZERO = Decimal(0)


class RateStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # a blocked prefix never routes (domain.md §2.2)


class CliDirection(StrEnum):
    OUTBOUND = "outbound"  # termination: the customer dials out
    INBOUND = "inbound"  # origination: DID calls towards the customer


class UseDid(StrEnum):
    DISABLED = "disabled"
    FILTER = "filter"  # the CLI must also be one of the customer's own DIDs (domain.md §3.2)


class RewriteType(StrEnum):
    DESTINATION = "destination"
    CLI = "cli"


class AuthKind(StrEnum):
    IP = "ip"
    SIP_USER = "sip_user"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    PENDING_APPROVAL = "pending_approval"
    PENALTY = "penalty"


class IpDirection(StrEnum):
    SENDS = "sends"  # the customer's switch sends us calls: an entry that identifies callers
    RECEIVES = "receives"


class ProviderStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class Strategy(StrEnum):
    LCR = "lcr"
    REVERSE_LCR = "reverse_lcr"
    WEIGHTED = "weighted"


class Recording(StrEnum):
    DISABLED = "disabled"
    SAMPLE_1 = "1"
    SAMPLE_5 = "5"
    SAMPLE_25 = "25"
    SAMPLE_50 = "50"
    ALWAYS = "always"


def _require_decimal(owner: str, name: str, value: object) -> None:
    # Money is Decimal end to end (DESIGN.md): a float reaching the snapshot is a bug upstream.
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"{owner}.{name} must be a finite Decimal >= 0, not {value!r}")


@dataclass(frozen=True, slots=True)
class RateRow:
    """One prefix of a rate card (domain.md §2.2): per-minute `rate`, increments `mcd`/`pulse`, `grace` seconds."""

    prefix: str
    rate: Decimal
    name: str = ""
    connection_fee: Decimal = ZERO
    mcd: int = 1
    pulse: int = 1
    grace: int = 0
    status: RateStatus = RateStatus.ACTIVE

    def __post_init__(self) -> None:
        _require_decimal("RateRow", "rate", self.rate)
        _require_decimal("RateRow", "connection_fee", self.connection_fee)
        if self.pulse < 1 or self.mcd < 0 or self.grace < 0:
            raise ValueError(f"RateRow {self.prefix}: pulse must be >= 1, mcd and grace >= 0 "
                             f"(got {self.mcd}/{self.pulse}, grace {self.grace})")

    @property
    def blocked(self) -> bool:
        return self.status == RateStatus.BLOCKED


@dataclass(frozen=True, slots=True)
class RateCard:
    """A customer card names its egress candidates (`egress_card_ids`); a provider card its `provider_id`."""

    id: int
    name: str
    currency: str
    rows: tuple[RateRow, ...]
    provider_id: int | None = None
    egress_card_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Customer:
    """The fields of a customer the call decision reads; `*_verified` say whether a contact has verified.

    No balance, reserved amount or live count: those change with every call, so the switch reads them through
    `trunkline.switch.counters.Counters` instead of waiting for the next snapshot.
    """

    id: int
    name: str
    status: CustomerStatus = CustomerStatus.ACTIVE
    debit_limit: Decimal = ZERO
    channels: int = 0  # 0 = unlimited
    cps: int = 0
    email_verification: bool = False  # required?
    mobile_verification: bool = False
    email_verified: bool = False
    mobile_verified: bool = False


@dataclass(frozen=True, slots=True)
class IpAuth:
    id: int
    customer_id: int
    ip: str  # an address or a CIDR network
    direction: IpDirection = IpDirection.SENDS
    channels: int = 0
    cps: int = 0
    tech_prefix: str = ""
    cli_authentication: bool = False  # the CLI rules tell customers sharing this IP apart
    dial_pattern: str = ""  # regex the routed number must match (see decide(), step 5); empty = all


@dataclass(frozen=True, slots=True)
class SipUser:
    id: int
    customer_id: int
    username: str
    ha1: str  # RFC 2617 MD5(username:realm:password), hex; the password is never stored
    channels: int = 0
    cps: int = 0
    ip_whitelist: tuple[str, ...] = ()  # addresses or CIDRs; empty = any source


@dataclass(frozen=True, slots=True)
class Gateway:
    host: str
    port: int = 5060
    transport: Transport = Transport.UDP


@dataclass(frozen=True, slots=True)
class Provider:
    id: int
    name: str
    gateways: tuple[Gateway, ...]
    status: ProviderStatus = ProviderStatus.ACTIVE
    channels: int = 0
    cps: int = 0
    tech_prefix: str = ""  # put in front of the number sent to this provider


@dataclass(frozen=True, slots=True)
class CardWeight:
    card_id: int
    weight: int


@dataclass(frozen=True, slots=True)
class IngressRoute:
    id: int
    customer_id: int
    rate_card_id: int
    tech_prefix: str = ""
    dial_string: str = ""  # regex the (stripped) number must match; empty = all
    enabled: bool = True
    channels: int = 0
    cps: int = 0
    max_duration: int = 0  # seconds; 0 = none
    recording: Recording = Recording.DISABLED
    profit_assurance: bool = False
    capped_rate: Decimal | None = None
    provider_capped_rate: Decimal | None = None
    block_connect_cost: bool = False
    lock: tuple[int, ...] = ()  # provider card ids; non-empty = only these
    exclude: tuple[int, ...] = ()
    strategy: Strategy = Strategy.LCR
    weights: tuple[CardWeight, ...] = ()  # for `weighted`; a card not listed weighs 1


@dataclass(frozen=True, slots=True)
class CliRule:
    """A customer's CLI record (domain.md §3.2). Patterns use the PCRE/JavaScript syntax of the ConnexCS docs."""

    id: int
    customer_id: int
    cli: str = ""  # empty: no condition on the CLI
    pai: str = ""  # empty: no condition on the P-Asserted-ID
    rewrite_cli: str = ""  # empty: the CLI is kept
    rewrite_pai: str = ""  # empty: the P-Asserted-ID is kept
    forced: bool = False
    direction: CliDirection = CliDirection.OUTBOUND
    dialed_number_match: str = ""  # empty: every dialled number
    use_did: UseDid = UseDid.DISABLED


@dataclass(frozen=True, slots=True)
class ParameterRewrite:
    """A rewrite rule of an IP-auth entry or SIP user (domain.md §3.5), applied in ascending `order`."""

    id: int
    auth_kind: AuthKind
    auth_id: int
    type: RewriteType
    match: str  # a plain number is a prefix; anything else is a regular expression
    replace: str
    order: int = 0


@dataclass(frozen=True, slots=True)
class RoutingSnapshot:
    revision: int  # increases with every publication, so a node can tell which one it runs
    generated_at: datetime  # UTC
    rate_cards: tuple[RateCard, ...] = ()
    cli_rules: tuple[CliRule, ...] = ()
    parameter_rewrites: tuple[ParameterRewrite, ...] = ()
    customers: tuple[Customer, ...] = ()
    ip_auths: tuple[IpAuth, ...] = ()
    sip_users: tuple[SipUser, ...] = ()
    providers: tuple[Provider, ...] = ()
    ingress_routes: tuple[IngressRoute, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.generated_at.utcoffset() is None:  # all times are UTC (DESIGN.md); a naive one is ambiguous
            raise ValueError("RoutingSnapshot.generated_at needs a timezone (UTC)")
