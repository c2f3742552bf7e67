"""MemoryCounters' live side: all-or-nothing holds, the sliding CPS window, idempotent release, the expiry wheel."""

from __future__ import annotations

from decimal import Decimal

from trunkline.switch.counters import (
    CHANNELS,
    CPS,
    CUSTOMER,
    IP_AUTH,
    PROVIDER,
    ROUTE,
    SIP_USER,
    MemoryCounters,
)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_n_plus_first_channel_is_refused_and_nothing_is_held_for_it() -> None:
    counters = MemoryCounters()
    limits = [(CUSTOMER, 1, 3, 0), (ROUTE, 7, 0, 0)]
    for number in range(3):
        assert counters.acquire(f"c{number}", limits, 2000.0, 1000.0) is None
    assert counters.channels(CUSTOMER, 1) == 3
    assert counters.channels(ROUTE, 7) == 0  # 0 = unlimited: not counted
    assert counters.acquire("c3", limits, 2000.0, 1000.0) == (CUSTOMER, 1, CHANNELS)
    assert counters.channels(CUSTOMER, 1) == 3
    assert counters.held() == 3
    assert counters.release("c3") is False  # refused: it holds nothing
    assert counters.holds() == {"c0": 2000.0, "c1": 2000.0, "c2": 2000.0}


def test_a_refusal_on_a_later_scope_counts_nothing_in_the_earlier_ones() -> None:
    counters = MemoryCounters()
    assert counters.acquire("a", [(ROUTE, 5, 1, 0)], 2000.0, 1000.0) is None
    limits = [(CUSTOMER, 1, 10, 10), (IP_AUTH, 2, 10, 0), (ROUTE, 5, 1, 0)]
    assert counters.acquire("b", limits, 2000.0, 1000.0) == (ROUTE, 5, CHANNELS)
    assert (counters.channels(CUSTOMER, 1), counters.channels(IP_AUTH, 2), counters.channels(ROUTE, 5)) == (0, 0, 1)
    assert counters.cps(CUSTOMER, 1) == 0
    assert counters.held() == 1


def test_release_gives_every_channel_back_once() -> None:
    counters = MemoryCounters()
    limits = [(CUSTOMER, 1, 2, 0), (SIP_USER, 3, 2, 0), (PROVIDER, 101, 2, 0)]
    assert counters.acquire("a", limits, 2000.0, 1000.0) is None
    assert counters.acquire("b", limits, 2000.0, 1000.0) is None
    assert counters.acquire("c", limits, 2000.0, 1000.0) == (CUSTOMER, 1, CHANNELS)
    assert counters.release("a") is True
    assert [counters.channels(scope, key) for scope, key, _, _ in limits] == [1, 1, 1]
    assert counters.release("a") is False  # twice: nothing changes
    assert counters.release("unknown") is False
    assert [counters.channels(scope, key) for scope, key, _, _ in limits] == [1, 1, 1]
    assert counters.acquire("c", limits, 2000.0, 1000.0) is None
    assert counters.release("b") and counters.release("c")
    assert [counters.channels(scope, key) for scope, key, _, _ in limits] == [0, 0, 0]
    assert counters.held() == 0


def test_acquiring_a_held_call_id_again_changes_nothing() -> None:
    counters = MemoryCounters()
    assert counters.acquire("a", [(CUSTOMER, 1, 1, 5)], 2000.0, 1000.0) is None
    assert counters.acquire("a", [(CUSTOMER, 1, 1, 5)], 2000.0, 1000.0) is None
    assert counters.channels(CUSTOMER, 1) == 1
    assert counters.held() == 1


def test_a_5_cps_limit_admits_exactly_5_calls_in_any_one_second_window() -> None:
    clock = Clock(1000.0)
    counters = MemoryCounters(clock)
    limits = [(ROUTE, 1, 0, 5)]
    times = [1000.0, 1000.1, 1000.2, 1000.3, 1000.4]
    for number, at in enumerate(times):
        assert counters.acquire(f"c{number}", limits, 9999.0, at) is None
    # Up to 1001.0 (inclusive) the window (t - 1, t] still holds the start at 1000.0.
    assert counters.acquire("x", limits, 9999.0, 1000.5) == (ROUTE, 1, CPS)
    assert counters.acquire("x", limits, 9999.0, 1000.999999) == (ROUTE, 1, CPS)
    clock.now = 1000.999999
    assert counters.cps(ROUTE, 1) == 5
    assert counters.acquire("x", limits, 9999.0, 1001.0) is None  # 1000.0 left the window exactly at 1001.0
    assert counters.acquire("y", limits, 9999.0, 1001.05) == (ROUTE, 1, CPS)
    clock.now = 1001.05
    assert counters.cps(ROUTE, 1) == 5
    assert counters.acquire("y", limits, 9999.0, 1001.1) is None
    clock.now = 1003.0
    assert counters.cps(ROUTE, 1) == 0
    assert counters.held() == 0  # CPS alone holds no channel
    # Over 3 s of calls offered every 10 ms, no window of one second ever admitted more than 5.
    counters = MemoryCounters(clock)
    admitted = [at / 100 for at in range(200_000, 200_300)
                if counters.acquire(f"t{at}", limits, 9999.0, at / 100) is None]
    assert admitted == [2000.0, 2000.01, 2000.02, 2000.03, 2000.04, 2001.0, 2001.01, 2001.02, 2001.03, 2001.04,
                        2002.0, 2002.01, 2002.02, 2002.03, 2002.04]


def test_a_cps_refusal_counts_no_start_and_a_channel_refusal_no_cps() -> None:
    counters = MemoryCounters(Clock(1000.0))
    assert counters.acquire("a", [(CUSTOMER, 1, 1, 0)], 2000.0, 1000.0) is None
    assert counters.acquire("b", [(CUSTOMER, 1, 1, 0), (ROUTE, 2, 0, 3)], 2000.0, 1000.0) == (CUSTOMER, 1, CHANNELS)
    assert counters.cps(ROUTE, 2) == 0
    assert counters.acquire("c", [(ROUTE, 2, 0, 1)], 2000.0, 1000.0) is None
    assert counters.acquire("d", [(CUSTOMER, 9, 5, 0), (ROUTE, 2, 0, 1)], 2000.0, 1000.0) == (ROUTE, 2, CPS)
    assert counters.channels(CUSTOMER, 9) == 0


def test_expiry_releases_exactly_the_holds_past_their_time() -> None:
    counters = MemoryCounters()
    limits = [(CUSTOMER, 1, 10, 0)]
    for call_id, expires_at in (("a", 1010.2), ("b", 1010.7), ("c", 1011.0), ("d", 1500.0), ("e", 1010.5)):
        assert counters.acquire(call_id, limits, expires_at, 1000.0) is None
    assert counters.release("e")
    assert counters.expire(1010.1) == []
    assert counters.expire(1010.5) == ["a"]  # e was released already
    assert counters.channels(CUSTOMER, 1) == 3
    assert counters.expire(1010.5) == []
    assert counters.expire(1011.0) == ["b", "c"]
    assert counters.release("b") is False  # expired: released once
    assert counters.expire(1499.9) == []
    assert counters.holds() == {"d": 1500.0}
    assert counters.expire(99_999.0) == ["d"]
    assert counters.held() == 0
    assert counters.channels(CUSTOMER, 1) == 0


def test_set_pins_reads_for_decide_and_balances_load_whole() -> None:
    counters = MemoryCounters(Clock(1000.0))
    counters.set(ROUTE, 1, channels=2, cps=3)
    assert (counters.channels(ROUTE, 1), counters.cps(ROUTE, 1)) == (2, 3)
    assert counters.acquire("a", [(ROUTE, 1, 3, 4)], 2000.0, 1000.0) is None
    assert (counters.channels(ROUTE, 1), counters.cps(ROUTE, 1)) == (3, 4)
    assert counters.acquire("b", [(ROUTE, 1, 9, 4)], 2000.0, 1000.0) == (ROUTE, 1, CPS)
    counters.set_balance(1, Decimal("5"))
    counters.load_balances({2: Decimal("1.5")})
    assert (counters.balance(1), counters.balance(2), counters.reserved(2)) == (Decimal(0), Decimal("1.5"), Decimal(0))


def test_calls_let_go_by_events_do_not_pile_up_on_the_expiry_wheel() -> None:
    counters = MemoryCounters()
    limits = [(CUSTOMER, 1, 100_000, 0)]
    for number in range(10_000):
        assert counters.acquire(f"c{number}", limits, 5000.0 + number % 7, 1000.0) is None
    for number in range(7_000):
        assert counters.release(f"c{number}")
    # At the 6,667th release the stale entries outnumbered the live ones twice over: the wheel was rebuilt with
    # the 3,333 live holds; the 333 released since are its only stale entries.
    assert len(counters._wheel) == 3_333
    assert sorted(counters.expire(4999.0)) == []
    assert sorted(counters.expire(10_000.0)) == sorted(f"c{number}" for number in range(7_000, 10_000))
    assert len(counters._wheel) == 0 and counters.held() == 0
