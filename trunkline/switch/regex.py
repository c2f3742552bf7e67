"""Patterns and replacements written as the ConnexCS docs write them (PCRE/JavaScript), run by Python's `re`.

Two differences matter for rule data: named groups are `(?<name>...)` there and `(?P<name>...)` here, and a
replacement says `$1`, `\\1` or `$<name>`. Both are translated once, when rules are loaded; a replacement
becomes a tuple of literal text and group references, so applying it is a join, not a template parse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

# A replacement piece is literal text or (source index, group number); a replacement without any group
# reference is kept as the plain string it produces.
GroupRef: TypeAlias = tuple[int, int]
Replacement: TypeAlias = str | tuple[str | GroupRef, ...]

# Digits and the tech-prefix characters * and #, optionally after a + (or a lone +): a number, not a regex.
_LITERAL_NUMBER = re.compile(r"\+[0-9*#]*|[0-9*#]+")
# `$$`, `$<name>`, `$N`/`\N` (one or two digits, as JavaScript reads them), `\\`.
_REPLACEMENT_TOKEN = re.compile(r"\$\$|\$<([A-Za-z_][A-Za-z0-9_]*)>|[$\\]([0-9]{1,2})|\\\\")


class PatternError(ValueError):
    """A rule's pattern or replacement cannot be used; the message names the field and the problem."""


def is_literal_number(text: str) -> bool:
    return _LITERAL_NUMBER.fullmatch(text) is not None


def to_python_regex(pattern: str) -> str:
    """Rewrite `(?<name>` as `(?P<name>`, leaving escapes, character classes and look-behinds alone."""
    if "(?<" not in pattern:
        return pattern
    out: list[str] = []
    index, length, in_class = 0, len(pattern), False
    while index < length:
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # As in `re`, a `]` first in the class (after an optional `^`) is a literal, not the end.
            end = index + 1
            if pattern.startswith("^", end):
                end += 1
            if pattern.startswith("]", end):
                out.append(pattern[index:end + 1])
                index = end + 1
                continue
        elif pattern.startswith("(?<", index) and index + 3 < length and (
                pattern[index + 3].isalpha() or pattern[index + 3] == "_"):
            out.append("(?P<")
            index += 3
            continue
        out.append(char)
        index += 1
    return "".join(out)


def compile_pattern(pattern: str, field: str) -> re.Pattern[str]:
    try:
        return re.compile(to_python_regex(pattern))
    except re.error as exc:
        raise PatternError(f"{field}: {exc.msg} (position {exc.pos}) in {pattern!r}") from None


def compile_replacement(text: str, field: str, main: re.Pattern[str], *others: re.Pattern[str] | None) -> Replacement:
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


def _named_group(name: str, sources: Sequence[re.Pattern[str] | None], field: str) -> GroupRef:
    owners = [(index, source.groupindex[name]) for index, source in enumerate(sources)
              if source is not None and name in source.groupindex]
    if not owners:
        raise PatternError(f"{field}: no pattern of this rule defines the group <{name}>")
    if len(owners) > 1:
        raise PatternError(f"{field}: the group <{name}> is defined by more than one pattern of this rule")
    return owners[0]


def _numbered_group(digits: str, source: re.Pattern[str], field: str) -> tuple[int, str]:
    """The group a `$NN` names and the literal digits left over: two digits name a group only if it exists."""
    if len(digits) == 2 and int(digits) <= source.groups:
        return int(digits), ""
    if int(digits[0]) > source.groups:
        raise PatternError(f"{field}: group {digits[0]} is referenced, but the pattern has "
                           f"{source.groups} group(s)")
    return int(digits[0]), digits[1:]


def expand(replacement: Replacement, matches: Sequence[re.Match[str] | None]) -> str:
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
