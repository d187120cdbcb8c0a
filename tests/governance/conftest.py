"""Fixtures shared by the governance tests: a fake clock, a gateway builder and both counter stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import redis.asyncio as redis_async

from bifrostc.runtime.config import Gateway, Server, VirtualKey
from bifrostc.runtime.governance.redis_store import RedisCounterStore
from bifrostc.runtime.governance.sqlite_store import SqliteCounterStore
from bifrostc.runtime.governance.store import CounterStore

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class FakeClock:
    now: float = datetime(2026, 3, 11, 10, 30, 15, tzinfo=UTC).timestamp()  # a Wednesday

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_gateway(*keys: VirtualKey, require_key: bool = False, **tables: object) -> Gateway:
    return Gateway(providers={}, routes={}, virtual_keys=keys, server=Server(require_key=require_key), **tables)  # type: ignore[arg-type]


async def delete_prefix(client: redis_async.Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)


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
