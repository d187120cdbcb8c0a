"""Fixtures shared by the governance tests: a fake clock and both counter stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_async
from gov_helpers import REDIS_URL, FakeClock, delete_prefix

from bifrostc.runtime.governance.redis_store import RedisCounterStore
from bifrostc.runtime.governance.sqlite_store import SqliteCounterStore
from bifrostc.runtime.governance.store import CounterStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_prefix() -> str:
    return f"test:bifrostc:gov:{uuid.uuid4().hex}:"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.services)])
async def store(request: pytest.FixtureRequest, tmp_path, redis_prefix: str) -> AsyncIterator[CounterStore]:
    if request.param == "sqlite":
        sqlite_store = SqliteCounterStore(str(tmp_path / "governance.db"))
        yield sqlite_store
        await sqlite_store.aclose()
        return
    redis_store = RedisCounterStore.from_url(REDIS_URL, prefix=redis_prefix)
    yield redis_store
    cleanup = redis_async.Redis.from_url(REDIS_URL)
    await delete_prefix(cleanup, redis_prefix)
    await cleanup.aclose()
    await redis_store.aclose()
