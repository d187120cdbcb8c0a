"""Fixtures: a ResponseCache over each backend (memory with an injected clock, real Redis on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.exceptions

from bifrostc.runtime import config
from bifrostc.runtime.cache import ResponseCache
from bifrostc.runtime.types import ChatRequest, ChatResponse, Message, TextPart, Usage

REDIS_URL = "redis://127.0.0.1:6379/0"
DIMENSIONS = 64


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def bag_of_words(text: str) -> list[float]:
    """Deterministic embedding: word counts hashed into a fixed number of dimensions."""
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMENSIONS] += 1.0
    return vector


def request(text: str = "hello", **fields: object) -> ChatRequest:
    return ChatRequest(model="claude-sonnet", messages=[Message("user", [TextPart(text)])], **fields)  # type: ignore[arg-type]


def response(text: str = "hi there", stop_reason: str = "end_turn") -> ChatResponse:
    return ChatResponse(
        id="msg_1",
        model="m",
        content=[TextPart(text)],
        stop_reason=stop_reason,
        usage=Usage(3, 4),  # type: ignore[arg-type]
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix; every key under it is deleted afterwards (sync client: usable from any fixture)."""
    prefix = f"bifrostc-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except (redis.exceptions.ConnectionError, OSError):
        client.close()
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    yield prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_cache(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """Factory: make_cache(mode=..., **config fields) -> ResponseCache on the parametrised backend."""
    prefix = request.getfixturevalue("redis_prefix") if backend == "redis" else "unused:"
    made: list[ResponseCache] = []

    def factory(mode: str = "exact", **fields: object) -> ResponseCache:
        cfg = config.Cache(mode=mode, backend=backend, **fields)  # type: ignore[arg-type]
        embed = bag_of_words if mode == "semantic" else None
        cache = ResponseCache.from_config(cfg, redis_url=REDIS_URL, embed=embed, redis_prefix=prefix, clock=clock)
        made.append(cache)
        return cache

    yield factory
    for cache in made:
        await cache.close()
