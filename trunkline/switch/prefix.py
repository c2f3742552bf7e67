"""Longest-prefix lookup of rate rows without scanning (domain.md §2.4; DESIGN.md, "Performance targets").

`PrefixIndex` is one card: a dict from prefix to row plus the distinct prefix lengths, longest first, so a
lookup is at most one dict probe per length that occurs in the card.

`MergedPrefixIndex` answers for several cards (a customer card and its provider cards) with one such walk,
as CGRateS's reverse destination index does: it is keyed by the union of the cards' prefixes, and each key
holds, per card, the row that card's own longest-prefix match would give for any number whose longest match
in the union is that key. Those vectors are worked out once at build time (shortest keys first, each longer
key inheriting its parent's rows for the cards it does not mention), so a lookup returns a prebuilt tuple
and allocates nothing.

A blocked row is an answer, not a gap: a number under a blocked prefix gets the blocked row, never a
shorter active prefix of the same card. The caller refuses it (domain.md §2.2: a blocked prefix never routes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trunkline.contracts.snapshot import RateRow


def _lengths_longest_first(prefixes: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({len(prefix) for prefix in prefixes}, reverse=True))


class PrefixIndex:
    __slots__ = ("_lengths", "_rows")

    def __init__(self, rows: Iterable[RateRow]) -> None:
        table: dict[str, RateRow] = {}
        for row in rows:
            if row.prefix in table:  # a card has one row per prefix (domain.md §2.2: duplicates break an upload)
                raise ValueError(f"duplicate prefix {row.prefix!r}")
            table[row.prefix] = row
        self._rows = table
        self._lengths = _lengths_longest_first(table)

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> Iterable[RateRow]:
        return self._rows.values()

    def lookup(self, number: str) -> RateRow | None:
        """The row with the longest prefix of `number`, blocked or not; None when no prefix matches."""
        rows = self._rows
        for length in self._lengths:
            row = rows.get(number[:length])
            if row is not None:
                return row
        return None


class MergedPrefixIndex:
    __slots__ = ("_best", "_lengths", "_nothing")

    def __init__(self, cards: Sequence[PrefixIndex]) -> None:
        count = len(cards)
        own: dict[str, list[RateRow | None]] = {}
        for position, card in enumerate(cards):
            for row in card.rows():
                slots = own.get(row.prefix)
                if slots is None:
                    own[row.prefix] = slots = [None] * count
                slots[position] = row
        self._nothing: tuple[RateRow | None, ...] = (None,) * count
        best: dict[str, tuple[RateRow | None, ...]] = {}
        lengths: list[int] = []  # of the keys placed so far, longest first
        for prefix in sorted(own, key=len):
            size = len(prefix)
            parent = None
            for length in lengths:
                if length < size:
                    parent = best.get(prefix[:length])
                    if parent is not None:
                        break
            slots = own[prefix]
            best[prefix] = tuple(slots) if parent is None else tuple(
                [row if row is not None else inherited for row, inherited in zip(slots, parent, strict=True)])
            if not lengths or lengths[0] != size:
                lengths.insert(0, size)
        self._best = best
        self._lengths = tuple(lengths)

    def __len__(self) -> int:
        return len(self._best)

    @property
    def card_count(self) -> int:
        return len(self._nothing)

    def lookup(self, number: str) -> tuple[RateRow | None, ...]:
        """Per card, in the order given, the row its own longest-prefix lookup of `number` would return."""
        best = self._best
        for length in self._lengths:
            rates = best.get(number[:length])
            if rates is not None:
                return rates
        return self._nothing
