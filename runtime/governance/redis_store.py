"""Redis counter store: one Lua script checks every scope and counts the request atomically.

Redis runs a script without interleaving other commands, so gateway replicas sharing one Redis enforce one
budget exactly as a single process would. ``register_script`` sends EVALSHA and falls back to EVAL after a
script-cache flush. Counters carry TTLs per period window, so old windows clean themselves up. All keys of
one admission must live on one node (plain Redis or Sentinel; Cluster is not supported).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as redis_async
import redis.exceptions as redis_exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bifrostc.runtime.governance.store import Check, Hold, Increment, Rejection

# Check i: KEYS[3i-2] is its counter, KEYS[3i-1] the previous window's (sliding rate limits; else the same
# key with weight 0), KEYS[3i] the counter's set of holds (spend checks). ARGV[4i-3..4i]: kind, limit,
# previous weight, TTL ("" = none); after them the hold's member, amount and TTL ("" = no hold). Holds are a
# sorted set per counter scored by expiry, the amount inside the member, so expired ones drop out by score.
# Returns 0 when admitted, else {index (1-based), value, current, previous} of the first failing check.
_CHECK_AND_COUNT = """
local n = #KEYS / 3
local member, amount, hold_ttl = ARGV[4 * n + 1], tonumber(ARGV[4 * n + 2]), tonumber(ARGV[4 * n + 3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function held(holds)
  redis.call('ZREMRANGEBYSCORE', holds, '-inf', now)
  local total = 0
  for _, name in ipairs(redis.call('ZRANGE', holds, 0, -1)) do
    total = total + tonumber(string.match(name, '|(.*)$'))
  end
  return total
end
for i = 1, n do
  local kind = ARGV[4 * i - 3]
  local limit = tonumber(ARGV[4 * i - 2])
  local weight = tonumber(ARGV[4 * i - 1])
  local current = tonumber(redis.call('GET', KEYS[3 * i - 2]) or '0')
  local previous = 0
  local ok
  if kind == 'spend' then
    previous = held(KEYS[3 * i])
    local value = current + previous
    ok = value < limit and (not amount or value + amount <= limit)
  else
    if weight > 0 then previous = tonumber(redis.call('GET', KEYS[3 * i - 1]) or '0') end
    local value = current + weight * previous
    if kind == 'requests' then ok = value + 1 <= limit else ok = value < limit end
  end
  if not ok then
    local value = current + (kind == 'spend' and previous or weight * previous)
    return {i, tostring(value), tostring(current), tostring(previous)}
  end
end
for i = 1, n do
  local kind = ARGV[4 * i - 3]
  if kind == 'requests' then
    redis.call('INCR', KEYS[3 * i - 2])
    local ttl = tonumber(ARGV[4 * i])
    if ttl then redis.call('EXPIRE', KEYS[3 * i - 2], ttl) end
  elseif kind == 'spend' and amount then
    redis.call('ZADD', KEYS[3 * i], now + hold_ttl, member)
    redis.call('EXPIRE', KEYS[3 * i], hold_ttl + 60)
  end
end
return 0
"""

# KEYS: the holds sets to drop ARGV[1] from, then the counters to add to; ARGV[2]: how many holds sets;
# then amount and TTL ("" = none) per counter.
_SETTLE = """
local holds = tonumber(ARGV[2])
for i = 1, holds do redis.call('ZREM', KEYS[i], ARGV[1]) end
for i = holds + 1, #KEYS do
  local at = 2 * (i - holds) + 1
  redis.call('INCRBYFLOAT', KEYS[i], ARGV[at])
  local ttl = tonumber(ARGV[at + 1])
  if ttl then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 0
"""
_HOLDS = ":holds"


class RedisCounterStore:
    # What an outage raises (connection refused or reset, timeouts, a Redis still loading its data).
    errors: tuple[type[BaseException], ...] = (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError)

    def __init__(self, client: redis_async.Redis, *, prefix: str = "bifrostc:gov:") -> None:
        self._redis = client
        self._prefix = prefix
        self._script = client.register_script(_CHECK_AND_COUNT)
        self._settle = client.register_script(_SETTLE)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "bifrostc:gov:") -> RedisCounterStore:
        # Short socket timeouts: an unreachable Redis must fail a request fast (state_failure decides what
        # then), not hold it for the OS's TCP timeout.
        # One immediate retry on a fresh connection: after Redis restarts, every pooled connection is stale.
        client = redis_async.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=1.0,
            socket_timeout=2.0,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis_exceptions.ConnectionError, redis_exceptions.TimeoutError],
        )
        return cls(client, prefix=prefix)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def check_and_count(self, checks: Sequence[Check], hold: Hold | None = None) -> Rejection | None:
        if not checks:
            return None
        keys: list[str] = []
        args: list[str] = []
        for check in checks:
            weight = check.previous_weight if check.previous_key is not None else 0.0
            counter = self._key(check.key)
            keys += [counter, self._key(check.previous_key or check.key), counter + _HOLDS]
            args += [
                check.kind,
                repr(float(check.limit)),
                repr(float(weight)),
                "" if check.ttl is None else str(check.ttl),
            ]
        if hold is None:
            args += ["", "", ""]
        else:
            args += [hold.member, repr(float(hold.amount)), str(hold.ttl)]
        result = await self._script(keys=keys, args=args)
        if result == 0:
            return None
        index, value, current, previous = result
        return Rejection(int(index) - 1, float(value), float(current), float(previous))

    async def settle(self, hold: Hold | None, keys: Sequence[str], increments: Sequence[Increment]) -> None:
        holds = [self._key(key) + _HOLDS for key in keys] if hold is not None else []
        if not holds and not increments:
            return
        args = [hold.member if hold is not None else "", str(len(holds))]
        for increment in increments:
            args += [repr(float(increment.amount)), "" if increment.ttl is None else str(increment.ttl)]
        await self._settle(keys=[*holds, *(self._key(i.key) for i in increments)], args=args)

    async def add(self, increments: Sequence[Increment]) -> None:
        await self.settle(None, (), increments)

    async def read(self, keys: Sequence[str]) -> list[float]:
        if not keys:
            return []
        values = await self._redis.mget([self._key(key) for key in keys])
        return [float(value) if value is not None else 0.0 for value in values]

    async def healthy(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (redis_exceptions.RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()
