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

# KEYS[i] is a counter; ARGV[2i-1], ARGV[2i] are its check kind and limit. ARGV[2n+i] is its TTL ("" = none).
# Returns 0 when admitted, else {index (1-based), value} of the first failing check.
_CHECK_AND_COUNT = """
local n = #KEYS
for i = 1, n do
  local kind = ARGV[2 * i - 1]
  local limit = tonumber(ARGV[2 * i])
  local value = tonumber(redis.call('GET', KEYS[i]) or '0')
  local ok
  if kind == 'requests' then ok = value + 1 <= limit else ok = value < limit end
  if not ok then return {i, tostring(value)} end
end
for i = 1, n do
  if ARGV[2 * i - 1] == 'requests' then
    redis.call('INCR', KEYS[i])
    local ttl = tonumber(ARGV[2 * n + i])
    if ttl then redis.call('EXPIRE', KEYS[i], ttl) end
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
        keys = [self._key(check.key) for check in checks]
        args: list[str] = []
        for check in checks:
            args += [check.kind, repr(float(check.limit))]
        args += ["" if check.ttl is None else str(check.ttl) for check in checks]
        result = await self._script(keys=keys, args=args)
        if result == 0:
            return None
        index, value = result
        return Rejection(int(index) - 1, float(value))

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
