"""Patterns and replacements written as the ConnexCS docs write them (PCRE/JavaScript), run by RE2.

Every pattern here is written by an operator or a customer, so it runs on RE2 (google-re2), whose matching time
is linear in the input whatever the pattern: Python's backtracking `re` took 3 s, doubling per digit, to find
that `^(\\d+)+$` does not match 25 digits and an `x`. RE2 reads PCRE syntax except what needs backtracking:
look-arounds, backreferences, atomic groups and possessive quantifiers are refused with an error naming the
field. Named groups may be written `(?<name>...)` (as PCRE and JavaScript do) or `(?P<name>...)`; PCRE's `\\Z`
is read as RE2's `\\z` (end of text). A replacement says `$1`, `\\1` or `$<name>`; it is translated once, when
rules are loaded, into a tuple of literal text and group references, so applying it is a join, not a template
parse.

A plain number (digits, * and #, optional leading +), and a pattern that only anchors digits (`^44`, `^44$`), is
matched as text by `Literal`, with no engine at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

import re2
from re2 import _re2

# A replacement piece is literal text or (source index, group number); a replacement without any group
# reference is kept as the plain string it produces.
GroupRef: TypeAlias = tuple[int, int]
Replacement: TypeAlias = str | tuple[str | GroupRef, ...]

# Our own constant patterns (not user-supplied, no nested repetition) stay on `re`.
# Digits and the tech-prefix characters * and #, optionally after a + (or a lone +): a number, not a regex.
_LITERAL_NUMBER = re.compile(r"\+[0-9*#]*|[0-9*#]+")
# `^` then digits (and #), optionally `$`: "starts with" or "is" a number, the commonest patterns of rule data
# (`^44` in a dial string, `^1555` in a CLI rule), compared as text: a call to the engine costs several times more.
_ANCHORED_NUMBER = re.compile(r"\^([0-9#]+)(\$?)")
# `$$`, `$<name>`, `$N`/`\N` (one or two digits, as JavaScript reads them), `\\`.
_REPLACEMENT_TOKEN = re.compile(r"\$\$|\$<([A-Za-z_][A-Za-z0-9_]*)>|[$\\]([0-9]{1,2})|\\\\")

# The longest number, CLI or P-Asserted-ID a Testing box takes (E.164 numbers have at most 15 digits, a tech
# prefix adds a few): the engine is linear, so this bounds the work of one request, not a blow-up.
MAX_SUBJECT_LENGTH = 64
# The most rules one Testing request may try unsaved.
MAX_TESTED_RULES = 50

# RE2's memory bound for one compiled pattern (program and match caches). A 200-character pattern (the models'
# max_length) fits with room to spare unless it repeats a large class a thousand times (`\pL{1000}`), which is
# refused; compiling stays within a few milliseconds.
MAX_MEMORY = 1 << 20
_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_MEMORY
_OPTIONS.log_errors = False  # an error is raised as PatternError; RE2 would also print it to stderr
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_NO_SPAN = (-1, -1)

# RE2's error for syntax that needs backtracking, by the fragment it quotes, and what the operator wrote.
_UNSUPPORTED = {"(?=": "look-ahead", "(?!": "look-ahead", "(?<=": "look-behind", "(?<!": "look-behind",
                "(?>": "an atomic group", "(?P": "a named backreference or recursion", "(?R": "recursion",
                "\\k": "a named backreference", "\\g": "a backreference",
                **{f"\\{digit}": f"the backreference \\{digit}" for digit in "123456789"}}


class PatternError(ValueError):
    """A rule's pattern or replacement cannot be used; the message names the field and the problem."""


def is_literal_number(text: str) -> bool:
    return _LITERAL_NUMBER.fullmatch(text) is not None


class Match:
    """Where a pattern matched: group(n) is the text of group n, None for a group that took no part."""

    __slots__ = ("_spans", "_text")

    def __init__(self, text: str, spans: Sequence[tuple[int, int]]) -> None:
        self._text = text
        self._spans = spans

    def group(self, index: int = 0) -> str | None:
        start, end = self._spans[index]
        return None if start < 0 else self._text[start:end]

    def start(self) -> int:
        return self._spans[0][0]

    def end(self) -> int:
        return self._spans[0][1]


class Pattern:
    """A pattern compiled by RE2, searched through google-re2's extension module on UTF-8 bytes. Its `re`-like
    wrapper maps byte offsets back to str offsets through a generator and dictionaries on every call: 10 µs a
    search of a 12-digit number against 2 µs here, and decide() searches on every call."""

    __slots__ = ("_re2", "groupindex", "groups", "pattern")

    def __init__(self, pattern: str, field: str) -> None:
        self.pattern = pattern
        # surrogatepass: a lone surrogate (JSON can carry one) reaches RE2 as invalid UTF-8, which it refuses.
        syntax = _re2_syntax(pattern, field)
        self._re2 = _re2.RE2(syntax.encode("utf-8", "surrogatepass"), _OPTIONS)
        if not self._re2.ok():
            problem = _problem(self._re2.error().decode("utf-8", "replace"), syntax)
            raise PatternError(f"{field}: {problem} in {pattern!r}")
        self.groups: int = self._re2.NumberOfCapturingGroups()
        self.groupindex: dict[str, int] = {name.decode(): index for name, index in self._re2.NamedCapturingGroups()}

    def search(self, text: str) -> Match | None:
        """The first match anywhere in `text`."""
        data = text.encode("utf-8", "replace")  # a lone surrogate becomes one `?`, so offsets still line up
        spans = self._re2.Match(_UNANCHORED, data, 0, len(data))
        if spans[0] == _NO_SPAN:
            return None
        if len(data) != len(text):  # not ASCII: RE2 counts bytes, Python characters
            spans = [span if span == _NO_SPAN else (len(data[:span[0]].decode()), len(data[:span[1]].decode()))
                     for span in spans]
        return Match(text, spans)


class Literal:
    """A plain number matched as text: the whole value must equal it (`whole`), or start with it (a prefix)."""

    __slots__ = ("_span", "_text", "_whole")
    groups = 0
    groupindex: dict[str, int] = {}

    def __init__(self, text: str, *, whole: bool) -> None:
        self._text = text
        self._whole = whole
        self._span = ((0, len(text)),)

    def search(self, text: str) -> Match | None:
        if text == self._text or (not self._whole and text.startswith(self._text)):
            return Match(text, self._span)
        return None


Matcher: TypeAlias = Pattern | Literal


def compile_pattern(pattern: str, field: str) -> Matcher:
    anchored = _ANCHORED_NUMBER.fullmatch(pattern)
    if anchored is not None:
        return Literal(anchored.group(1), whole=anchored.group(2) == "$")
    return Pattern(pattern, field)


def _problem(error: str, pattern: str) -> str:
    """RE2's error ("missing ): ^(12", "invalid perl operator: (?<=") as the operator reads it."""
    what, _, fragment = error.partition(": ")
    if what in ("invalid perl operator", "invalid escape sequence") and fragment in _UNSUPPORTED:
        return f"{_UNSUPPORTED[fragment]} is not supported (RE2 syntax)"
    if what == "bad repetition operator" and fragment.endswith("+"):
        return f"the possessive quantifier {fragment} is not supported (RE2 syntax)"
    if what == "pattern too large - compile failed":
        return f"the pattern is too large (RE2's memory bound is {MAX_MEMORY // 1024} KiB a pattern)"
    # RE2 quotes the whole pattern for an unbalanced one; the message shows it anyway.
    return f"{what} `{fragment}`" if fragment and fragment != pattern else what


def _re2_syntax(pattern: str, field: str) -> str:
    r"""Read PCRE's `\Z` (end of text; no value holds a newline) as RE2's `\z`, and refuse `\C`, which matches a
    single byte of a character. Escapes are taken in pairs, so `\\Z` stays a backslash and a Z."""
    if "\\" not in pattern:
        return pattern
    out: list[str] = []
    index = 0
    while (found := pattern.find("\\", index)) >= 0:
        escape = pattern[found:found + 2]
        if escape == "\\C":
            raise PatternError(f"{field}: \\C (any byte) is not supported (RE2 syntax) in {pattern!r}")
        out.extend((pattern[index:found], "\\z" if escape == "\\Z" else escape))
        index = found + 2
    out.append(pattern[index:])
    return "".join(out)


def compile_replacement(text: str, field: str, main: Matcher, *others: Matcher | None) -> Replacement:
    """Translate a replacement applied after `main` (source 0) and `others` (sources 1...) matched.

    Numbered groups (`$0` = the whole match) come from `main`; a named group from whichever pattern defines
    it (domain.md §3.2: numbered groups are read from the CLI match only, named ones anywhere).
    """
    sources = (main, *others)
    pieces: list[str | GroupRef] = []
    position = 0
    for token in _REPLACEMENT_TOKEN.finditer(text):
        pieces.append(text[position:token.start()])
        position = token.end()
        name, digits = token.group(1), token.group(2)
        if name is not None:
            pieces.append(_named_group(name, sources, field))
        elif digits is not None:
            number, rest = _numbered_group(digits, main, field)
            pieces.extend(((0, number), rest))
        else:  # `$$` or `\\`: the character itself
            pieces.append(token.group()[0])
    pieces.append(text[position:])
    merged: list[str | GroupRef] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif piece != "":
            merged.append(piece)
    if not merged:
        return ""
    if len(merged) == 1 and isinstance(merged[0], str):
        return merged[0]
    return tuple(merged)


def _named_group(name: str, sources: Sequence[Matcher | None], field: str) -> GroupRef:
    owners = [(index, source.groupindex[name]) for index, source in enumerate(sources)
              if source is not None and name in source.groupindex]
    if not owners:
        raise PatternError(f"{field}: no pattern of this rule defines the group <{name}>")
    if len(owners) > 1:
        raise PatternError(f"{field}: the group <{name}> is defined by more than one pattern of this rule")
    return owners[0]


def _numbered_group(digits: str, source: Matcher, field: str) -> tuple[int, str]:
    """The group a `$NN` names and the literal digits left over: two digits name a group only if it exists."""
    if len(digits) == 2 and int(digits) <= source.groups:
        return int(digits), ""
    if int(digits[0]) > source.groups:
        raise PatternError(f"{field}: group {digits[0]} is referenced, but the pattern has "
                           f"{source.groups} group(s)")
    return int(digits[0]), digits[1:]


def expand(replacement: Replacement, matches: Sequence[Match | None]) -> str:
    if isinstance(replacement, str):
        return replacement
    parts: list[str] = []
    for piece in replacement:
        if isinstance(piece, str):
            parts.append(piece)
        else:
            match = matches[piece[0]]
            # A group that took no part in the match contributes nothing, as in JavaScript.
            parts.append((match.group(piece[1]) or "") if match is not None else "")
    return "".join(parts)
