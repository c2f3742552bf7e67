"""What changes with every call, which decide() reads and never writes: balances, reservations, live counts.

None of it is in the routing snapshot (schema v3): a snapshot is rebuilt when an operator changes routing, while
these move with every call and charge. decide() reads them through `Counters`: fed from the database on the
web/worker side (`trunkline.routing.counters` for Simulate), by the switch's live counters when calls arrive.

The live side (`LiveCounters`, used by the switch's Engine) takes a routed call's channels and CPS: `acquire()`
checks every limited scope of the call and counts it in all of them, or in none. Only scopes with a non-zero
limit are counted (0 = unlimited needs no count): a channel count per (scope, id) with a channel limit, a
sliding one-second window of start times per (scope, id) with a CPS limit. A call holds its channels until
`release()` (the failed/ended event) or `expire()` at the expiry the engine gave it; a call none of whose scopes
has a channel limit holds nothing.

- `MemoryCounters`: in the process (the default; one switch process). A CPS window admits exactly `cps` starts
  in any window (t - 1 s, t], timed in integer microseconds so a window's edge is exact.
- `RedisCounters` (COUNTERS_URL): the same in Redis, shared by every switch process and node: one Lua script
  checks and counts atomically, the holds live in Redis (a hash call id -> its channel keys, a sorted set by
  expiry), so another node or a restarted switch releases and expires them. Its methods are coroutines; the
  synchronous reads decide() makes return 0 for channels and CPS (the atomic acquire is the enforcement: a call
  over a limit is refused there, after decide(), with the same 503 and reason).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from time import time
from typing import Any, Protocol

# Counter scopes, as the switch keys its live counters.
CUSTOMER = "customer"
IP_AUTH = "ip_auth"
SIP_USER = "sip_user"
ROUTE = "route"
PROVIDER = "provider"
# What a refused acquire ran out of.
CHANNELS = "channels"
CPS = "cps"

# (scope, id, channels, cps) of a limited scope, as fast.py's legs hold them; 0 = that one is unlimited.
Limit = tuple[str, int, int, int]
# (scope, id, CHANNELS or CPS): the first limit, in the order given, that refused a call.
Refusal = tuple[str, int, str]

_ZERO = Decimal(0)
_WINDOW_US = 1_000_000
_REBUILD_AT = 4096  # stale wheel entries tolerated whatever the live count


class Counters(Protocol):
    """Calls up now and calls started in the last second, per scope/id; a customer's money."""

    def channels(self, scope: str, key: int) -> int: ...

    def cps(self, scope: str, key: int) -> int: ...

    def balance(self, customer_id: int) -> Decimal:
        """The customer's balance; may be negative (postpaid, within the debit limit)."""
        ...

    def reserved(self, customer_id: int) -> Decimal:
        """What calls up now have reserved and not yet charged."""
        ...

    def tax_rate(self, customer_id: int) -> Decimal:
        """The customer's tax rate in percent, added to every call charge (0 when unknown)."""
        ...


class LiveCounters(Counters, Protocol):
    """Counters the switch takes and gives back, in the process: nothing here suspends."""

    def acquire(self, call_id: str, limits: Sequence[Limit], expires_at: float, now: float) -> Refusal | None:
        """Count the call in every limited scope of `limits`, or refuse it and count nothing.

        None: taken (or already held by this call id: nothing changes). A hold is kept when a scope has a
        channel limit, until release() or expire() at `expires_at`.
        """
        ...

    def release(self, call_id: str) -> bool:
        """Give the call's channels back; False (and nothing changes) when it holds none."""
        ...

    def expire(self, now: float) -> list[str]:
        """Release the holds whose expires_at <= now; their call ids."""
        ...

    def held(self) -> int: ...

    def load_balances(self, balances: Mapping[int, Decimal], tax_rates: Mapping[int, Decimal] | None = None
                      ) -> None: ...

    def reserve_call(self, call_id: str, customer_id: int, want: Decimal, least: Decimal, funds: Decimal,
                     expires_at: float) -> Decimal | None:
        """Add to the call's reservation what the customer has available (`funds` - reserved: `funds` is the
        balance plus the debit limit), up to `want`; None (nothing taken) when that is less than `least`. The
        amount taken (0 when nothing is available). The reservation is let go by release_reservation() or at
        `expires_at` (the latest given) by expire_reservations()."""
        ...

    def release_reservation(self, call_id: str) -> Decimal:
        """Let go of everything the call reserved; what that was (0 when it held nothing)."""
        ...

    def expire_reservations(self, now: float) -> list[str]: ...


class AsyncLiveCounters(Counters, Protocol):
    """LiveCounters shared through a server: the same operations as coroutines."""

    async def acquire(self, call_id: str, limits: Sequence[Limit], expires_at: float,
                      now: float) -> Refusal | None: ...

    async def release(self, call_id: str) -> bool: ...

    async def expire(self, now: float) -> list[str]: ...

    async def held(self) -> int: ...

    def load_balances(self, balances: Mapping[int, Decimal], tax_rates: Mapping[int, Decimal] | None = None
                      ) -> None: ...

    async def reserve_call(self, call_id: str, customer_id: int, want: Decimal, least: Decimal, funds: Decimal,
                           expires_at: float) -> Decimal | None: ...

    async def release_reservation(self, call_id: str) -> Decimal: ...

    async def expire_reservations(self, now: float) -> list[str]: ...


class ExpiryWheel:
    """Call ids by the whole second of their expiry, a heap of those seconds: expiring costs what is due, not a scan.

    A call let go before its expiry leaves a stale entry (removing it from its bucket would cost a list scan):
    `forget()` counts them, and when they outnumber the live ones twice over (and a few thousand), the owner
    rebuilds the wheel with `rebuild()`, so a switch whose calls all end by events holds no week-old ids.
    """

    __slots__ = ("_buckets", "_seconds", "_stale")

    def __init__(self) -> None:
        self._buckets: dict[int, list[str]] = {}
        self._seconds: list[int] = []
        self._stale = 0

    def add(self, call_id: str, expires_at: float) -> None:
        second = int(expires_at)
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = []
            heapq.heappush(self._seconds, second)
        bucket.append(call_id)

    def forget(self, live: int) -> bool:
        """One entry went stale; True when the owner should rebuild() (stale entries outnumber `live` ones)."""
        self._stale += 1
        return self._stale > _REBUILD_AT and self._stale > 2 * live

    def rebuild(self, entries: Iterable[tuple[str, float]]) -> None:
        self._buckets, self._seconds, self._stale = {}, [], 0
        for call_id, expires_at in entries:
            self.add(call_id, expires_at)

    def due(self, now: float, expiry: Callable[[str], float | None]) -> list[str]:
        """The call ids whose `expiry` (None: let go already) is <= now, taken off the wheel."""
        found: list[str] = []
        seconds, buckets = self._seconds, self._buckets
        while seconds and seconds[0] <= now:
            second = seconds[0]
            waiting = []
            for call_id in buckets[second]:
                expires_at = expiry(call_id)
                if expires_at is None:
                    self._stale = max(self._stale - 1, 0)
                elif expires_at <= now:
                    found.append(call_id)
                elif int(expires_at) == second:  # later in this second: stays for a later pass
                    waiting.append(call_id)
            if waiting:
                buckets[second] = waiting
                break
            heapq.heappop(seconds)
            del buckets[second]
        return found

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets.values())


class MemoryCounters:
    """Live counters held in the process; also what tests, the simulator and the benchmark set by hand.

    `set()` pins a scope's counts for decide()'s reads (tests): channels are the live count itself, a pinned CPS
    adds to the window's. `clock` times the CPS reads (decide() passes no time); acquire() takes `now`.
    """

    __slots__ = ("_balances", "_calls", "_channels", "_clock", "_cps", "_holds", "_money_wheel", "_pinned",
                 "_reserved", "_taxes", "_wheel", "_windows")

    def __init__(self, clock: Callable[[], float] = time) -> None:
        self._clock = clock
        self._channels: dict[tuple[str, int], int] = {}
        self._cps: dict[tuple[str, int], int] = {}  # pinned by set()
        self._windows: dict[tuple[str, int], deque[int]] = {}  # start times, integer microseconds, oldest first
        self._holds: dict[str, tuple[float, tuple[tuple[str, int], ...]]] = {}  # call id -> (expires_at, keys)
        self._wheel = ExpiryWheel()
        self._balances: dict[int, Decimal] = {}
        self._taxes: dict[int, Decimal] = {}
        self._pinned: dict[int, Decimal] = {}  # by reserve() (tests, the simulator)
        self._reserved: dict[int, Decimal] = {}  # pinned plus the calls' reservations, per customer
        self._calls: dict[str, tuple[int, Decimal, float]] = {}  # call id -> (customer, reserved, expires_at)
        self._money_wheel = ExpiryWheel()

    # Test and simulator setters.

    def set(self, scope: str, key: int, channels: int = 0, cps: int = 0) -> None:
        self._channels[scope, key] = channels
        self._cps[scope, key] = cps

    def set_balance(self, customer_id: int, amount: Decimal) -> None:
        self._balances[customer_id] = amount

    def reserve(self, customer_id: int, amount: Decimal) -> None:
        """Pin an amount reserved besides the calls' reservations."""
        self._reserved[customer_id] = self._reserved.get(customer_id, _ZERO) - self._pinned.get(
            customer_id, _ZERO) + amount
        self._pinned[customer_id] = amount

    def load_balances(self, balances: Mapping[int, Decimal], tax_rates: Mapping[int, Decimal] | None = None
                      ) -> None:
        self._balances = dict(balances)
        if tax_rates is not None:
            self._taxes = dict(tax_rates)

    # Reads (decide()).

    def channels(self, scope: str, key: int) -> int:
        return self._channels.get((scope, key), 0)

    def cps(self, scope: str, key: int) -> int:
        pinned = self._cps.get((scope, key), 0) if self._cps else 0
        window = self._windows.get((scope, key))
        if not window:
            return pinned
        floor = round(self._clock() * 1e6) - _WINDOW_US
        while window and window[0] <= floor:
            window.popleft()
        return pinned + len(window)

    def balance(self, customer_id: int) -> Decimal:
        return self._balances.get(customer_id, _ZERO)

    def reserved(self, customer_id: int) -> Decimal:
        return self._reserved.get(customer_id, _ZERO)

    def tax_rate(self, customer_id: int) -> Decimal:
        return self._taxes.get(customer_id, _ZERO)

    # Reservations.

    def reserve_call(self, call_id: str, customer_id: int, want: Decimal, least: Decimal, funds: Decimal,
                     expires_at: float) -> Decimal | None:
        reserved = self._reserved.get(customer_id, _ZERO)
        available = funds - reserved
        if available < least:
            return None
        taken = max(min(want, available), _ZERO)
        self._reserved[customer_id] = reserved + taken
        had = self._calls.get(call_id)
        if had is None or had[2] != expires_at:
            self._money_wheel.add(call_id, expires_at)
        self._calls[call_id] = (customer_id, (had[1] if had else _ZERO) + taken,
                                max(expires_at, had[2]) if had else expires_at)
        return taken

    def release_reservation(self, call_id: str) -> Decimal:
        amount = self._let_money_go(call_id)
        if amount is not None and self._money_wheel.forget(len(self._calls)):
            self._money_wheel.rebuild((known, call[2]) for known, call in self._calls.items())
        return amount or _ZERO

    def _let_money_go(self, call_id: str) -> Decimal | None:
        call = self._calls.pop(call_id, None)
        if call is None:
            return None
        customer_id, amount, _ = call
        left = self._reserved.get(customer_id, _ZERO) - amount
        if left or customer_id in self._pinned:
            self._reserved[customer_id] = left
        else:
            del self._reserved[customer_id]
        return amount

    def expire_reservations(self, now: float) -> list[str]:
        calls = self._calls
        due = self._money_wheel.due(now, lambda call_id: call[2] if (call := calls.get(call_id)) else None)
        return [call_id for call_id in due if self._let_money_go(call_id) is not None]

    def reservations(self) -> dict[str, Decimal]:
        """Each reserving call's amount (tests, the engine's live list)."""
        return {call_id: call[1] for call_id, call in self._calls.items()}

    # The live side.

    def acquire(self, call_id: str, limits: Sequence[Limit], expires_at: float, now: float) -> Refusal | None:
        if call_id in self._holds:
            return None
        channels, windows, pinned = self._channels, self._windows, self._cps
        stamp = round(now * 1e6)
        floor = stamp - _WINDOW_US
        for scope, key, channel_limit, cps_limit in limits:
            if channel_limit and channels.get((scope, key), 0) >= channel_limit:
                return scope, key, CHANNELS
            if cps_limit:
                window = windows.get((scope, key))
                started = pinned.get((scope, key), 0) if pinned else 0
                if window:
                    while window and window[0] <= floor:
                        window.popleft()
                    started += len(window)
                if started >= cps_limit:
                    return scope, key, CPS
        held: list[tuple[str, int]] = []
        for scope, key, channel_limit, cps_limit in limits:
            if channel_limit:
                counted = (scope, key)
                channels[counted] = channels.get(counted, 0) + 1
                held.append(counted)
            if cps_limit:
                window = windows.get((scope, key))
                if window is None:
                    window = windows[scope, key] = deque()
                window.append(stamp)
        if held:
            self._holds[call_id] = (expires_at, tuple(held))
            self._wheel.add(call_id, expires_at)
        return None

    def release(self, call_id: str) -> bool:
        if not self._let_go(call_id):
            return False
        if self._wheel.forget(len(self._holds)):  # its wheel entry went stale
            self._wheel.rebuild((held, hold[0]) for held, hold in self._holds.items())
        return True

    def _let_go(self, call_id: str) -> bool:
        hold = self._holds.pop(call_id, None)
        if hold is None:
            return False
        channels = self._channels
        for counted in hold[1]:
            left = channels.get(counted, 0) - 1
            if left > 0:
                channels[counted] = left
            else:
                channels.pop(counted, None)
        return True

    def expire(self, now: float) -> list[str]:
        holds = self._holds
        due = self._wheel.due(now, lambda call_id: hold[0] if (hold := holds.get(call_id)) else None)
        return [call_id for call_id in due if self._let_go(call_id)]  # once, were it twice on the wheel

    def held(self) -> int:
        return len(self._holds)

    def holds(self) -> dict[str, float]:
        """Held call ids and their expiry (for the engine's list of live calls and tests)."""
        return {call_id: hold[0] for call_id, hold in self._holds.items()}


# KEYS: holds hash, expiry zset, then one key per check. ARGV: call id, expires_at, now (µs), then per check its
# kind ("c" channels / "r" rate) followed by its limit, e.g. "c5". Returns 0 (taken), -1 (already held) or the
# 1-based number of the check that refused.
_ACQUIRE = """
local holds, expiry = KEYS[1], KEYS[2]
local call_id, expires_at, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('HEXISTS', holds, call_id) == 1 then return -1 end
local n = #KEYS - 2
for i = 1, n do
  local check, key = ARGV[3 + i], KEYS[2 + i]
  local limit = tonumber(string.sub(check, 2))
  if string.sub(check, 1, 1) == 'c' then
    if tonumber(redis.call('GET', key) or '0') >= limit then return i end
  else
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 1000000)
    if redis.call('ZCARD', key) >= limit then return i end
  end
end
local held = {}
for i = 1, n do
  local key = KEYS[2 + i]
  if string.sub(ARGV[3 + i], 1, 1) == 'c' then
    redis.call('INCR', key)
    held[#held + 1] = key
  else
    redis.call('ZADD', key, now, call_id)
    redis.call('PEXPIRE', key, 2000)
  end
end
if #held > 0 then
  redis.call('HSET', holds, call_id, table.concat(held, ' '))
  redis.call('ZADD', expiry, expires_at, call_id)
end
return 0
"""

# The channel keys a hold names are read from the holds hash: a standalone Redis (or one hash slot), not a cluster.
_RELEASE_ONE = """
local function release(holds, expiry, call_id)
  local keys = redis.call('HGET', holds, call_id)
  if not keys then return 0 end
  for key in string.gmatch(keys, '%S+') do
    if redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
  end
  redis.call('HDEL', holds, call_id)
  redis.call('ZREM', expiry, call_id)
  return 1
end
"""
_RELEASE = _RELEASE_ONE + "return release(KEYS[1], KEYS[2], ARGV[1])"
# ARGV: now (seconds), how many at most.
_EXPIRE = _RELEASE_ONE + """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, call_id in ipairs(due) do release(KEYS[1], KEYS[2], call_id) end
return due
"""


# Reservations in micro-units (integers: Lua numbers are doubles, exact to 2^53 micro-units, 9e9 in money).
# KEYS: calls hash (call id -> "<customer> <micros>"), expiry zset, the customer's reserved key. ARGV: call id,
# customer id, want, least, funds (micro-units), expires_at. Returns {taken, reserved after} or {-1, reserved}.
_RESERVE = """
local reserved = tonumber(redis.call('GET', KEYS[3]) or '0')
local available = tonumber(ARGV[5]) - reserved
if available < tonumber(ARGV[4]) then return {-1, reserved} end
local taken = tonumber(ARGV[3])
if taken > available then taken = available end
if taken < 0 then taken = 0 end
if taken > 0 then reserved = redis.call('INCRBY', KEYS[3], taken) end
local had = redis.call('HGET', KEYS[1], ARGV[1])
local held = 0
if had then held = tonumber(string.match(had, ' (%-?%d+)$')) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. string.format('%d', held + taken))
local expires = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[6]) > expires then redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1]) end
return {taken, reserved}
"""
# The customer's reserved key is built from the calls hash: a standalone Redis (or one hash slot), as the holds.
_LET_MONEY_GO = """
local function let_go(calls, expiry, prefix, call_id)
  local had = redis.call('HGET', calls, call_id)
  if not had then return 0 end
  local customer, amount = string.match(had, '^(%d+) (%-?%d+)$')
  local key = prefix .. customer
  if redis.call('DECRBY', key, tonumber(amount)) == 0 then redis.call('DEL', key) end
  redis.call('HDEL', calls, call_id)
  redis.call('ZREM', expiry, call_id)
  return tonumber(amount)
end
"""
_RELEASE_MONEY = _LET_MONEY_GO + "return let_go(KEYS[1], KEYS[2], ARGV[1], ARGV[2])"
# ARGV: reserved key prefix, now (seconds), how many at most.
_EXPIRE_MONEY = _LET_MONEY_GO + """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, call_id in ipairs(due) do let_go(KEYS[1], KEYS[2], ARGV[1], call_id) end
return due
"""
_MICRO = Decimal(1).scaleb(-6)


def micros(amount: Decimal, rounding: str) -> int:
    """`amount` in whole micro-units, rounded by `rounding` where finer (funds down, amounts wanted up)."""
    return int(amount.scaleb(6).to_integral_value(rounding=rounding))


class RedisCounters:
    """Live counters in Redis (COUNTERS_URL), shared by every switch process and node; see the module's text.

    Keys, under `prefix`: `<prefix>:ch:<scope>:<id>` (channels up), `<prefix>:cps:<scope>:<id>` (a sorted set of
    call ids scored by start time in µs: the sliding window), `<prefix>:holds` (call id -> its channel keys) and
    `<prefix>:expiry` (call id scored by expires_at). CPS windows use the caller's clock (`now`): switch nodes
    sharing a Redis need synchronised clocks (NTP), as any sliding window across machines does.

    Reservations: `<prefix>:money` (call id -> "<customer> <micro-units>"), `<prefix>:money:expiry` (call id by
    expires_at) and `<prefix>:reserved:<customer>` (the customer's total, micro-units), checked and taken by one
    script, so every node sees one reserved total per customer. The synchronous reserved() read decide() makes is
    the total the last script of this process saw; reserve_call() is the enforcement.
    """

    def __init__(self, url: str, *, prefix: str = "trunkline:live", redis: Any = None) -> None:
        if redis is None:
            import redis.asyncio as redis_asyncio  # imported here: a process without COUNTERS_URL never loads it

            redis = redis_asyncio.from_url(url, decode_responses=True)
        self.redis = redis
        self.prefix = prefix
        self._holds_key = f"{prefix}:holds"
        self._expiry_key = f"{prefix}:expiry"
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._expire = redis.register_script(_EXPIRE)
        self._balances: dict[int, Decimal] = {}
        self._taxes: dict[int, Decimal] = {}
        self._keys: dict[tuple[str, str, int], str] = {}
        self._money_key = f"{prefix}:money"
        self._money_expiry_key = f"{prefix}:money:expiry"
        self._reserved_prefix = f"{prefix}:reserved:"
        self._reserve = redis.register_script(_RESERVE)
        self._release_money = redis.register_script(_RELEASE_MONEY)
        self._expire_money = redis.register_script(_EXPIRE_MONEY)
        self._seen: dict[int, Decimal] = {}  # reserved totals as the last script saw them

    def _key(self, kind: str, scope: str, key: int) -> str:
        found = self._keys.get((kind, scope, key))
        if found is None:
            found = self._keys[kind, scope, key] = f"{self.prefix}:{kind}:{scope}:{key}"
        return found

    # Reads (decide()): synchronous, so no live count; acquire() enforces.

    def channels(self, scope: str, key: int) -> int:
        return 0

    def cps(self, scope: str, key: int) -> int:
        return 0

    def balance(self, customer_id: int) -> Decimal:
        return self._balances.get(customer_id, _ZERO)

    def reserved(self, customer_id: int) -> Decimal:
        return self._seen.get(customer_id, _ZERO)

    def tax_rate(self, customer_id: int) -> Decimal:
        return self._taxes.get(customer_id, _ZERO)

    def load_balances(self, balances: Mapping[int, Decimal], tax_rates: Mapping[int, Decimal] | None = None
                      ) -> None:
        self._balances = dict(balances)
        if tax_rates is not None:
            self._taxes = dict(tax_rates)

    # Reservations.

    async def reserve_call(self, call_id: str, customer_id: int, want: Decimal, least: Decimal, funds: Decimal,
                           expires_at: float) -> Decimal | None:
        taken, reserved = await self._reserve(
            keys=[self._money_key, self._money_expiry_key, f"{self._reserved_prefix}{customer_id}"],
            args=[call_id, customer_id, micros(want, ROUND_CEILING), micros(least, ROUND_CEILING),
                  micros(funds, ROUND_FLOOR), repr(float(expires_at))])
        self._seen[customer_id] = Decimal(int(reserved)) * _MICRO
        return None if int(taken) < 0 else Decimal(int(taken)) * _MICRO

    async def release_reservation(self, call_id: str) -> Decimal:
        amount = await self._release_money(keys=[self._money_key, self._money_expiry_key],
                                           args=[self._reserved_prefix, call_id])
        return Decimal(int(amount)) * _MICRO

    async def expire_reservations(self, now: float, most: int = 1000) -> list[str]:
        due = await self._expire_money(keys=[self._money_key, self._money_expiry_key],
                                       args=[self._reserved_prefix, repr(float(now)), most])
        return [str(call_id) for call_id in due]

    async def customer_reserved(self, customer_id: int) -> Decimal:
        """The customer's reserved total as Redis holds it now."""
        return Decimal(int(await self.redis.get(f"{self._reserved_prefix}{customer_id}") or 0)) * _MICRO

    async def reservations(self) -> dict[str, Decimal]:
        return {str(call_id): Decimal(int(str(value).rpartition(" ")[2])) * _MICRO
                for call_id, value in (await self.redis.hgetall(self._money_key)).items()}

    # The live side.

    async def acquire(self, call_id: str, limits: Sequence[Limit], expires_at: float,
                      now: float) -> Refusal | None:
        keys = [self._holds_key, self._expiry_key]
        args: list[str] = [call_id, repr(float(expires_at)), str(round(now * 1e6))]
        checks: list[Refusal] = []
        for scope, key, channel_limit, cps_limit in limits:
            if channel_limit:
                keys.append(self._key("ch", scope, key))
                args.append(f"c{channel_limit}")
                checks.append((scope, key, CHANNELS))
            if cps_limit:
                keys.append(self._key("cps", scope, key))
                args.append(f"r{cps_limit}")
                checks.append((scope, key, CPS))
        if not checks:
            return None
        refused = int(await self._acquire(keys=keys, args=args))
        return checks[refused - 1] if refused > 0 else None

    async def release(self, call_id: str) -> bool:
        return bool(await self._release(keys=[self._holds_key, self._expiry_key], args=[call_id]))

    async def expire(self, now: float, most: int = 1000) -> list[str]:
        due = await self._expire(keys=[self._holds_key, self._expiry_key], args=[repr(float(now)), most])
        return [str(call_id) for call_id in due]

    async def held(self) -> int:
        return int(await self.redis.hlen(self._holds_key))

    async def holds(self) -> dict[str, float]:
        return {str(call_id): float(score) for call_id, score in
                await self.redis.zrange(self._expiry_key, 0, -1, withscores=True)}

    async def aclose(self) -> None:
        await self.redis.aclose()
