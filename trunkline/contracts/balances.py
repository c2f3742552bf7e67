"""balances.json: the customers' money as the switch reads it (DESIGN.md, "Live calls and money in flight").

The worker writes it beside the routing file, atomically (temporary file + rename), after every transaction
that moved a balance (debounced), and with every routing publication. `trunkline switch` reloads it when it
changes. Balances are not in the routing snapshot: a charge must not republish routing.

    {"version": 2,
     "written_at": 1733500000.25,                      # seconds since the epoch, UTC
     "customers": {"26": {"balance": "12.500000",      # the ledger's sum, Decimal string
                          "tax_rate": "20.0000"}},     # percent, added to every call charge
     "charged_through": {"calls-node1-4242-1.jsonl": 183422,          # byte offset loaded AND charged
                         "redis:trunkline:calls": "1733500000123-4"}}  # Redis stream id loaded AND charged

`charged_through` is how a switch knows that the balance already holds a call's charge, so that it can let the
call's reservation go without a window in which the money is neither reserved nor debited: the loader rates
and charges every call record that reached a final state in the same transaction as it advances the spool
cursor, so every call whose final spool line (`ended` / `failed` / `expired`) lies before the cursor is in
the balance. A spool file missing from `charged_through` and gone from the spool directory was loaded in full
(the loader deletes a file only then).

Version 1 (issue 10) was a bare object {"<customer id>": "<balance>"}; readers accept both.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

BALANCES_FILE = "balances.json"  # beside the routing file
BALANCES_VERSION = 2
# The charged_through key of the Redis stream (SPOOL_STREAM), beside the spool files' names.
STREAM_CURSOR_PREFIX = "redis:"


class Balances(NamedTuple):
    """balances.json as read: balances and tax rates by customer id, and the spool positions charged."""

    balances: dict[int, Decimal]
    tax_rates: dict[int, Decimal]
    charged_through: dict[str, int | str]  # file name -> byte offset; "redis:<stream>" -> entry id
    written_at: float | None


def _decimal(value: object, what: str) -> Decimal:
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ValueError(f"{what}: expected a decimal string, not {value!r}")
    return amount


def _customer(key: object) -> int:
    try:
        return int(str(key))
    except ValueError:
        raise ValueError(f"customer {key!r}: expected an id") from None


def parse_balances(data: object) -> Balances:
    """Version 2, or version 1's bare object; ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    if "version" not in data:  # version 1
        return Balances({_customer(key): _decimal(value, f"customer {key!r}") for key, value in data.items()}, {},
                        {}, None)
    if data["version"] != BALANCES_VERSION:
        raise ValueError(f"version {data['version']!r} is not {BALANCES_VERSION}")
    customers, charged, written_at = data.get("customers"), data.get("charged_through", {}), data.get("written_at")
    if not isinstance(customers, dict) or not isinstance(charged, dict):
        raise ValueError("customers and charged_through must be objects")
    balances: dict[int, Decimal] = {}
    taxes: dict[int, Decimal] = {}
    for key, entry in customers.items():
        if not isinstance(entry, dict):
            raise ValueError(f"customer {key!r}: expected an object")
        customer = _customer(key)
        balances[customer] = _decimal(entry.get("balance"), f"customer {key!r}")
        taxes[customer] = _decimal(entry.get("tax_rate", "0"), f"customer {key!r} tax_rate")
    positions: dict[str, int | str] = {}
    for name, position in charged.items():
        if not isinstance(position, int | str) or isinstance(position, bool):
            raise ValueError(f"charged_through {name!r}: expected an offset or a stream id")
        positions[str(name)] = position
    return Balances(balances, taxes, positions,
                    float(written_at) if isinstance(written_at, int | float) else None)


def stream_position(entry_id: str) -> tuple[int, int]:
    """A Redis stream entry id "<ms>-<seq>" as a comparable pair."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def is_charged(charged_through: Mapping[str, int | str], key: str, position: int | str) -> bool | None:
    """Whether a spool line ending at `position` of `key` (a file name, or STREAM_CURSOR_PREFIX + stream with an
    entry id) is charged; None when `key` is not named (for a file: charged if the file is gone, which the
    caller checks)."""
    charged = charged_through.get(key)
    if charged is None:
        return None
    if isinstance(position, str) or isinstance(charged, str):
        return stream_position(str(charged)) >= stream_position(str(position))
    return charged >= position
