"""The call-control engine: pure functions over a routing snapshot (DESIGN.md, "The call decision").

Imports no Django and no Trunkline Django app (an import-linter contract and tests/switch/test_isolation.py
hold this), so `trunkline switch` starts without configuring Django.
"""
