"""The call-control engine: pure functions over a routing snapshot (DESIGN.md, "The call decision").

`types` (call, decision, reject reasons), `index` (the snapshot compiled once for lookups), `auth` (SIP digest,
IP table), `egress` (LCR order, profit assurance), `counters` (balances, reservations and live counts: the
`Counters` seam, never in the snapshot), `decide` (decide(), steps 1-9, traced: what Simulate shows), `fast`
(route_call(), the switch's entry: prebuilt contexts and plans answer the common call untraced, exactly as
decide() would, and decide() answers the rest) and `main` (`trunkline switch ...`);
below them `prefix`, `rating`, `regex`, `rewrite`, `cli` and `trace`.

Imports no Django and no Trunkline Django app (an import-linter contract and tests/switch/test_isolation.py
hold this), so `trunkline switch` starts without configuring Django.
"""
