"""Call rating: billed seconds, charges and the longest call the money buys (DESIGN.md, "Money and time").

Everything is integer seconds and Decimal money; these run for every call decision and every CDR, so they
are plain arithmetic with no allocation beyond the Decimals they return.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from trunkline.contracts.money import MONEY_PLACES, MONEY_ROUNDING, RATE_PLACES, DurationRounding, RoundingMethod
from trunkline.contracts.snapshot import ZERO, RateRow
from trunkline.switch.prefix import MergedPrefixIndex, PrefixIndex

_SIXTY = Decimal(60)
# Index = decimal places. A card's billing precision is at most the ledger's MONEY_PLACES.
_QUANTA = tuple(Decimal(1).scaleb(-places) for places in range(MONEY_PLACES + 1))


def billed_seconds(duration: int, grace: int, mcd: int, pulse: int) -> int:
    """0 if `duration` <= `grace`; else `mcd` if `duration` <= `mcd`; else `mcd` plus whole pulses."""
    if duration <= grace:
        return 0
    if duration <= mcd:
        return mcd
    return mcd - (mcd - duration) // pulse * pulse  # -((m - d) // p) is ceil((d - m) / p) without floats


def charge(rate: Decimal, connection_fee: Decimal, billed: int | Decimal, places: int = MONEY_PLACES,
           rounding: str = MONEY_ROUNDING) -> Decimal:
    """Connection fee + rate per minute x billed seconds / 60, rounded once to `places` (a card's Billing
    Precision; default the ledger's).

    The fee is due on every connected call, a call inside the grace period included (billed 0 s): DESIGN.md's
    formula has no exception. `rounding` is a `decimal` rounding mode (see RoundingMethod.decimal_rounding).
    A quotient by 60 either terminates or ends in repeating 3s or 6s, so the context's 28-digit rounding of it
    never moves the result across a rounding boundary at `places`.
    """
    return (connection_fee + rate * billed / _SIXTY).quantize(_QUANTA[places], rounding=rounding)


def rate_call(row: RateRow, duration: int) -> Decimal:
    """The charge, at the ledger's precision, of a connected call of `duration` seconds on `row`."""
    return charge(row.rate, row.connection_fee, billed_seconds(duration, row.grace, row.mcd, row.pulse))


def first_increment_charge(row: RateRow) -> Decimal:
    """What the shortest billed call costs on `row`: the money a call must be able to cover to start."""
    return charge(row.rate, row.connection_fee, billed_seconds(row.grace + 1, row.grace, row.mcd, row.pulse))


def max_duration(row: RateRow, available: Decimal) -> int | None:
    """The longest call, in seconds, whose charge on `row` stays within `available`.

    After the connection fee the money buys billed seconds; the answer is the MCD plus the whole pulses that
    fit (a call ending inside a pulse pays for all of it), and never less than the grace period, whose calls
    cost the fee alone. 0 when the fee is not covered; None when the rate is free (the caller then applies the
    route's max_duration).
    """
    remaining = available - row.connection_fee
    if remaining < 0:
        return 0
    if not row.rate:
        return None
    affordable = int(remaining * _SIXTY // row.rate)
    if affordable < row.mcd:
        return row.grace
    return max(row.mcd + (affordable - row.mcd) // row.pulse * row.pulse, row.grace)


def round_duration(seconds: Decimal, method: DurationRounding) -> int:
    """A fractional call duration as whole seconds, by the card's Duration Rounding (domain.md §2.3)."""
    return int(seconds.to_integral_value(rounding=method.decimal_rounding))


#
# Rating CDRs: a card's billing terms, its revisions over time, and a fast exact rater
#
# The rounding rule, written down once: a leg's net charge is connection fee + rate per minute x billed seconds
# / 60, computed exactly and rounded ONCE to the card's billing precision (0..6 decimals) by its rounding method
# (up, down, half-up, half-down); a failed call is billed 0 s and charged 0, no fee. Tax and the ledger's sums
# work on these rounded charges (each call is rounded on its own, domain.md §2.3).

_MICRO = 10**RATE_PLACES  # rates and fees carry RATE_PLACES decimals: as integers of micro-units they are exact
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)
BILLING_PRECISIONS = range(MONEY_PLACES + 1)


@dataclass(frozen=True, slots=True)
class CardTerms:
    """A card's billing terms (domain.md §2.3): charges rounded to `billing_precision` decimals by `rounding`;
    fractional seconds made whole by `duration_rounding`; amounts in `currency`."""

    currency: str
    billing_precision: int = 4
    rounding: RoundingMethod = RoundingMethod.UP
    duration_rounding: DurationRounding = DurationRounding.FULL_UP

    def __post_init__(self) -> None:
        if self.billing_precision not in BILLING_PRECISIONS:
            raise ValueError(f"billing precision must be 0 to {MONEY_PLACES} decimals, not {self.billing_precision!r}")
        object.__setattr__(self, "rounding", RoundingMethod(self.rounding))
        object.__setattr__(self, "duration_rounding", DurationRounding(self.duration_rounding))

    def seconds(self, duration_ms: int) -> int:
        """A call's length in milliseconds as whole seconds, by the duration rounding (60.5 s: full-down 60,
        full-up 61, half-up 61, half-down 60)."""
        method = self.duration_rounding
        if method is DurationRounding.FULL_DOWN:
            return duration_ms // 1000
        if method is DurationRounding.FULL_UP:
            return -(-duration_ms // 1000)
        return (duration_ms + (500 if method is DurationRounding.HALF_UP else 499)) // 1000


class RatedLeg(NamedTuple):
    """One side of a call rated: the row that priced it, whole seconds, billed seconds and the net charge."""

    row: RateRow
    seconds: int
    billed: int
    charge: Decimal


# A row as the rater needs it: the row, its rate in micro-units (None when rate or fee carry more places than
# RATE_PLACES, which the Decimal path then prices), its fee in sixtieths of a micro-unit, grace, MCD and pulse.
_Priced = tuple[RateRow, int | None, int, int, int, int]
# The search tree over a card's prefix lengths: (length, shorter subtree, longer subtree).
_Node = tuple[int, "_Node | None", "_Node | None"]
_ABSENT: tuple[_Priced | None, ...] = ()  # the get() default: no table entry is this object


def _priced(row: RateRow) -> _Priced:
    rate, fee = row.rate.scaleb(RATE_PLACES), row.connection_fee.scaleb(RATE_PLACES)
    exact = rate == rate.to_integral_value() and fee == fee.to_integral_value()
    return (row, int(rate) if exact else None, int(fee) * 60 if exact else 0, row.grace, row.mcd, row.pulse)


def _length_tree(lengths: list[int], low: int, high: int) -> _Node | None:
    if low > high:
        return None
    middle = (low + high) // 2
    return (lengths[middle], _length_tree(lengths, low, middle - 1), _length_tree(lengths, middle + 1, high))


class _LengthSearch:
    """Longest-prefix match for one or several cards at once by a binary search on the prefix lengths (Waldvogel
    et al., "Scalable high speed IP routing lookups", 1997). One dict holds every prefix of the cards and a marker
    on the search's way to each; every entry holds, per card, the row that card's own longest-prefix lookup of
    the entry's digits gives (MergedPrefixIndex works those out). A lookup is about log2(lengths) probes, 3 for a
    deck of lengths 2-9, where a walk of the lengths longest first takes up to 8 per card."""

    __slots__ = ("_get", "_root", "nothing")

    def __init__(self, indexes: Sequence[PrefixIndex], priced: Sequence[dict[str, _Priced]]) -> None:
        prefixes = {row.prefix for index in indexes for row in index.rows()}
        lengths = sorted({len(prefix) for prefix in prefixes})
        self._root = _length_tree(lengths, 0, len(lengths) - 1)
        keys = set(prefixes)
        for prefix in prefixes:
            node, size = self._root, len(prefix)
            while node is not None and node[0] != size:
                if node[0] < size:
                    keys.add(prefix[:node[0]])
                    node = node[2]
                else:
                    node = node[1]
        table: dict[str, tuple[_Priced | None, ...]] = {}
        if len(indexes) == 1:  # one card: its own lookup, without building a merged index first
            only, rows = indexes[0], priced[0]
            for key in keys:
                found = rows.get(key)  # a prefix of the card is its own best match; a marker looks it up
                if found is None:
                    best = only.lookup(key)
                    found = None if best is None else rows[best.prefix]
                table[key] = (found,)
        else:
            merged = MergedPrefixIndex(indexes)
            for key in keys:
                table[key] = tuple(None if row is None else rows[row.prefix]
                                   for row, rows in zip(merged.lookup(key), priced, strict=True))
        self._get = table.get
        self.nothing: tuple[_Priced | None, ...] = (None,) * len(indexes)

    def lookup(self, number: str) -> tuple[_Priced | None, ...]:
        get, node, best = self._get, self._root, self.nothing
        while node is not None:
            found = get(number[:node[0]], _ABSENT)
            if found is _ABSENT:
                node = node[1]
            else:
                best = found
                node = node[2]
        return best


def _bump(method: RoundingMethod, step: int) -> int:
    """Integer division by `step` rounds down; adding this first makes it round by `method` (the step is even:
    60 x a power of ten, so half a step is whole)."""
    return {RoundingMethod.DOWN: 0, RoundingMethod.UP: step - 1, RoundingMethod.HALF_UP: step // 2,
            RoundingMethod.HALF_DOWN: step // 2 - 1}[method]


# The same for whole seconds out of milliseconds.
_MS_BUMP = {DurationRounding.FULL_DOWN: 0, DurationRounding.FULL_UP: 999, DurationRounding.HALF_UP: 500,
            DurationRounding.HALF_DOWN: 499}


class CardVersion:
    """One revision of one card under the card's terms: what a call is rated on (DESIGN.md, "Money and time").

    Charges are worked out in integers (rate and fee in micro-units; fee x 60 + rate x billed is the amount in
    sixtieths of a micro-unit) and rounded once by the card's method with one integer division, so they are exact
    and equal to `charge()`; the Decimal of each rounded amount is made once and reused.
    """

    __slots__ = ("_price", "_priced", "_search", "card_id", "index", "revision_id", "terms")

    def __init__(self, card_id: int, revision_id: int, terms: CardTerms, index: PrefixIndex) -> None:
        self.card_id = card_id
        self.revision_id = revision_id
        self.terms = terms
        self.index = index
        self._priced = {row.prefix: _priced(row) for row in index.rows()}
        self._search: _LengthSearch | None = None  # built on the first lookup of this card alone
        self._price = _pricer(terms)

    def __repr__(self) -> str:
        return f"CardVersion(card {self.card_id}, revision {self.revision_id}, {len(self.index)} rows)"

    def _found(self, number: str) -> _Priced | None:
        if self._search is None:
            self._search = _LengthSearch([self.index], [self._priced])
        return self._search.lookup(number)[0]

    def lookup(self, number: str) -> RateRow | None:
        """The row of the longest prefix of `number` (blocked or not), as PrefixIndex.lookup answers."""
        found = self._found(number)
        return None if found is None else found[0]

    def rate(self, number: str, duration_ms: int | None) -> RatedLeg | None:
        """The leg to `number` lasting `duration_ms` (None: a failed call, billed 0, charged 0, no fee); None when
        no prefix of the card matches."""
        found = self._found(number)
        return None if found is None else self.price(found, duration_ms)

    def price(self, found: _Priced, duration_ms: int | None) -> RatedLeg:
        """The leg on a row `lookup()` found (see `rate()`)."""
        return self._price(found, duration_ms)


def _pricer(terms: CardTerms) -> Callable[[_Priced, int | None], RatedLeg]:
    """The rater of one card's terms, as a closure: the hot loop reads its constants from cells, not attributes."""
    places = terms.billing_precision
    step = 60 * 10 ** (RATE_PLACES - places)  # one unit of the billing precision, in sixtieths of a micro-unit
    bump = _bump(terms.rounding, step)
    ms_bump = _MS_BUMP[terms.duration_rounding]
    amounts: dict[int, Decimal] = {}  # each rounded amount's Decimal, made once
    rounding = terms.rounding.decimal_rounding
    leg = tuple.__new__  # RatedLeg without its Python-level __new__

    def price(found: _Priced, duration_ms: int | None) -> RatedLeg:
        row, rate, fee, grace, mcd, pulse = found
        if duration_ms is None:
            return leg(RatedLeg, (row, 0, 0, ZERO))
        seconds = (duration_ms + ms_bump) // 1000
        if seconds <= grace:
            billed = 0
        elif seconds <= mcd:
            billed = mcd
        else:
            billed = mcd - (mcd - seconds) // pulse * pulse
        if rate is None:
            return leg(RatedLeg, (row, seconds, billed, charge(row.rate, row.connection_fee, billed, places,
                                                               rounding)))
        units = (fee + rate * billed + bump) // step
        amount = amounts.get(units)
        if amount is None:
            amount = amounts[units] = Decimal(units).scaleb(-places)
        return leg(RatedLeg, (row, seconds, billed, amount))

    return price


def rate_leg(version: CardVersion, number: str, duration_ms: int | None) -> RatedLeg | None:
    """`version.rate()`: the leg to `number` rated on one card revision (None: no prefix matches)."""
    return version.rate(number, duration_ms)


def rate_legs(version: CardVersion, legs: Iterable[tuple[str, int | None]]) -> list[RatedLeg | None]:
    """Many (number, duration_ms) legs on one card revision, in order."""
    rate = version.rate
    return [rate(number, duration_ms) for number, duration_ms in legs]


class RatingPlan:
    """A customer card revision and the revisions of its provider cards, searched together: one lookup of a
    number gives the sell row and every buy row (a CDR's two sides) at once."""

    __slots__ = ("_search", "positions", "versions")

    def __init__(self, versions: Sequence[CardVersion]) -> None:
        self.versions = tuple(versions)
        self.positions = {version.card_id: position for position, version in enumerate(self.versions)}
        self._search = _LengthSearch([version.index for version in versions],
                                     [version._priced for version in versions])

    def rate(self, number: str, duration_ms: int | None, position: int | None) -> tuple[RatedLeg | None,
                                                                                       RatedLeg | None]:
        """The leg on the first version (the customer's) and on version `position` (the provider's; None: no
        provider side); a side is None when its card has no prefix of `number`."""
        found = self._search.lookup(number)
        sell = found[0]
        customer = None if sell is None else self.versions[0].price(sell, duration_ms)
        if position is None:
            return customer, None
        buy = found[position]
        return customer, None if buy is None else self.versions[position].price(buy, duration_ms)

    def rate_batch(self, calls: Iterable[tuple[str, int | None, int | None]]) -> list[tuple[RatedLeg | None,
                                                                                         RatedLeg | None]]:
        """`rate()` of many (number, duration_ms, provider position) in order; the search is inlined (this is
        the loop a rating worker spends its time in)."""
        get, root, nothing = self._search._get, self._search._root, self._search.nothing
        prices = [version._price for version in self.versions]
        sell_price = prices[0]
        out: list[tuple[RatedLeg | None, RatedLeg | None]] = []
        append = out.append
        for number, duration_ms, position in calls:
            node, found = root, nothing
            while node is not None:
                entry = get(number[:node[0]], _ABSENT)
                if entry is _ABSENT:
                    node = node[1]
                else:
                    found = entry
                    node = node[2]
            sell = found[0]
            buy = found[position] if position is not None else None
            append((None if sell is None else sell_price(sell, duration_ms),
                    None if buy is None else prices[position](buy, duration_ms)))  # type: ignore[index]
        return out


def epoch_us(when: datetime) -> int:
    """An aware datetime as whole microseconds since 1970 (exact, unlike timestamp()'s float)."""
    return (when - _EPOCH) // _ONE_MICROSECOND


class CardTimeline:
    """Which revision of one card was live when: (live_from, revision id) in activation order. A revision is
    live from its activation until the next one; a call before the card's first activation is rated on the first
    revision that went live (calls imported from before the card existed here still get a price)."""

    __slots__ = ("_revisions", "_starts", "card_id")

    def __init__(self, card_id: int, activations: Iterable[tuple[datetime, int]]) -> None:
        ordered = sorted(((epoch_us(when), revision) for when, revision in activations), key=lambda item: item[0])
        self.card_id = card_id
        self._starts = [start for start, _ in ordered]
        self._revisions = [revision for _, revision in ordered]

    def __len__(self) -> int:
        return len(self._starts)

    def at(self, when: datetime) -> int | None:
        """The revision live at `when` (an activation at exactly `when` counts); None when none ever went live."""
        if not self._starts:
            return None
        position = bisect_right(self._starts, epoch_us(when)) - 1
        return self._revisions[max(position, 0)]
