"""Redis cache store: values with EX ttl; a bucket's vectors in one capped list refreshed on each write.

Shared by every gateway process, so a hit in one worker serves the others. Redis expires entries itself;
LRU across the whole keyspace is Redis's own ``maxmemory-policy`` job, not ours.
"""

from __future__ import annotations

import orjson
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


class RedisStore:
    errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError,)

    def __init__(self, client: aioredis.Redis, *, prefix: str = "bifrostc:cache:", max_bucket: int = 1000) -> None:
        self._client = client
        self._prefix = prefix
        self._max_bucket = max(1, max_bucket)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "bifrostc:cache:", max_bucket: int = 1000) -> RedisStore:
        # Short socket timeouts: while Redis is unreachable a lookup is a quick miss, not a request held for
        # the OS's TCP timeout (the cache logs the error and serves from upstream). One immediate retry on a
        # fresh connection: after Redis restarts, every pooled connection is stale.
        client = aioredis.from_url(
            url,
            decode_responses=False,
            socket_connect_timeout=1.0,
            socket_timeout=2.0,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
        )
        return cls(client, prefix=prefix, max_bucket=max_bucket)

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
