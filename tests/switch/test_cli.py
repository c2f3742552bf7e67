"""CLI rules: domain.md §3.1-3.3 and the "Advanced CLI Match & Manipulation" table of mission/customers.md."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import pytest

from trunkline.contracts.snapshot import CliDirection, CliRule, UseDid
from trunkline.switch.cli import REJECT_CODE, REJECT_REASON, CliResult, CliRuleSet
from trunkline.switch.regex import PatternError

REJECT = None  # expected CLI of a rejected call


def rule(id: int = 1, **fields: object) -> CliRule:
    return CliRule(id=id, customer_id=7, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    rules: tuple[CliRule, ...]
    cli: str
    pai: str | None
    out_cli: str | None  # None: rejected
    out_pai: str | None = None
    dialed: str = "442071234567"
    dids: frozenset[str] = frozenset()


def case(rules: list[CliRule], cli: str, out_cli: str | None, *, pai: str | None = None,
         out_pai: str | None = None, dialed: str = "442071234567", dids: frozenset[str] = frozenset()) -> Case:
    # Unless a case says otherwise, the PAI leaves as it came.
    return Case(tuple(rules), cli, pai, out_cli, out_pai if out_pai is not None else pai, dialed, dids)


ONLY_123456789 = [rule(cli="123456789")]
STARTS_123456 = [rule(cli="^123456")]
RANGE_123456 = [rule(cli="^123456[135][0-9]{1,2}$")]
DID_FILTER = [rule(use_did=UseDid.FILTER)]
DIRECT = [rule(cli="111111111111", rewrite_cli="222222222222")]
PATTERN = [rule(cli="^1", rewrite_cli="222222222222")]
FORCED = [rule(cli="111111111111", forced=True)]
FORCED_AND_ALLOWED = [rule(1, cli="111111111111", forced=True), rule(2, cli="222222222222")]
NINE_TO_44 = [rule(cli="^9(.*)$", rewrite_cli="44$1")]
PAI_AS_CLI = [rule(cli=".*", pai="^(?<paid>.*)$", rewrite_cli="$<paid>")]
REWRITE_PAI = [rule(cli=".*", pai="^9(?<paid>.*)$", rewrite_pai="44$<paid>")]
CLI_AS_PAI = [rule(cli="^(.*)$", rewrite_pai="$1")]
BILLING_NUMBER_AS_PAI = [rule(cli=".*", rewrite_pai="442030000000")]
# domain.md §3.3 writes this rule `^((?!^1(800|833|844|855|866|877|888)).)*$`, a look-ahead RE2 refuses
# (test_the_documented_toll_free_look_ahead_is_refused). Spelled out in RE2 syntax: a CLI that does not start with
# 1 followed by 800, 833, ... 888, i.e. whose first digits leave that set as soon as they can.
NO_US_TOLL_FREE = [rule(cli="^(?:$|[^1]|1(?:$|[^8]|8(?:$|[^03-8]|0(?:$|[^0])|3(?:$|[^3])|4(?:$|[^4])|5(?:$|[^5])"
                            "|6(?:$|[^6])|7(?:$|[^7])|8(?:$|[^8]))))")]
OWN_DIDS = frozenset({"442071234567", "18005550100"})

DOMAIN_EXAMPLES = {
    # CLI `123456789` only => everything else rejected.
    "only-123456789-passes": case(ONLY_123456789, "123456789", "123456789"),
    "only-123456789-longer": case(ONLY_123456789, "1234567890", REJECT),
    "only-123456789-contains": case(ONLY_123456789, "01234567890", REJECT),
    "only-123456789-shorter": case(ONLY_123456789, "12345678", REJECT),
    # `^123456` => any CLI starting 123456 passes.
    "starts-123456": case(STARTS_123456, "1234567", "1234567"),
    "starts-123456-exact": case(STARTS_123456, "123456", "123456"),
    "starts-123456-elsewhere": case(STARTS_123456, "0123456", REJECT),
    # `^123456[135][0-9]{1,2}$` => stricter range.
    "range-1-digit": case(RANGE_123456, "12345610", "12345610"),
    "range-2-digits": case(RANGE_123456, "123456599", "123456599"),
    "range-no-digit": case(RANGE_123456, "1234561", REJECT),
    "range-wrong-class": case(RANGE_123456, "12345620", REJECT),
    "range-3-digits": case(RANGE_123456, "1234563000", REJECT),
    # Use DID = Filter, no CLI => only the customer's DIDs are valid CLIs.
    "did-filter-own": case(DID_FILTER, "442071234567", "442071234567", dids=OWN_DIDS),
    "did-filter-other": case(DID_FILTER, "442071234568", REJECT, dids=OWN_DIDS),
    # CLI `111111111111` rewrite `222222222222` => direct replacement.
    "direct-replacement": case(DIRECT, "111111111111", "222222222222"),
    "direct-replacement-other": case(DIRECT, "111111111112", REJECT),
    # CLI `^1` rewrite `222222222222` => anything starting 1 becomes 222222222222.
    "pattern-replacement": case(PATTERN, "15551234567", "222222222222"),
    "pattern-replacement-short": case(PATTERN, "1", "222222222222"),
    "pattern-replacement-other": case(PATTERN, "25551234567", REJECT),
    # Forced `111111111111` alone => every call leaves with 111111111111.
    "forced-replaces": case(FORCED, "999999999999", "111111111111"),
    "forced-replaces-anonymous": case(FORCED, "", "111111111111"),
    "forced-presented": case(FORCED, "111111111111", "111111111111"),
    # ... with an extra non-forced `222222222222` => 222... passes as-is, anything else -> 111....
    "forced-allowed-passes": case(FORCED_AND_ALLOWED, "222222222222", "222222222222"),
    "forced-other-replaced": case(FORCED_AND_ALLOWED, "333333333333", "111111111111"),
    # `^9(.*)$` -> `44$1`. The notes (and the ConnexCS page) say 9123456789 -> 4423456789, which drops a digit:
    # the 9 is stripped and 44 put in front of the rest, 123456789.
    "nine-to-44": case(NINE_TO_44, "9123456789", "44123456789"),
    "nine-to-44-doc-digits": case(NINE_TO_44, "923456789", "4423456789"),
    "nine-to-44-other": case(NINE_TO_44, "8123456789", REJECT),
    # PAI as CLI: CLI `.*`, PAI `^(?<paid>.*)$`, Rewrite CLI `$<paid>`.
    "pai-as-cli": case(PAI_AS_CLI, "123", "447700900123", pai="447700900123"),
    "pai-as-cli-without-pai": case(PAI_AS_CLI, "123", REJECT),
    # Rewrite PAI: CLI `.*`, PAI `^9(?<paid>.*)$`, Rewrite PAI `44$<paid>` (same digit slip in the docs).
    "rewrite-pai": case(REWRITE_PAI, "441234", "441234", pai="9123456789", out_pai="44123456789"),
    "rewrite-pai-no-match": case(REWRITE_PAI, "441234", REJECT, pai="8123456789"),
    # CLI as PAI: CLI `^(.*)$`, Rewrite PAI `$1`.
    "cli-as-pai": case(CLI_AS_PAI, "441234567890", "441234567890", out_pai="441234567890"),
    "cli-as-pai-replaces-pai": case(CLI_AS_PAI, "441234567890", "441234567890", pai="1", out_pai="441234567890"),
    # Main billing number as PAI for all calls: CLI `.*` + Rewrite P-Asserted-ID = the number.
    "billing-number-as-pai": case(BILLING_NUMBER_AS_PAI, "17005551234", "17005551234", out_pai="442030000000"),
    "billing-number-as-pai-replaces": case(BILLING_NUMBER_AS_PAI, "1", "1", pai="9", out_pai="442030000000"),
    # Negative regex to block US toll-free CLIs.
    "toll-free-800": case(NO_US_TOLL_FREE, "18005551234", REJECT),
    "toll-free-833": case(NO_US_TOLL_FREE, "18335550000", REJECT),
    "toll-free-888": case(NO_US_TOLL_FREE, "18885550000", REJECT),
    "toll-free-geographic": case(NO_US_TOLL_FREE, "12125551234", "12125551234"),
    "toll-free-uk": case(NO_US_TOLL_FREE, "447700900123", "447700900123"),
    "toll-free-801": case(NO_US_TOLL_FREE, "18015551234", "18015551234"),
    "toll-free-844": case(NO_US_TOLL_FREE, "18445550000", REJECT),
    "toll-free-834": case(NO_US_TOLL_FREE, "18345550000", "18345550000"),
    "toll-free-short-18": case(NO_US_TOLL_FREE, "18", "18"),
}

MISSION_TABLE = {
    # | 123456789 | ^1234 | | Allows only numbers starting with 1234 to pass |
    "starts-with-1234": case([rule(cli="^1234")], "123456789", "123456789"),
    "starts-with-1234-not": case([rule(cli="^1234")], "212345678", REJECT),
    # | 123456789 | 789$ | | Allows only numbers ending with 789 to pass |
    "ends-with-789": case([rule(cli="789$")], "123456789", "123456789"),
    "ends-with-789-not": case([rule(cli="789$")], "123456780", REJECT),
    # | 12345678912 | ^[0-9]{11,12}$ | | Allows only numbers with 11 or 12 digits to pass |
    "11-digits": case([rule(cli="^[0-9]{11,12}$")], "12345678912", "12345678912"),
    "12-digits": case([rule(cli="^[0-9]{11,12}$")], "123456789123", "123456789123"),
    "10-digits": case([rule(cli="^[0-9]{11,12}$")], "1234567891", REJECT),
    "13-digits": case([rule(cli="^[0-9]{11,12}$")], "1234567891234", REJECT),
    # | +123456789 | ^\+([0-9]+)$ | \1 | Remove leading + |
    "remove-plus": case([rule(cli=r"^\+([0-9]+)$", rewrite_cli=r"\1")], "+123456789", "123456789"),
    "remove-plus-none": case([rule(cli=r"^\+([0-9]+)$", rewrite_cli=r"\1")], "123456789", REJECT),
    # | 01782123456 | ^0([1-9]+)$ | 44\1 | Remove leading 0 and replace with 44 |
    "national-to-44": case([rule(cli="^0([1-9]+)$", rewrite_cli=r"44\1")], "01782123456", "441782123456"),
    "national-to-44-zero-inside": case([rule(cli="^0([1-9]+)$", rewrite_cli=r"44\1")], "01702123456", REJECT),
}

OTHER_SEMANTICS = {
    # The record's CLI and P-Asserted-ID conditions are ANDed (connexcs docs "Combined CLI and PAI Filter").
    "and-both": case([rule(cli="1122334455", pai="123456789")], "1122334455", "1122334455", pai="123456789"),
    "and-cli-only": case([rule(cli="1122334455", pai="123456789")], "1122334455", REJECT, pai="987654321"),
    "and-pai-only": case([rule(cli="1122334455", pai="123456789")], "5", REJECT, pai="123456789"),
    "and-no-pai": case([rule(cli="1122334455", pai="123456789")], "1122334455", REJECT),
    # A record with a PAI pattern and no CLI filters on the PAI alone.
    "pai-only-rule": case([rule(pai="^123456[135][0-9]{1,2}$")], "anything", "anything", pai="12345655"),
    "pai-only-rule-miss": case([rule(pai="^123456[135][0-9]{1,2}$")], "anything", REJECT, pai="12345625"),
    # A plain number with a + is a number too, compared whole.
    "plus-number": case([rule(cli="+441234")], "+441234", "+441234"),
    "plus-number-longer": case([rule(cli="+441234")], "+4412345", REJECT),
    # The first rule that matches decides, in the order given.
    "first-match-wins": case([rule(1, cli="^1", rewrite_cli="A"), rule(2, cli=".*", rewrite_cli="B")], "15", "A"),
    "first-match-falls-through": case([rule(1, cli="^1", rewrite_cli="A"), rule(2, cli=".*", rewrite_cli="B")],
                                      "25", "B"),
    # $0 and \0 are the whole CLI match; $$ a dollar; groups that took no part expand to nothing.
    "whole-match-dollar": case([rule(cli="^44", rewrite_pai="$0")], "441234", "441234", out_pai="44"),
    "whole-match-backslash": case([rule(cli="^(.*)$", rewrite_pai=r"\0")], "441234", "441234", out_pai="441234"),
    "optional-group": case([rule(cli=r"^(\+)?(\d+)$", rewrite_cli="$1$2")], "441234", "441234"),
    "dollar-dollar": case([rule(cli="^1$", rewrite_cli="$$1")], "1", "$1"),
    # Without a CLI pattern `$0` is still the whole CLI (the docs' "CLI as PAID" rows with Use DID).
    "no-pattern-whole-cli": case([rule(use_did=UseDid.FILTER, rewrite_pai="$0")], "442071234567", "442071234567",
                                 out_pai="442071234567", dids=OWN_DIDS),
    # A forced rule's rewrites apply to the number it forces.
    "forced-rewrites-pai": case([rule(cli="111111111111", forced=True, rewrite_pai="$0")], "5", "111111111111",
                                out_pai="111111111111"),
    # A rule limited to a route by `^<techprefix>` in Dialed Number Match (domain.md §1.7).
    "route-bound-applies": case([rule(cli="^44", dialed_number_match="^123#")], "4411", "4411", dialed="123#4420"),
    "route-bound-other-route": case([rule(cli="^44", dialed_number_match="^123#")], "4411", REJECT, dialed="9#4420"),
    "route-bound-sets": case([rule(1, cli="^44", dialed_number_match="^123#"),
                              rule(2, cli=".*", dialed_number_match="^9#")], "1555", "1555", dialed="9#4420"),
    # Forced CLIs chosen by destination (CLI localisation with Dialed Number Match).
    "forced-by-destination-uk": case([rule(1, cli="442030000000", forced=True, dialed_number_match="^44"),
                                      rule(2, cli="12125550000", forced=True, dialed_number_match="^1")],
                                     "5", "442030000000", dialed="447700900123"),
    "forced-by-destination-us": case([rule(1, cli="442030000000", forced=True, dialed_number_match="^44"),
                                      rule(2, cli="12125550000", forced=True, dialed_number_match="^1")],
                                     "5", "12125550000", dialed="12125551234"),
    "forced-by-destination-none": case([rule(1, cli="442030000000", forced=True, dialed_number_match="^44")],
                                       "5", REJECT, dialed="33123456789"),
    # A forced rule's PAI condition still has to hold.
    "forced-pai-condition": case([rule(cli="111", forced=True, pai="^44")], "5", REJECT, pai="33"),
}


def run(example: Case, rng: random.Random | None = None) -> CliResult:
    return CliRuleSet(example.rules, example.dids).evaluate(example.cli, example.pai, example.dialed, rng=rng)


@pytest.mark.parametrize("example", [pytest.param(value, id=key) for key, value in
                                     {**DOMAIN_EXAMPLES, **MISSION_TABLE, **OTHER_SEMANTICS}.items()])
def test_cli_rules(example: Case) -> None:
    result = run(example)
    if example.out_cli is REJECT:
        assert not result.allowed
        assert (result.cli, result.pai, result.rule) == (example.cli, example.pai, None)
        assert not result.trace.ok
        assert result.trace.message.endswith(f"{REJECT_CODE} {REJECT_REASON}")
    else:
        assert result.allowed, result.trace.message
        assert (result.cli, result.pai) == (example.out_cli, example.out_pai)
        assert result.rule in example.rules
        assert result.trace.ok


@pytest.mark.parametrize("replacement", ["44$1", r"44\1", "44$<rest>"])
def test_the_three_replacement_syntaxes_agree(replacement: str) -> None:
    rules = CliRuleSet([rule(cli="^0(?<rest>[1-9][0-9]+)$", rewrite_cli=replacement)])
    assert rules.evaluate("01782123456", None, "44").cli == "441782123456"


def test_no_rules_everything_passes_unchanged() -> None:
    result = CliRuleSet([]).evaluate("anything at all", "pai", "44")
    assert result == CliResult(True, "anything at all", "pai", None, False, result.trace)
    assert str(result.trace) == "cli: no outbound CLI rules: CLI anything at all passes unchanged"


def test_rules_only_filter_their_own_direction() -> None:
    rules = CliRuleSet([rule(cli="^44", direction=CliDirection.INBOUND)])
    assert rules.evaluate("1555", None, "44").allowed  # no outbound rule: everything passes
    assert not rules.evaluate("1555", None, "44", CliDirection.INBOUND).allowed
    assert rules.evaluate("4455", None, "44", CliDirection.INBOUND).allowed


def test_a_forced_match_is_reported_as_forced_with_its_rule() -> None:
    rules = [rule(1, cli="111111111111", forced=True), rule(2, cli="222222222222")]
    forced = CliRuleSet(rules).evaluate("333", None, "44")
    assert (forced.forced, forced.rule) == (True, rules[0])
    presented = CliRuleSet(rules).evaluate("111111111111", None, "44")
    assert (presented.forced, presented.rule) == (False, rules[0])
    allowed = CliRuleSet(rules).evaluate("222222222222", None, "44")
    assert (allowed.forced, allowed.rule) == (False, rules[1])


TWO_FORCED = [rule(1, cli="111111111111", forced=True), rule(2, cli="222222222222", forced=True)]


def test_two_forced_clis_are_picked_at_random_about_evenly() -> None:
    rules = CliRuleSet(TWO_FORCED)
    generator = random.Random(20261128)
    counts = Counter(rules.evaluate("333333333333", None, "44", rng=generator).cli for _ in range(10_000))
    assert set(counts) == {"111111111111", "222222222222"}
    assert 4800 <= counts["111111111111"] <= 5200


def test_the_forced_pick_comes_from_the_injected_random() -> None:
    rules = CliRuleSet(TWO_FORCED)
    picks = [rules.evaluate("3", None, "44", rng=random.Random(seed)).cli for seed in range(20)]
    expected = [random.Random(seed).choice(["111111111111", "222222222222"]) for seed in range(20)]
    assert picks == expected


@pytest.mark.parametrize("presented", ["111111111111", "222222222222"])
def test_a_caller_presenting_one_of_two_forced_clis_keeps_it(presented: str) -> None:
    rules = CliRuleSet(TWO_FORCED)
    assert {rules.evaluate(presented, None, "44", rng=random.Random(seed)).cli for seed in range(50)} == {presented}


def test_trace_lines_say_what_happened() -> None:
    matched = CliRuleSet(NINE_TO_44).evaluate("9123456789", None, "44")
    assert str(matched.trace) == "cli: rule #1 `^9(.*)$` matched: CLI 9123456789 -> 44123456789, PAI (none) -> (none)"
    forced = CliRuleSet(FORCED_AND_ALLOWED).evaluate("333", "4455", "44")
    assert str(forced.trace) == "cli: CLI 333 matched no rule; forced rule #1 presents 111111111111, PAI 4455 -> 4455"
    rejected = CliRuleSet(ONLY_123456789).evaluate("555", None, "44")
    assert str(rejected.trace) == ("cli: REJECT CLI 555 (PAI (none)) matched none of 1 outbound rules and no forced "
                                   "rule applies: 403 CLI restriction in effect")


def test_the_documented_toll_free_look_ahead_is_refused() -> None:
    with pytest.raises(PatternError) as refused:
        CliRuleSet([rule(5, cli="^((?!^1(800|833|844|855|866|877|888)).)*$")])
    assert str(refused.value) == ("CLI rule #5 cli: look-ahead is not supported (RE2 syntax) in "
                                  "'^((?!^1(800|833|844|855|866|877|888)).)*$'")


@pytest.mark.parametrize(("bad", "message"), [
    (rule(5, cli="^(4"), r"CLI rule #5 cli: missing \) in '\^\(4'"),
    (rule(5, cli=".*", pai="(?<x"), "CLI rule #5 pai: "),
    (rule(5, cli=".*", dialed_number_match="[12"), "CLI rule #5 dialed_number_match: "),
    (rule(5, cli="^9(.*)$", rewrite_cli="$2"), "CLI rule #5 rewrite_cli: group 2 is referenced, but the pattern has 1"),
    (rule(5, cli=".*", rewrite_pai="$<paid>"), "CLI rule #5 rewrite_pai: no pattern of this rule defines the group"),
    (rule(5, cli="^(?<n>.*)$", pai="^(?<n>.*)$", rewrite_cli="$<n>"), "defined by more than one pattern"),
    (rule(5, cli="^44", forced=True), "CLI rule #5: a forced rule presents its CLI, which must be a plain number"),
    (rule(5, cli="4420", forced=True, use_did=UseDid.FILTER), "cannot also filter on the customer's DIDs"),
])
def test_unusable_rules_are_refused_when_loaded_naming_rule_and_field(bad: CliRule, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        CliRuleSet([bad])
