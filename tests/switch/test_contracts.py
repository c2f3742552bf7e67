"""The routing snapshot contract: versioned, frozen, and a JSON file that round-trips exactly."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trunkline.contracts import codec
from trunkline.contracts import money as shared_money
from trunkline.contracts.codec import SnapshotFormatError, SnapshotVersionError
from trunkline.contracts.snapshot import (
    SCHEMA_VERSION,
    AuthKind,
    CardWeight,
    CliDirection,
    CliRule,
    Customer,
    CustomerStatus,
    Gateway,
    IngressRoute,
    IpAuth,
    IpDirection,
    ParameterRewrite,
    Provider,
    RateCard,
    RateRow,
    RateStatus,
    Recording,
    RewriteType,
    RoutingSnapshot,
    SipUser,
    Strategy,
    Transport,
    UseDid,
)
from trunkline.core import money as core_money

D = Decimal

SNAPSHOT = RoutingSnapshot(
    revision=42,
    generated_at=datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC),
    rate_cards=(
        RateCard(1, "Retail UK", "GBP", (
            RateRow("44", D("0.010000"), "UK", D("0"), 60, 60, 0),
            RateRow("441481", D("0.0512"), "Guernsey", D("0.015"), 30, 6, 2),
            RateRow("4420", D("0.02"), "London", status=RateStatus.BLOCKED),
        )),
        RateCard(2, "Carrier A", "USD", (), provider_id=7),
    ),
    customers=(Customer(10, "Acme", CustomerStatus.PENALTY, D("20"), 30, 5, True, False, True),),
    ip_auths=(IpAuth(5, 10, "192.0.2.0/24", IpDirection.SENDS, 10, 2, "123#", True),),
    sip_users=(SipUser(6, 10, "alice", "0" * 32, 2, 1, ("198.51.100.7", "2001:db8::/32")),),
    providers=(Provider(7, "Carrier A", (Gateway("gw1.example", 5080, Transport.TLS), Gateway("192.0.2.9"))),),
    ingress_routes=(
        IngressRoute(3, 10, 1, "123#", "^44", capped_rate=D("0.5"), lock=(2,), strategy=Strategy.WEIGHTED,
                     weights=(CardWeight(2, 3),), recording=Recording.SAMPLE_5),
        IngressRoute(4, 10, 1, enabled=False),
    ),
    cli_rules=(
        CliRule(1, 10, cli=".*", pai="^9(?<paid>.*)$", rewrite_pai="44$<paid>"),
        CliRule(2, 10, cli="111111111111", forced=True, direction=CliDirection.INBOUND,
                dialed_number_match="^123#", use_did=UseDid.DISABLED),
        CliRule(3, 11, use_did=UseDid.FILTER),
    ),
    parameter_rewrites=(
        ParameterRewrite(1, AuthKind.IP, 5, RewriteType.DESTINATION, "0", "44", 1),
        ParameterRewrite(2, AuthKind.SIP_USER, 6, RewriteType.CLI, r"^\+(\d+)$", "$1", 2),
    ),
)


def test_snapshot_round_trips_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    codec.write_snapshot(SNAPSHOT, path)
    loaded = codec.read_snapshot(path)
    assert loaded == SNAPSHOT
    # Decimal equality ignores trailing zeros; the file keeps them too.
    assert [str(row.rate) for row in loaded.rate_cards[0].rows] == ["0.010000", "0.0512", "0.02"]
    assert loaded.generated_at.utcoffset() is not None
    assert [entry.name for entry in tmp_path.iterdir()] == ["snapshot.json"]  # no temporary file left behind


def test_rewriting_a_snapshot_file_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    codec.write_snapshot(SNAPSHOT, path)
    codec.write_snapshot(dataclasses.replace(SNAPSHOT, revision=43), path)
    assert codec.read_snapshot(path).revision == 43
    assert len(list(tmp_path.iterdir())) == 1


def test_the_file_format() -> None:
    data = json.loads(codec.dumps(SNAPSHOT))
    assert data["schema_version"] == SCHEMA_VERSION == 3
    # Schema v3: balances move with every call, so they come through the switch's Counters, not the file.
    assert data["customers"]["fields"] == ["id", "name", "status", "debit_limit", "channels", "cps",
                                           "email_verification", "mobile_verification", "email_verified",
                                           "mobile_verified"]
    assert data["generated_at"] == "2026-11-28T09:30:15.123456+00:00"
    rows = data["rate_cards"]["rows"][0][3]
    assert rows["fields"] == ["prefix", "rate", "name", "connection_fee", "mcd", "pulse", "grace", "status"]
    assert rows["rows"][1] == ["441481", "0.0512", "Guernsey", "0.015", 30, 6, 2, "active"]  # money as strings
    assert data["cli_rules"]["rows"][1][7] == "inbound"


def encoded() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(codec.dumps(SNAPSHOT))
    return result


def rate_rows(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = data["rate_cards"]["rows"][0][3]
    return result


def test_columns_may_come_in_any_order() -> None:
    data = encoded()
    table = rate_rows(data)
    table["fields"] = list(reversed(table["fields"]))
    table["rows"] = [list(reversed(row)) for row in table["rows"]]
    assert codec.snapshot_from_dict(data) == SNAPSHOT


def test_a_snapshot_of_another_schema_version_is_refused() -> None:
    data = encoded()
    data["schema_version"] = SCHEMA_VERSION + 1
    expected = f"snapshot schema version {SCHEMA_VERSION + 1}; this code reads version {SCHEMA_VERSION}"
    with pytest.raises(SnapshotVersionError, match=expected):
        codec.snapshot_from_dict(data)
    data["schema_version"] = 2  # a file from before balances left the snapshot
    with pytest.raises(SnapshotVersionError, match="snapshot schema version 2; this code reads version 3"):
        codec.snapshot_from_dict(data)
    del data["schema_version"]
    with pytest.raises(SnapshotVersionError, match="version None"):
        codec.snapshot_from_dict(data)


def corrupt_rate(data: dict[str, Any]) -> None:
    rate_rows(data)["rows"][1][1] = 0.0512  # a float: money must never pass through one


def corrupt_mcd(data: dict[str, Any]) -> None:
    rate_rows(data)["rows"][0][4] = True


def corrupt_status(data: dict[str, Any]) -> None:
    rate_rows(data)["rows"][2][7] = "paused"


def corrupt_columns(data: dict[str, Any]) -> None:
    rate_rows(data)["fields"][0] = "dial_prefix"


def corrupt_row_length(data: dict[str, Any]) -> None:
    rate_rows(data)["rows"][0].pop()


def corrupt_pulse(data: dict[str, Any]) -> None:
    rate_rows(data)["rows"][0][5] = 0


def corrupt_datetime(data: dict[str, Any]) -> None:
    data["generated_at"] = "2026-11-28T09:30:15"


def corrupt_decimal(data: dict[str, Any]) -> None:
    rate_rows(data)["rows"][0][1] = "Infinity"


def corrupt_whitelist(data: dict[str, Any]) -> None:
    data["sip_users"]["rows"][0][6] = "198.51.100.7"  # a list of addresses, not one string


def corrupt_capped_rate(data: dict[str, Any]) -> None:
    data["ingress_routes"]["rows"][1][11] = 0.5  # a float: money must stay a decimal string or null


def corrupt_top_level(data: dict[str, Any]) -> None:
    data["extra"] = 1


@pytest.mark.parametrize(("corrupt", "message"), [
    (corrupt_rate, "RateRow row 1, rate: a decimal is written as a string, got 0.0512"),
    (corrupt_mcd, "RateRow row 0, mcd: expected int, got True"),
    (corrupt_status, "RateRow row 2, status: 'paused' is not a valid RateStatus"),
    (corrupt_columns, r"RateRow table columns \['dial_prefix'"),
    (corrupt_row_length, "RateRow row 0: expected a list of 8 values"),
    (corrupt_pulse, "RateRow row 0: RateRow 44: pulse must be >= 1"),
    (corrupt_datetime, "RoutingSnapshot.generated_at: datetime without a UTC offset"),
    (corrupt_decimal, "RateRow row 0, rate: not a finite decimal: 'Infinity'"),
    (corrupt_whitelist, "SipUser row 0, ip_whitelist: expected a list"),
    (corrupt_capped_rate, "IngressRoute row 1, capped_rate: a decimal is written as a string, got 0.5"),
    (corrupt_top_level, r"RoutingSnapshot fields differ: missing \[\], unknown \['extra'\]"),
])
def test_a_damaged_snapshot_is_refused_saying_where(corrupt: Any, message: str) -> None:
    data = encoded()
    corrupt(data)
    with pytest.raises(SnapshotFormatError, match=message):
        codec.snapshot_from_dict(data)


@pytest.mark.parametrize("text", ["", "{", "[]", "null"])
def test_not_a_snapshot_at_all(text: str) -> None:
    with pytest.raises(SnapshotFormatError):
        codec.loads(text)


def test_a_snapshot_time_must_say_its_zone() -> None:
    with pytest.raises(ValueError, match="needs a timezone"):
        RoutingSnapshot(1, datetime(2026, 11, 28, 9, 30))  # noqa: DTZ001 - the mistake under test


def test_records_are_frozen() -> None:
    row = SNAPSHOT.rate_cards[0].rows[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.rate = D("1")  # type: ignore[misc]
    assert not hasattr(row, "__dict__")  # slotted


def test_core_money_uses_the_shared_constants() -> None:
    assert core_money.MONEY_PLACES is shared_money.MONEY_PLACES == 6
    assert core_money.RATE_PLACES is shared_money.RATE_PLACES == 6
    assert core_money.MONEY_MAX_DIGITS is shared_money.MONEY_MAX_DIGITS
    assert core_money.MONEY_QUANTUM is shared_money.MONEY_QUANTUM == D("0.000001")
    assert core_money.quantize_money is shared_money.quantize_money
    assert str(core_money.quantize_money(D("0.0000005"))) == "0.000001"
