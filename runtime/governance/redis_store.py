"""Redis counter store: one Lua script checks every scope and counts the request atomically.

Redis runs a script without interleaving other commands, so gateway replicas sharing one Redis enforce one
budget exactly as a single process would. ``register_script`` sends EVALSHA and falls back to EVAL after a
script-cache flush. Counters carry TTLs per period window, so old windows clean themselves up. All keys of
one admission must live on one node (plain Redis or Sentinel; Cluster is not supported).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as redis_async

from bifrostc.runtime.governance.store import Check, Increment, Rejection

# Check i: KEYS[2i-1] is its counter, KEYS[2i] the previous window's (sliding rate limits; for other checks
# the same key with weight 0). ARGV[4i-3..4i]: kind, limit, previous weight, TTL ("" = none).
# Returns 0 when admitted, else {index (1-based), value, current, previous} of the first failing check.
_CHECK_AND_COUNT = """
local n = #KEYS / 2
for i = 1, n do
  local kind = ARGV[4 * i - 3]
  local limit = tonumber(ARGV[4 * i - 2])
  local weight = tonumber(ARGV[4 * i - 1])
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = 0
  if weight > 0 then previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0') end
  local value = current + weight * previous
  local ok
  if kind == 'requests' then ok = value + 1 <= limit else ok = value < limit end
  if not ok then return {i, tostring(value), tostring(current), tostring(previous)} end
end
for i = 1, n do
  if ARGV[4 * i - 3] == 'requests' then
    redis.call('INCR', KEYS[2 * i - 1])
    local ttl = tonumber(ARGV[4 * i])
    if ttl then redis.call('EXPIRE', KEYS[2 * i - 1], ttl) end
  end
end
return 0
"""


class RedisCounterStore:
    def __init__(self, client: redis_async.Redis, *, prefix: str = "bifrostc:gov:") -> None:
        self._redis = client
        self._prefix = prefix
        self._script = client.register_script(_CHECK_AND_COUNT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "bifrostc:gov:") -> RedisCounterStore:
        return cls(redis_async.Redis.from_url(url, decode_responses=True), prefix=prefix)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def check_and_count(self, checks: Sequence[Check]) -> Rejection | None:
        if not checks:
            return None
        keys: list[str] = []
        args: list[str] = []
        for check in checks:
            weight = check.previous_weight if check.previous_key is not None else 0.0
            keys += [self._key(check.key), self._key(check.previous_key or check.key)]
            args += [
                check.kind,
                repr(float(check.limit)),
                repr(float(weight)),
                "" if check.ttl is None else str(check.ttl),
            ]
        result = await self._script(keys=keys, args=args)
        if result == 0:
            return None
        index, value, current, previous = result
        return Rejection(int(index) - 1, float(value), float(current), float(previous))

    async def add(self, increments: Sequence[Increment]) -> None:
        if not increments:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            for increment in increments:
                key = self._key(increment.key)
                pipe.incrbyfloat(key, increment.amount)
                if increment.ttl is not None:
                    pipe.expire(key, increment.ttl)
            await pipe.execute()

    async def read(self, keys: Sequence[str]) -> list[float]:
        if not keys:
            return []
        values = await self._redis.mget([self._key(key) for key in keys])
        return [float(value) if value is not None else 0.0 for value in values]

    async def aclose(self) -> None:
        await self._redis.aclose()
