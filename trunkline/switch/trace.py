"""The decision trace: one line per step of a call decision, as the simulator shows it.

A line keeps its template and arguments and formats only when read, so deciding a real call (whose trace
nobody reads) does not pay for building strings. Per-call results here and in the other switch modules are
NamedTuples rather than frozen dataclasses: just as immutable, and about three times cheaper to build, which
counts when every call builds several.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Step(StrEnum):
    """The steps of DESIGN.md, "The call decision", in their order."""

    IDENTIFY = "identify"
    GATES = "gates"
    REWRITE = "rewrite"
    CLI = "cli"
    ROUTE = "route"
    LIMITS = "limits"
    RATE = "rate"
    MONEY = "money"
    EGRESS = "egress"


class TraceLine(NamedTuple):
    step: Step
    ok: bool  # False on the line that rejects the call
    template: str  # str.format template, filled from `args`
    args: tuple[object, ...] = ()

    @property
    def message(self) -> str:
        return self.template.format(*self.args)

    def __str__(self) -> str:
        return f"{self.step}: {self.message}" if self.ok else f"{self.step}: REJECT {self.message}"
