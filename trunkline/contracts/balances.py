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

BALANCES_FILE = "balances.json"  # beside the routing file
BALANCES_VERSION = 2
# The charged_through key of the Redis stream (SPOOL_STREAM), beside the spool files' names.
STREAM_CURSOR_PREFIX = "redis:"
