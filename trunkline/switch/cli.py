"""CLI rules of a customer (domain.md §3.1-3.3; DESIGN.md, "The call decision", step 4).

- No rule for the call's direction: every CLI passes unchanged.
- Otherwise an allow list. The rules are tried in the order given (the publisher orders them by id); the
  first whose conditions all hold decides: its CLI pattern matches the CLI, its P-Asserted-ID pattern (if
  any) matches the PAI (a call without PAI fails that condition), its Dialed Number Match (if any) matches
  the dialled number as received, tech prefix included (domain.md §1.7: `^<techprefix>` binds a rule to a
  route), and with Use DID = Filter the CLI is one of the customer's DIDs. The rule's rewrites then apply.
- No rule matched: the forced rules whose other conditions hold replace the CLI with their number (one
  picked at random when several do, domain.md §3.3 "~50/50"); a caller already presenting a forced number
  matched that rule above, so it passes unchanged. No forced rule either: 403 "CLI restriction in effect".

A rule's CLI pattern written as a plain number (digits, * and #, optional leading +) must equal the CLI ("CLI
`123456789` only => everything else rejected"); anything else is a regular expression searched in the CLI,
so `^1234` is "starts with" and `789$` "ends with". A rewrite replaces the whole value with the expanded
replacement ("`^1` rewrite `222222222222` => anything starting 1 becomes 222222222222").
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import NamedTuple

from trunkline.contracts.snapshot import CliDirection, CliRule, UseDid
from trunkline.switch.regex import (
    Literal,
    Match,
    Matcher,
    PatternError,
    Replacement,
    compile_pattern,
    compile_replacement,
    expand,
    is_literal_number,
)
from trunkline.switch.trace import Step, TraceLine

REJECT_CODE = 403
REJECT_REASON = "CLI restriction in effect"

_ANY = compile_pattern("(?s).*", "any CLI")  # an empty CLI pattern: no condition, and `$0` is still the whole CLI
_NO_PAI = "(none)"
# Enum members looked up once: attribute access on an Enum class is slow in Python 3.11.
_CLI = Step.CLI
_INBOUND = CliDirection.INBOUND

_PASS_NO_RULES = "no {} CLI rules: CLI {} passes unchanged"
_PASS_MATCH = "rule #{} `{}` matched: CLI {} -> {}, PAI {} -> {}"
_PASS_FORCED = "CLI {} matched no rule; forced rule #{} presents {}, PAI {} -> {}"
_REJECT = "CLI {} (PAI {}) matched none of {} {} rules and no forced rule applies: {} " + REJECT_REASON


class CliResult(NamedTuple):
    allowed: bool
    cli: str  # as it leaves: rewritten or forced, else as received
    pai: str | None
    rule: CliRule | None  # the rule that matched or was forced; None when no rule applied
    forced: bool
    trace: TraceLine


class _CompiledRule:
    __slots__ = ("cli", "dialed", "did_filter", "forced_cli", "pai", "rewrite_cli", "rewrite_pai", "rule")

    def __init__(self, rule: CliRule) -> None:
        where = f"CLI rule #{rule.id}"
        self.rule = rule
        self.cli: Matcher
        if is_literal_number(rule.cli):
            self.cli = Literal(rule.cli, whole=True)
        else:
            self.cli = compile_pattern(rule.cli, f"{where} cli") if rule.cli else _ANY
        self.pai = compile_pattern(rule.pai, f"{where} pai") if rule.pai else None
        self.dialed = (compile_pattern(rule.dialed_number_match, f"{where} dialed_number_match")
                       if rule.dialed_number_match else None)
        self.did_filter = rule.use_did == UseDid.FILTER
        # Numbered groups come from the CLI match, named ones from the CLI or the PAI pattern (domain.md §3.2).
        self.rewrite_cli: Replacement | None = (
            compile_replacement(rule.rewrite_cli, f"{where} rewrite_cli", self.cli, self.pai)
            if rule.rewrite_cli else None)
        self.rewrite_pai: Replacement | None = (
            compile_replacement(rule.rewrite_pai, f"{where} rewrite_pai", self.cli, self.pai)
            if rule.rewrite_pai else None)
        self.forced_cli: str | None = None
        if rule.forced:
            if not is_literal_number(rule.cli):
                raise PatternError(f"{where}: a forced rule presents its CLI, which must be a plain number, "
                                   f"not {rule.cli!r}")
            if self.did_filter:
                raise PatternError(f"{where}: a forced rule cannot also filter on the customer's DIDs")
            self.forced_cli = rule.cli

    def conditions_hold(self, pai: str | None, dialed: str, dids: frozenset[str], cli: str) -> Match | bool:
        """Everything but the CLI pattern: False if a condition fails, else the PAI match (True without one)."""
        if self.dialed is not None and self.dialed.search(dialed) is None:
            return False
        if self.did_filter and cli not in dids:
            return False
        if self.pai is None:
            return True
        if pai is None:
            return False
        return self.pai.search(pai) or False


# Forced CLIs only need an even spread, not unpredictability; tests pass their own seeded Random.
_RANDOM = random.Random()


class CliRuleSet:
    """A customer's CLI rules compiled once (patterns, replacements), then evaluated per call."""

    __slots__ = ("_dids", "_inbound", "_outbound")

    def __init__(self, rules: Iterable[CliRule], dids: frozenset[str] = frozenset()) -> None:
        compiled = [_CompiledRule(rule) for rule in rules]
        self._inbound = tuple(rule for rule in compiled if rule.rule.direction == _INBOUND)
        self._outbound = tuple(rule for rule in compiled if rule.rule.direction != _INBOUND)
        self._dids = dids

    @property
    def plain(self) -> bool:
        """No outbound rule rewrites, forces or filters on DIDs: a CLI that passes leaves as it came, and one that
        matches no rule is refused (what the fast path, fast.py, answers without evaluate()'s trace)."""
        return not any(rule.rewrite_cli is not None or rule.rewrite_pai is not None or rule.forced_cli is not None
                       or rule.did_filter for rule in self._outbound)

    def passes(self, cli: str, pai: str | None, dialed: str) -> bool:
        """Whether an outbound rule matches the call (every CLI passes when there is none): for a `plain` set,
        evaluate()'s verdict."""
        rules = self._outbound
        if not rules:
            return True
        dids = self._dids
        for rule in rules:
            if rule.conditions_hold(pai, dialed, dids, cli) is not False and rule.cli.search(cli) is not None:
                return True
        return False

    def evaluate(self, cli: str, pai: str | None, dialed: str, direction: CliDirection = CliDirection.OUTBOUND,
                 rng: random.Random | None = None) -> CliResult:
        rules = self._inbound if direction == _INBOUND else self._outbound
        if not rules:
            return CliResult(True, cli, pai, None, False, TraceLine(_CLI, True, _PASS_NO_RULES, (direction, cli)))
        dids = self._dids
        for rule in rules:
            held = rule.conditions_hold(pai, dialed, dids, cli)
            if held is False:
                continue
            match = rule.cli.search(cli)
            if match is not None:
                new_cli, new_pai = _rewrite(rule, match, held, cli, pai)
                return CliResult(True, new_cli, new_pai, rule.rule, False, TraceLine(_CLI, True, _PASS_MATCH, (
                    rule.rule.id, rule.rule.cli, cli, new_cli, _shown(pai), _shown(new_pai))))
        candidates = []
        for rule in rules:
            if rule.forced_cli is not None:
                held = rule.conditions_hold(pai, dialed, dids, rule.forced_cli)
                if held is not False:
                    candidates.append((rule, rule.forced_cli, held))
        if not candidates:
            return CliResult(False, cli, pai, None, False, TraceLine(
                _CLI, False, _REJECT, (cli, _shown(pai), len(rules), direction, REJECT_CODE)))
        rule, number, held = candidates[0] if len(candidates) == 1 else (rng or _RANDOM).choice(candidates)
        # The forced number then goes through its rule like a presented one, so the rule's rewrites apply too.
        new_cli, new_pai = _rewrite(rule, rule.cli.search(number), held, number, pai)
        return CliResult(True, new_cli, new_pai, rule.rule, True, TraceLine(_CLI, True, _PASS_FORCED, (
            cli, rule.rule.id, new_cli, _shown(pai), _shown(new_pai))))


def _rewrite(rule: _CompiledRule, match: Match | None, held: Match | bool, cli: str,
             pai: str | None) -> tuple[str, str | None]:
    matches = (match, held if isinstance(held, Match) else None)
    return (expand(rule.rewrite_cli, matches) if rule.rewrite_cli is not None else cli,
            expand(rule.rewrite_pai, matches) if rule.rewrite_pai is not None else pai)


def _shown(pai: str | None) -> str:
    return _NO_PAI if pai is None else pai
