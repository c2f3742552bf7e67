"""Call events: what the switch appends to its spool for every attempt, and what the worker loads into call records.

The switch never waits on the database (DESIGN.md, "Live calls and money in flight"): each decision and each
dialog event is one JSON line in an append-only spool file ($TRUNKLINE_VAR_DIR/spool/, one file per switch
process, `calls-<node>-<pid>-<sequence>.jsonl`), or one entry of a Redis stream when COUNTERS_URL is set. The
worker reads them in batches and merges the lines of one call id into one call record, idempotently: a line
read twice (a worker killed mid-batch reads its batch again) changes nothing.

A line is a JSON object. Every line has `v` (SPOOL_VERSION), `kind` (EventKind), `call_id`, `node` (the switch
node's name) and `at` (seconds since the epoch, UTC, as a float). The other keys depend on the kind:

- `attempt` (written by the switch at its decision, once per call id; a 407 challenge writes none):
  `customer` (id or null), `auth_kind` ("ip" / "sip_user" / null), `auth_id`, `source_ip`, `source_port`,
  `transport` ("udp" / "tcp" / "http"), `cli_in`, `dst_in` (as received), `cli`, `dst` (after rewrites and the
  tech prefix), `pai`, `tech_prefix`, `route` (ingress route id or null), `code` and `reason` (the decision's:
  200 "Routed" or the reject), `rate` (RATE_KEYS, or null when no customer rate was matched), `providers` (the
  egress order: a list of {"provider": id, "card": id, "rate": "0.0100", "gateways": ["host:port", ...]}),
  `max_duration` (seconds or null), `reserve` (decimal string), `recording` (bool), `expires_at` (when the
  switch lets the channel go if no ended/failed event comes).
- `routed`: the edge sent the call to a gateway: `provider` (id or null when the gateway is not one of the
  decision's), `gateway` ("host:port"), `branch` (0-based position in the egress order).
- `early`: a provisional answer (180/183) came back: `provider`, `code`.
- `answered`: 200 OK: `provider`, `dialog` ({"h_entry": int, "h_id": int} for Kamailio's dlg.end_dlg, or null).
- `failed`: a gateway answered a final error: `provider`, `code`, `reason`, `final` (true when the edge tries no
  other gateway: the call is over and its channel is let go).
- `ended`: an answered call hung up: `release_reason` (ReleaseReason value), `duration` (whole seconds; null
  when the edge did not say, the loader then uses `at` - answered time).
- `expired`: the switch let a channel go at `expires_at` without an ended or failed event.
- `disconnect`: the switch asked the edge to end an answered call at the end of its paid time, the next slice of
  its reservation not being available: `reason` ("Balance Disconnect"). The call's release reason is then that,
  whatever the edge's ended event says.

Times are the switch's clock at the event (for Kamailio's events, the time Kamailio reports when it gives one).
"""

from __future__ import annotations

from enum import StrEnum

SPOOL_VERSION = 1
SPOOL_DIR = "spool"  # under $TRUNKLINE_VAR_DIR
SPOOL_GLOB = "calls-*.jsonl"
# The Redis stream the switch appends to instead of a file when COUNTERS_URL is set.
SPOOL_STREAM = "trunkline:calls"

RATE_KEYS = ("card", "prefix", "name", "rate", "connection_fee", "grace", "mcd", "pulse")


class EventKind(StrEnum):
    ATTEMPT = "attempt"
    ROUTED = "routed"
    EARLY = "early"
    ANSWERED = "answered"
    FAILED = "failed"
    ENDED = "ended"
    EXPIRED = "expired"
    DISCONNECT = "disconnect"


class ReleaseReason(StrEnum):
    """domain.md §5.5."""

    DOWNSTREAM_BYE = "Downstream BYE"
    UPSTREAM_BYE = "Upstream BYE"
    MI_TERMINATION = "MI Termination"
    PING_TIMEOUT = "Ping Timeout"
    LIFETIME_TIMEOUT = "Lifetime Timeout"
    BALANCE_DISCONNECT = "Balance Disconnect"
