"""Parameter rewrite of an IP-auth entry or SIP user (domain.md §3.5; DESIGN.md, "The call decision", step 3).

Each rule rewrites the destination or the CLI as the call arrives, in ascending `order` (ties by id), each
rule seeing the result of the ones before it. A `match` written as a plain number (digits, optional leading
+, tech-prefix characters * and #) is a prefix: a value starting with it has that prefix replaced by
`replace` (`0` -> `44` turns 01782... into 441782..., `+` -> `` strips the plus). Anything else is a regular
expression: its first match in the value is replaced by `replace`, which may use `$1`, `\\1`, `$<name>`.
A rule that does not match leaves the value alone; an empty `match` puts `replace` in front of every value.

`preview` is what the Testing box runs on rules that may not be saved yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from trunkline.contracts.snapshot import ParameterRewrite, RewriteType
from trunkline.switch.regex import (
    Literal,
    Matcher,
    Replacement,
    compile_pattern,
    compile_replacement,
    expand,
    is_literal_number,
)
from trunkline.switch.trace import Step, TraceLine

_CHANGED = "{} rule #{} (order {}) `{}` -> `{}`: {} -> {}"
_UNCHANGED = "{} rule #{} (order {}) `{}` does not match {}"


class RewriteStep(NamedTuple):
    rule: ParameterRewrite
    matched: bool
    before: str
    after: str

    @property
    def trace(self) -> TraceLine:
        rule = self.rule
        if not self.matched:
            return TraceLine(Step.REWRITE, True, _UNCHANGED, (rule.type, rule.id, rule.order, rule.match, self.before))
        return TraceLine(Step.REWRITE, True, _CHANGED,
                         (rule.type, rule.id, rule.order, rule.match, rule.replace, self.before, self.after))


class RewriteResult(NamedTuple):
    destination: str
    cli: str
    steps: tuple[RewriteStep, ...]  # one per rule, in the order applied


class _CompiledRewrite:
    __slots__ = ("is_destination", "pattern", "replacement", "rule")

    def __init__(self, rule: ParameterRewrite) -> None:
        where = f"parameter rewrite #{rule.id}"
        # A prefix is only looked for at the start; a regex anywhere (it anchors itself with ^ if it means to).
        self.pattern: Matcher = (Literal(rule.match, whole=False) if is_literal_number(rule.match)
                                 else compile_pattern(rule.match, f"{where} match"))
        self.replacement: Replacement = compile_replacement(rule.replace, f"{where} replace", self.pattern)
        self.is_destination = rule.type == RewriteType.DESTINATION
        self.rule = rule


class RewriteChain:
    """The rewrite rules of one auth entry, compiled once and applied per call."""

    __slots__ = ("_rules",)

    def __init__(self, rules: Iterable[ParameterRewrite]) -> None:
        ordered = sorted(rules, key=lambda rule: (rule.order, rule.id))
        self._rules = tuple(_CompiledRewrite(rule) for rule in ordered)

    def __len__(self) -> int:
        return len(self._rules)

    def apply(self, destination: str, cli: str) -> RewriteResult:
        steps = []
        for rule in self._rules:
            before = destination if rule.is_destination else cli
            match = rule.pattern.search(before)
            if match is None:
                steps.append(RewriteStep(rule.rule, False, before, before))
                continue
            after = before[:match.start()] + expand(rule.replacement, (match,)) + before[match.end():]
            if rule.is_destination:
                destination = after
            else:
                cli = after
            steps.append(RewriteStep(rule.rule, True, before, after))
        return RewriteResult(destination, cli, tuple(steps))


def preview(rules: Iterable[ParameterRewrite], destination: str = "", cli: str = "") -> RewriteResult:
    """What the rules make of a destination and a CLI; raises PatternError naming a rule that cannot compile."""
    return RewriteChain(rules).apply(destination, cli)
