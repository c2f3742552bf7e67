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
SCHEMA_VERSION = 1

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
    id: int
    name: str
    currency: str
    rows: tuple[RateRow, ...]


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
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.generated_at.utcoffset() is None:  # all times are UTC (DESIGN.md); a naive one is ambiguous
            raise ValueError("RoutingSnapshot.generated_at needs a timezone (UTC)")
