"""The PCRE/JavaScript pattern and replacement dialect of rule data, translated for Python's `re`."""

from __future__ import annotations

import re

import pytest

from trunkline.switch.regex import (
    PatternError,
    compile_pattern,
    compile_replacement,
    expand,
    is_literal_number,
    to_python_regex,
)


@pytest.mark.parametrize(("pattern", "python"), [
    ("^(?<paid>.*)$", "^(?P<paid>.*)$"),
    ("^9(?<paid>.*)$", "^9(?P<paid>.*)$"),
    ("(?<a>1)(?<_b2>2)", "(?P<a>1)(?P<_b2>2)"),
    ("(?<=1)2(?<!3)", "(?<=1)2(?<!3)"),  # look-behinds stay
    (r"\(?<x>", r"\(?<x>"),  # an escaped parenthesis opens no group
    ("[(?<x>]", "[(?<x>]"),  # inside a character class
    ("[](?<x>]y(?<z>1)", "[](?<x>]y(?P<z>1)"),  # `]` first in a class is a literal
    ("[^](?<x>]y(?<z>1)", "[^](?<x>]y(?P<z>1)"),
    ("^[0-9]{11,12}$", "^[0-9]{11,12}$"),
])
def test_named_groups_are_translated(pattern: str, python: str) -> None:
    assert to_python_regex(pattern) == python
    re.compile(python)


@pytest.mark.parametrize(("text", "literal"), [
    ("123456789", True), ("+441234", True), ("+", True), ("123#", True), ("*99", True),
    ("", False), ("^1", False), ("789$", False), (".*", False), ("1+", False), ("12 34", False)])
def test_plain_numbers_are_told_from_patterns(text: str, literal: bool) -> None:
    assert is_literal_number(text) is literal


def test_compile_pattern_names_the_field() -> None:
    with pytest.raises(PatternError, match=r"rule #3 cli: unterminated character set \(position 0\) in '\[1'"):
        compile_pattern("[1", "rule #3 cli")


CLI = re.compile(r"^(\+)?(?<rest>\d+)$".replace("(?<", "(?P<"))
PAI = re.compile(r"^9(?P<paid>\d*)$")


@pytest.mark.parametrize(("replacement", "compiled"), [
    ("222", "222"),  # no group: the plain string
    ("", ""),
    ("44$2", ("44", (0, 2))),
    (r"44\2", ("44", (0, 2))),
    ("$<rest>x", ((0, 2), "x")),
    ("$<paid>", ((1, 1),)),  # a named group of the second pattern
    ("$0", ((0, 0),)),
    (r"\0", ((0, 0),)),
    ("$$2", "$2"),  # `$$` is a dollar
    (r"a\\2", "a\\2"),  # `\\` is a backslash
    ("$12", ((0, 1), "2")),  # no group 12: group 1 then the digit 2, as JavaScript reads it
    ("$x", "$x"),  # not a reference
])
def test_replacements_compile_to_pieces(replacement: str, compiled: object) -> None:
    assert compile_replacement(replacement, "f", CLI, PAI) == compiled


def test_two_digit_reference_names_a_group_that_exists() -> None:
    twelve = re.compile("".join(f"({digit})" for digit in "123456789012"))
    assert compile_replacement("$12", "f", twelve) == ((0, 12),)
    assert expand(compile_replacement("$12-$1", "f", twelve), (twelve.search("123456789012"),)) == "2-1"


@pytest.mark.parametrize(("replacement", "message"), [
    ("$3", "f: group 3 is referenced, but the pattern has 2 group"),
    ("$<nope>", "f: no pattern of this rule defines the group <nope>"),
])
def test_bad_references_are_refused(replacement: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        compile_replacement(replacement, "f", CLI, PAI)


def test_expand_reads_each_source_and_empties_groups_that_did_not_take_part() -> None:
    replacement = compile_replacement("[$1|$2|$<paid>]", "f", CLI, PAI)
    assert expand(replacement, (CLI.search("441234"), PAI.search("9777"))) == "[|441234|777]"
    assert expand(replacement, (CLI.search("+441234"), None)) == "[+|441234|]"
