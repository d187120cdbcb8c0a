"""Redis-backend specifics: Redis owns expiry (EX ttl), and a dead Redis is a miss, not an error."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from bifrostc.runtime import config
from bifrostc.runtime.cache import ResponseCache

from .conftest import REDIS_URL, request, response

pytestmark = pytest.mark.services


@pytest.mark.parametrize("backend", ["redis"])
async def test_values_and_vectors_carry_the_ttl(make_cache: Any, redis_prefix: str) -> None:
    cache: ResponseCache = make_cache(mode="semantic", ttl_seconds=120)
    await cache.store(request("reverse a list"), response(), route="r", scope="k")
    client = aioredis.from_url(REDIS_URL)
    try:
        names = [key async for key in client.scan_iter(match=redis_prefix + "*")]
        assert len(names) == 2  # one response, one vector list
        for name in names:
            assert 0 < await client.ttl(name) <= 120
    finally:
        await client.aclose()


async def test_unreachable_redis_is_a_miss() -> None:
    cfg = config.Cache(mode="exact", backend="redis")
    cache = ResponseCache.from_config(cfg, redis_url="redis://127.0.0.1:1/0")
    assert await cache.lookup(request(), route="r", scope="k") is None
    assert not await cache.store(request(), response(), route="r", scope="k")
    await cache.close()


def test_redis_backend_needs_a_url() -> None:
    with pytest.raises(ValueError, match="redis_url"):
        ResponseCache.from_config(config.Cache(mode="exact", backend="redis"))
