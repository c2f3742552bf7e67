"""The PCRE/JavaScript pattern and replacement dialect of rule data, run by RE2 (linear time)."""

from __future__ import annotations

import time

import pytest

from trunkline.switch.regex import (
    Literal,
    Pattern,
    PatternError,
    compile_pattern,
    compile_replacement,
    expand,
    is_literal_number,
)


@pytest.mark.parametrize("pattern", ["^9(?<paid>.*)$", "^9(?P<paid>.*)$"])
def test_named_groups_are_read_in_both_spellings(pattern: str) -> None:
    compiled = compile_pattern(pattern, "f")
    assert (compiled.groups, compiled.groupindex) == (1, {"paid": 1})
    match = compiled.search("9123")
    assert match is not None and match.group(compiled.groupindex["paid"]) == "123"


@pytest.mark.parametrize(("pattern", "text", "found"), [
    (r"^12\Z", "12", "12"),  # PCRE's end of text, RE2's \z
    (r"^12\Z", "123", None),
    (r"^12\z", "12", "12"),
    (r"^1\\Z", "1\\Z", "1\\Z"),  # an escaped backslash, then a Z
    ("[(?<x>]", "<", "<"),  # inside a character class, not a group
    (r"\(?<x>", "<", None),  # an escaped parenthesis then `?<x>`: a `(` is needed
    (r"\(?<x>", "(<x>", "(<x>"),
    ("789$", "123789", "789"),
])
def test_pcre_spellings_mean_what_they_mean_there(pattern: str, text: str, found: str | None) -> None:
    match = compile_pattern(pattern, "f").search(text)
    assert (match.group() if match else None) == found


@pytest.mark.parametrize(("text", "literal"), [
    ("123456789", True), ("+441234", True), ("+", True), ("123#", True), ("*99", True),
    ("", False), ("^1", False), ("789$", False), (".*", False), ("1+", False), ("12 34", False)])
def test_plain_numbers_are_told_from_patterns(text: str, literal: bool) -> None:
    assert is_literal_number(text) is literal


def test_literals_match_the_whole_value_or_its_start() -> None:
    whole, prefix = Literal("+44", whole=True), Literal("+44", whole=False)
    assert [bool(whole.search(text)) for text in ("+44", "+441", "44")] == [True, False, False]
    found = prefix.search("+441234")
    assert found is not None and (found.group(), found.start(), found.end()) == ("+44", 0, 3)
    assert prefix.search("4+44") is None
    assert (whole.groups, whole.groupindex) == (0, {})


@pytest.mark.parametrize(("pattern", "texts", "found"), [
    ("^44", ("4412", "44", "144", "4"), ("44", "44", None, None)),
    ("^12#", ("12#44", "1244"), ("12#", None)),
    ("^44$", ("44", "441", "144"), ("44", None, None)),
])
def test_anchored_numbers_are_compared_as_text(pattern: str, texts: tuple[str, ...],
                                               found: tuple[str | None, ...]) -> None:
    compiled = compile_pattern(pattern, "f")
    assert isinstance(compiled, Literal)
    assert tuple(match.group() if (match := compiled.search(text)) else None for text in texts) == found


@pytest.mark.parametrize("pattern", ["^4+", "^44|^1", "44", "^\\d", "^(44)"])
def test_other_patterns_go_to_the_engine(pattern: str) -> None:
    assert isinstance(compile_pattern(pattern, "f"), Pattern)


@pytest.mark.parametrize(("pattern", "message"), [
    ("[1", "rule #3 cli: missing ] in '[1'"),
    ("^(1", "rule #3 cli: missing ) in '^(1'"),
    ("1)", "rule #3 cli: unexpected ) in '1)'"),
    ("(?<x", "rule #3 cli: invalid named capture group in '(?<x'"),
    (r"^\h", "rule #3 cli: invalid escape sequence `\\h` in '^\\\\h'"),
    ("(?<=1)2", "rule #3 cli: look-behind is not supported (RE2 syntax) in '(?<=1)2'"),
    ("2(?<!1)", "rule #3 cli: look-behind is not supported (RE2 syntax) in '2(?<!1)'"),
    ("1(?=2)", "rule #3 cli: look-ahead is not supported (RE2 syntax) in '1(?=2)'"),
    ("1(?!2)", "rule #3 cli: look-ahead is not supported (RE2 syntax) in '1(?!2)'"),
    (r"(1)\1", "rule #3 cli: the backreference \\1 is not supported (RE2 syntax) in '(1)\\\\1'"),
    ("(?P<a>1)(?P=a)", "rule #3 cli: a named backreference or recursion is not supported (RE2 syntax) in "
                       "'(?P<a>1)(?P=a)'"),
    (r"(?<a>1)\k<a>", "rule #3 cli: a named backreference is not supported (RE2 syntax) in '(?<a>1)\\\\k<a>'"),
    ("(?>1+)2", "rule #3 cli: an atomic group is not supported (RE2 syntax) in '(?>1+)2'"),
    ("1++", "rule #3 cli: the possessive quantifier ++ is not supported (RE2 syntax) in '1++'"),
    (r"\C", "rule #3 cli: \\C (any byte) is not supported (RE2 syntax) in '\\\\C'"),
    (r"\pL{1000}", "rule #3 cli: the pattern is too large (RE2's memory bound is 1024 KiB a pattern) in "
                   "'\\\\pL{1000}'"),
])
def test_unusable_patterns_are_refused_naming_the_field(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as refused:
        compile_pattern(pattern, "rule #3 cli")
    assert str(refused.value) == message


def test_a_catastrophic_pattern_answers_in_linear_time() -> None:
    """`^(\\d+)+$` against digits then an `x` took 3 s at 25 digits with `re`, doubling per digit."""
    compiled = compile_pattern(r"^(\d+)+$", "f")
    started = time.perf_counter()
    for digits in (25, 30, 100_000):
        assert compiled.search("1" * digits + "x") is None
    assert time.perf_counter() - started < 0.05
    match = compiled.search("1" * 30)
    assert match is not None and match.group(1) == "1" * 30


def test_matches_count_characters_not_bytes() -> None:
    match = compile_pattern("(é+)(x)?(\\d)", "f").search("aéé3")
    assert match is not None
    assert (match.group(), match.group(1), match.group(2), match.group(3), match.start(), match.end()) == (
        "éé3", "éé", None, "3", 1, 4)
    # A lone surrogate (JSON can carry one) is searched as an unmatched character.
    lone = compile_pattern("\\d+", "f").search("\ud800123")
    assert lone is not None and (lone.group(), lone.start()) == ("123", 1)


CLI = compile_pattern(r"^(\+)?(?<rest>\d+)$", "cli")
PAI = compile_pattern(r"^9(?P<paid>\d*)$", "pai")


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
    twelve = compile_pattern("".join(f"({digit})" for digit in "123456789012"), "f")
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
