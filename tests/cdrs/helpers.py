"""Spool lines as the switch writes them (contracts.calls), for the loader's and the API's tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from trunkline.contracts.calls import SPOOL_DIR, SPOOL_VERSION
from trunkline.switch.spool import encode_line

T0 = 1_796_000_000.0  # 2026-11-30T00:53:20Z: an attempt's time; events follow it
NODE = "sw1"


def event(kind: str, call_id: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"v": SPOOL_VERSION, "kind": kind, "call_id": call_id, "node": NODE, "at": at, **fields}


def attempt(call_id: str, at: float = T0, *, customer: int | None = None, route: int | None = None,
            providers: list[dict[str, Any]] | None = None, code: int = 200, reason: str = "Routed",
            expires_at: float | None = None, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customer": customer, "auth_kind": "ip", "auth_id": 7, "source_ip": "203.0.113.5", "source_port": 5060,
        # Decided over HTTP for Kamailio, whose dialog events follow (a SIP attempt is the redirect server's 302).
        "transport": "http", "cli_in": "441234567890", "dst_in": "9#447911123456", "cli": "441234567890",
        "dst": "77447911123456", "pai": None, "tech_prefix": "9#", "route": route, "code": code,
        "reason": reason,
        "rate": {"card": 3, "prefix": "447", "name": "UK Mobile", "rate": "0.050000",
                 "connection_fee": "0.000000", "grace": 0, "mcd": 6, "pulse": 6} if code == 200 else None,
        "providers": providers if providers is not None else [],
        "max_duration": 1200 if code == 200 else None, "reserve": "0.005000", "recording": False,
        "expires_at": (at + 1260 if expires_at is None else expires_at) if code == 200 else None,
    }
    data.update(fields)
    return event("attempt", call_id, at, **data)


def spool_dir() -> Path:
    return Path(settings.VAR_DIR) / SPOOL_DIR


def write_spool(name: str, lines: Iterable[Mapping[str, Any]], *, tail: str = "", append: bool = False) -> Path:
    """Lines as FileSpool writes them (compact JSON, one per line), plus an unfinished `tail` if given."""
    directory = spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    text = "".join(encode_line(line) for line in lines) + tail
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
