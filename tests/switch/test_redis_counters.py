"""RedisCounters against a real Redis: atomic all-or-nothing holds, the sliding CPS window, two nodes sharing one
limit, a restarted switch still seeing and releasing the holds, expiry. Skips without Redis unless
TRUNKLINE_REQUIRE_SIP=1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.switch.redis_helpers import redis_url_or_skip, unique_prefix
from trunkline.switch.counters import CHANNELS, CPS, CUSTOMER, IP_AUTH, PROVIDER, ROUTE, RedisCounters


def run(scenario: Callable[[str, str], Awaitable[None]]) -> None:
    url = redis_url_or_skip()
    prefix = unique_prefix()

    async def wrapped() -> None:
        try:
            await scenario(url, prefix)
        finally:
            cleaner = RedisCounters(url, prefix=prefix)
            keys = [key async for key in cleaner.redis.scan_iter(match=f"{prefix}:*")]
            if keys:
                await cleaner.redis.delete(*keys)
            await cleaner.aclose()

    asyncio.run(wrapped())


async def _channels(counters: RedisCounters, scope: str, key: int) -> int:
    return int(await counters.redis.get(f"{counters.prefix}:ch:{scope}:{key}") or 0)


def test_a_call_refused_on_its_routes_limit_leaves_the_customer_count_unchanged() -> None:
    async def scenario(url: str, prefix: str) -> None:
        counters = RedisCounters(url, prefix=prefix)
        try:
            assert await counters.acquire("a", [(ROUTE, 5, 1, 0)], 2000.0, 1000.0) is None
            limits = [(CUSTOMER, 1, 10, 10), (IP_AUTH, 2, 10, 0), (ROUTE, 5, 1, 0)]
            assert await counters.acquire("b", limits, 2000.0, 1000.0) == (ROUTE, 5, CHANNELS)
            assert [await _channels(counters, scope, key) for scope, key, _, _ in limits] == [0, 0, 1]
            assert await counters.redis.zcard(f"{prefix}:cps:{CUSTOMER}:1") == 0
            assert await counters.held() == 1
            assert await counters.holds() == {"a": 2000.0}
            # The sync reads decide() makes: 0, the acquire enforces.
            assert (counters.channels(ROUTE, 5), counters.cps(ROUTE, 5)) == (0, 0)
        finally:
            await counters.aclose()

    run(scenario)


def test_the_n_plus_first_channel_is_refused_and_release_is_idempotent() -> None:
    async def scenario(url: str, prefix: str) -> None:
        counters = RedisCounters(url, prefix=prefix)
        try:
            limits = [(CUSTOMER, 1, 3, 0), (PROVIDER, 101, 5, 0)]
            for number in range(3):
                assert await counters.acquire(f"c{number}", limits, 2000.0, 1000.0) is None
            assert await counters.acquire("c3", limits, 2000.0, 1000.0) == (CUSTOMER, 1, CHANNELS)
            assert (await _channels(counters, CUSTOMER, 1), await _channels(counters, PROVIDER, 101)) == (3, 3)
            assert await counters.release("c3") is False
            assert await counters.acquire("c0", limits, 2000.0, 1000.0) is None  # already held: nothing changes
            assert await _channels(counters, CUSTOMER, 1) == 3
            assert await counters.release("c0") is True
            assert await counters.release("c0") is False
            assert await counters.release("nobody") is False
            assert (await _channels(counters, CUSTOMER, 1), await _channels(counters, PROVIDER, 101)) == (2, 2)
            assert await counters.acquire("c3", limits, 2000.0, 1000.0) is None
            for call_id in ("c1", "c2", "c3"):
                assert await counters.release(call_id) is True
            assert await counters.held() == 0
            assert await counters.redis.exists(f"{prefix}:ch:{CUSTOMER}:1") == 0  # a count back at 0 is deleted
        finally:
            await counters.aclose()

    run(scenario)


def test_a_5_cps_limit_admits_exactly_5_calls_in_any_one_second_window() -> None:
    async def scenario(url: str, prefix: str) -> None:
        counters = RedisCounters(url, prefix=prefix)
        try:
            limits = [(ROUTE, 1, 0, 5)]
            for number, at in enumerate((1000.0, 1000.1, 1000.2, 1000.3, 1000.4)):
                assert await counters.acquire(f"c{number}", limits, 9999.0, at) is None
            assert await counters.acquire("x", limits, 9999.0, 1000.5) == (ROUTE, 1, CPS)
            assert await counters.acquire("x", limits, 9999.0, 1000.999999) == (ROUTE, 1, CPS)
            assert await counters.acquire("x", limits, 9999.0, 1001.0) is None
            assert await counters.acquire("y", limits, 9999.0, 1001.05) == (ROUTE, 1, CPS)
            assert await counters.acquire("y", limits, 9999.0, 1001.1) is None
            assert await counters.held() == 0  # CPS alone holds no channel
        finally:
            await counters.aclose()

    run(scenario)


def test_two_nodes_share_one_limit() -> None:
    async def scenario(url: str, prefix: str) -> None:
        one, two = RedisCounters(url, prefix=prefix), RedisCounters(url, prefix=prefix)
        try:
            limits = [(CUSTOMER, 1, 2, 0)]
            assert await one.acquire("a", limits, 2000.0, 1000.0) is None
            assert await two.acquire("b", limits, 2000.0, 1000.0) is None
            assert await one.acquire("c", limits, 2000.0, 1000.0) == (CUSTOMER, 1, CHANNELS)
            assert await two.acquire("c", limits, 2000.0, 1000.0) == (CUSTOMER, 1, CHANNELS)
            assert await two.release("a") is True  # a hold taken by one node, let go through the other
            assert await one.release("a") is False
            assert await one.acquire("c", limits, 2000.0, 1000.0) is None
            assert await _channels(one, CUSTOMER, 1) == 2
            # Calls racing for the last channel from both nodes: exactly one wins.
            assert await one.release("c") is True
            results = await asyncio.gather(*(node.acquire(f"race{number}-{side}", limits, 2000.0, 1000.0)
                                             for number in range(20) for side, node in enumerate((one, two))))
            assert results.count(None) == 1
            assert results.count((CUSTOMER, 1, CHANNELS)) == 39
            assert await one.held() == 2
        finally:
            await one.aclose()
            await two.aclose()

    run(scenario)


def test_a_restarted_switch_still_sees_the_holds_and_releases_them() -> None:
    async def scenario(url: str, prefix: str) -> None:
        before = RedisCounters(url, prefix=prefix)
        limits = [(CUSTOMER, 1, 2, 0), (ROUTE, 3, 1, 0)]
        assert await before.acquire("a", limits, 2000.0, 1000.0) is None
        await before.aclose()
        after = RedisCounters(url, prefix=prefix)  # a new process: nothing in memory
        try:
            assert await after.held() == 1
            assert await after.acquire("b", limits, 2000.0, 1000.0) == (ROUTE, 3, CHANNELS)
            assert await after.release("a") is True
            assert await after.acquire("b", limits, 2000.0, 1000.0) is None
            assert await after.holds() == {"b": 2000.0}
        finally:
            await after.aclose()

    run(scenario)


def test_expiry_releases_exactly_the_holds_past_their_time() -> None:
    async def scenario(url: str, prefix: str) -> None:
        counters = RedisCounters(url, prefix=prefix)
        try:
            limits = [(CUSTOMER, 1, 10, 0)]
            for call_id, expires_at in (("a", 1010.2), ("b", 1010.7), ("c", 1011.0), ("d", 1500.0)):
                assert await counters.acquire(call_id, limits, expires_at, 1000.0) is None
            assert await counters.expire(1010.1) == []
            assert await counters.expire(1010.5) == ["a"]
            assert await _channels(counters, CUSTOMER, 1) == 3
            assert sorted(await counters.expire(1011.0)) == ["b", "c"]
            assert await counters.release("b") is False
            assert await counters.holds() == {"d": 1500.0}
            assert await counters.expire(99_999.0) == ["d"]
            assert await counters.held() == 0
            assert await _channels(counters, CUSTOMER, 1) == 0
        finally:
            await counters.aclose()

    run(scenario)
