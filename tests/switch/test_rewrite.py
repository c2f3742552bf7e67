"""Parameter rewrite (domain.md §3.5): prefix or regex rules on destination or CLI, applied in `order`."""

from __future__ import annotations

import pytest

from trunkline.contracts.snapshot import AuthKind, ParameterRewrite, RewriteType
from trunkline.switch.regex import PatternError
from trunkline.switch.rewrite import RewriteChain, RewriteStep, preview

DST, CLI = RewriteType.DESTINATION, RewriteType.CLI


def rw(id: int, type: RewriteType, match: str, replace: str, order: int = 0) -> ParameterRewrite:
    return ParameterRewrite(id, AuthKind.IP, 9, type, match, replace, order)


@pytest.mark.parametrize(("rule", "value", "result"), [
    # domain.md §3.5: national 01782... -> 441782...
    (rw(1, DST, "0", "44"), "01782123456", "441782123456"),
    (rw(1, DST, "01782", "441782"), "01782123456", "441782123456"),
    # a leading + replaced by a country code, or stripped
    (rw(1, DST, "+", "1"), "+2125551234", "12125551234"),
    (rw(1, DST, "+", ""), "+442071234567", "442071234567"),
    # a prefix is only a prefix: a 0 further in is left alone
    (rw(1, DST, "0", "44"), "1023", "1023"),
    # a tech prefix stripped
    (rw(1, DST, "123#", ""), "123#441234", "441234"),
    # regexes: the matched part is replaced, groups in the three syntaxes
    (rw(1, DST, r"^00(\d+)$", "$1"), "00441234", "441234"),
    (rw(1, DST, r"^00(\d+)$", r"\1"), "00441234", "441234"),
    (rw(1, DST, r"^00(?<rest>\d+)$", "$<rest>"), "00441234", "441234"),
    (rw(1, DST, "^9", ""), "9123", "123"),
    (rw(1, DST, r"\*", ""), "12*34*5", "1234*5"),  # the first match only
    (rw(1, DST, "^0([1-9])", r"44\1"), "01782123456", "441782123456"),
    (rw(1, DST, "^9", ""), "8123", "8123"),  # no match: unchanged
    (rw(1, DST, "", "44"), "7700900123", "447700900123"),  # an empty match puts `replace` in front
])
def test_a_rule_rewrites_its_parameter(rule: ParameterRewrite, value: str, result: str) -> None:
    assert preview([rule], destination=value).destination == result
    as_cli = ParameterRewrite(rule.id, rule.auth_kind, rule.auth_id, CLI, rule.match, rule.replace, rule.order)
    assert preview([as_cli], destination="keep", cli=value).cli == result
    assert preview([as_cli], destination="keep", cli=value).destination == "keep"


def test_rules_apply_in_order_each_seeing_the_result_of_the_ones_before() -> None:
    rules = [
        rw(4, DST, "44", "+44", order=2),
        rw(3, CLI, "0", "44", order=1),
        rw(2, DST, "0", "44", order=1),
        rw(5, DST, "99", "", order=3),
    ]
    result = RewriteChain(rules).apply("01782123456", "07700900123")
    assert (result.destination, result.cli) == ("+441782123456", "447700900123")
    assert result.steps == (
        RewriteStep(rules[2], True, "01782123456", "441782123456"),  # order 1, id 2
        RewriteStep(rules[1], True, "07700900123", "447700900123"),  # order 1, id 3
        RewriteStep(rules[0], True, "441782123456", "+441782123456"),  # order 2
        RewriteStep(rules[3], False, "+441782123456", "+441782123456"),  # order 3: no match
    )
    assert [str(step.trace) for step in result.steps] == [
        "rewrite: destination rule #2 (order 1) `0` -> `44`: 01782123456 -> 441782123456",
        "rewrite: cli rule #3 (order 1) `0` -> `44`: 07700900123 -> 447700900123",
        "rewrite: destination rule #4 (order 2) `44` -> `+44`: 441782123456 -> +441782123456",
        "rewrite: destination rule #5 (order 3) `99` does not match +441782123456",
    ]


def test_a_rule_that_matches_without_changing_is_reported_as_matched() -> None:
    step = preview([rw(1, DST, "44", "44")], destination="441234").steps[0]
    assert (step.matched, step.before, step.after) == (True, "441234", "441234")


def test_no_rules_change_nothing() -> None:
    chain = RewriteChain([])
    assert len(chain) == 0
    result = chain.apply("01782", "+44")
    assert (result.destination, result.cli, result.steps) == ("01782", "+44", ())


def test_a_chain_is_reusable_and_keeps_no_state_between_calls() -> None:
    chain = RewriteChain([rw(1, DST, "0", "44"), rw(2, CLI, "+", "")])
    assert len(chain) == 2
    assert chain.apply("0123", "+1").destination == "44123"
    assert (chain.apply("0999", "5").destination, chain.apply("0999", "5").cli) == ("44999", "5")


@pytest.mark.parametrize(("rule", "message"), [
    (rw(7, DST, "^(0", "44"), r"parameter rewrite #7 match: missing \) in '\^\(0'"),
    (rw(7, CLI, "^0(1)", "$2"), "parameter rewrite #7 replace: group 2 is referenced, but the pattern has 1"),
    (rw(7, DST, "0", "$1"), "parameter rewrite #7 replace: group 1 is referenced, but the pattern has 0"),
])
def test_the_testing_box_gets_an_error_naming_the_rule(rule: ParameterRewrite, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        preview([rule], destination="0123")
