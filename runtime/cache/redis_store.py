"""Redis cache store: values with EX ttl; a bucket's vectors in one capped list refreshed on each write.

Shared by every gateway process and replica, so a hit on one serves the others. Redis expires entries
itself; LRU across the whole keyspace is Redis's own ``maxmemory-policy`` job, not ours. Every command touches
one key, so the same code runs on a single node, a Sentinel master or a Redis Cluster (the client comes from
``runtime/redis_client.py``).
"""

from __future__ import annotations

import orjson
import redis.exceptions

from bifrostc.runtime import redis_client


class RedisStore:
    errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, *redis_client.OUTAGE_ERRORS)

    def __init__(self, client: redis_client.Client, *, prefix: str = "bifrostc:cache:", max_bucket: int = 1000) -> None:
        self._client = client
        self._prefix = prefix
        self._max_bucket = max(1, max_bucket)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "bifrostc:cache:", max_bucket: int = 1000) -> RedisStore:
        return cls(redis_client.from_url(url, decode=False).client, prefix=prefix, max_bucket=max_bucket)

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(self._prefix + "r:" + key)
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    async def put(self, key: str, value: bytes, *, ttl: int) -> None:
        await self._client.set(self._prefix + "r:" + key, value, ex=max(1, ttl))

    async def add_vector(self, bucket: str, key: str, vector: list[float], *, ttl: int) -> None:
        name = self._prefix + "v:" + bucket
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.rpush(name, orjson.dumps([key, vector]))
            pipe.ltrim(name, -self._max_bucket, -1)
            pipe.expire(name, max(1, ttl))
            await pipe.execute()

    async def vectors(self, bucket: str) -> list[tuple[str, list[float]]]:
        raw = await self._client.lrange(self._prefix + "v:" + bucket, 0, -1)
        pairs = (orjson.loads(item) for item in raw)
        return [(str(key), [float(x) for x in vector]) for key, vector in pairs]

    async def close(self) -> None:
        await self._client.aclose()
