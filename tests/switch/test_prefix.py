"""Longest-prefix lookup (domain.md §2.4): one card, and one probe sequence for several cards at once."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

import pytest

from trunkline.contracts.snapshot import RateRow, RateStatus
from trunkline.switch.prefix import MergedPrefixIndex, PrefixIndex

D = Decimal
DIGITS = "0123456789"


def row(prefix: str, rate: str = "0.01", status: RateStatus = RateStatus.ACTIVE) -> RateRow:
    return RateRow(prefix, D(rate), name=f"dest {prefix}", status=status)


UK = row("441", "0.01")
GUERNSEY = row("441481", "0.05")


@pytest.mark.parametrize(("number", "expected"), [
    ("441481123456", GUERNSEY),  # domain.md §2.4: the longer prefix wins for Guernsey numbers
    ("441482123456", UK),
    ("441", UK),  # the number is exactly the prefix
    ("44148", UK),  # shorter than the longer prefix
    ("44", None),  # shorter than every prefix
    ("4", None),
    ("", None),
    ("331234", None),
])
def test_longest_prefix_wins(number: str, expected: RateRow | None) -> None:
    assert PrefixIndex([UK, GUERNSEY]).lookup(number) is expected


def test_a_blocked_row_is_returned_not_skipped_for_a_shorter_prefix() -> None:
    london_blocked = row("4420", "0.02", RateStatus.BLOCKED)
    index = PrefixIndex([row("44"), london_blocked])
    found = index.lookup("442071234567")
    assert found is london_blocked and found.blocked
    assert index.lookup("441234").prefix == "44"  # type: ignore[union-attr]


def test_duplicate_prefixes_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate prefix '44'"):
        PrefixIndex([row("44"), row("441"), row("44", "0.02")])


class CountingDict(dict[str, RateRow]):
    """Counts probes and refuses to be walked: a lookup must go straight to its keys."""

    probes = 0

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        CountingDict.probes += 1
        return super().get(key, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("a lookup scanned the card")

    items = values = keys = __iter__  # type: ignore[assignment]


def test_a_lookup_probes_once_per_prefix_length_and_never_scans() -> None:
    generator = random.Random(3)
    rows = {str(generator.randrange(10**5, 10**7)): None for _ in range(20_000)}  # lengths 6 and 7 only
    index = PrefixIndex(row(prefix) for prefix in rows)
    index._rows = CountingDict(index._rows)
    CountingDict.probes = 0
    for _ in range(1000):
        index.lookup(str(generator.randrange(10**11, 10**12)))
    assert 1000 <= CountingDict.probes <= 2 * 1000


def test_len_and_rows() -> None:
    index = PrefixIndex([UK, GUERNSEY])
    assert len(index) == 2
    assert set(index.rows()) == {UK, GUERNSEY}


# --- merged index ---------------------------------------------------------------------------------------

CUSTOMER = [row("44", "0.02"), row("4420", "0.03", RateStatus.BLOCKED), row("1", "0.01")]
PROVIDER_A = [row("4", "0.011"), row("442", "0.009"), row("12125", "0.004")]
PROVIDER_B = [row("44207", "0.015", RateStatus.BLOCKED), row("1212", "0.003")]
PROVIDER_C: list[RateRow] = []


def by_prefix(card: list[RateRow], prefix: str) -> RateRow:
    return next(item for item in card if item.prefix == prefix)


@pytest.mark.parametrize(("number", "expected"), [
    ("442071234567", ("4420", "442", "44207", None)),  # blocked rows come back as they are
    ("442081234567", ("4420", "442", None, None)),
    ("441234567890", ("44", "4", None, None)),
    ("4", (None, "4", None, None)),  # matches provider A only
    ("12125550100", ("1", "12125", "1212", None)),
    ("12135550100", ("1", None, None, None)),
    ("331234567890", (None, None, None, None)),
])
def test_merged_lookup_gives_each_cards_own_longest_match(number: str, expected: tuple[str | None, ...]) -> None:
    cards = [CUSTOMER, PROVIDER_A, PROVIDER_B, PROVIDER_C]
    merged = MergedPrefixIndex([PrefixIndex(card) for card in cards])
    got = merged.lookup(number)
    assert got == tuple(None if prefix is None else by_prefix(card, prefix)
                        for card, prefix in zip(cards, expected, strict=True))
    assert got == tuple(PrefixIndex(card).lookup(number) for card in cards)


def test_merged_lookup_returns_prebuilt_tuples() -> None:
    merged = MergedPrefixIndex([PrefixIndex(CUSTOMER), PrefixIndex(PROVIDER_A)])
    assert merged.lookup("442071234567") is merged.lookup("442079999999")
    assert merged.lookup("99") is merged.lookup("98")
    assert merged.card_count == 2
    assert len(merged) == len({item.prefix for item in CUSTOMER + PROVIDER_A})


def test_merged_index_over_no_cards() -> None:
    merged = MergedPrefixIndex([])
    assert merged.lookup("441234") == ()
    assert merged.card_count == 0


def test_merged_index_agrees_with_one_lookup_per_card_on_random_cards() -> None:
    generator = random.Random(11)
    cards = []
    for _ in range(5):
        prefixes = {str(generator.randrange(1, 10)) + "".join(generator.choices(DIGITS, k=generator.randint(0, 6)))
                    for _ in range(3000)}
        cards.append(PrefixIndex(row(prefix, status=generator.choice(list(RateStatus))) for prefix in prefixes))
    merged = MergedPrefixIndex(cards)
    numbers = [str(generator.randrange(10**11, 10**12)) for _ in range(5000)]
    numbers += ["".join(generator.choices(DIGITS, k=generator.randint(0, 8))) for _ in range(2000)]
    matched = 0
    for number in numbers:
        expected = tuple(card.lookup(number) for card in cards)
        assert merged.lookup(number) == expected, number
        matched += sum(found is not None for found in expected)
    assert matched > len(numbers)  # the comparison exercised real matches, not mostly misses
