"""Settlements survive a lost connection exactly once: a settlement Redis applied but whose answer never came
back is sent again under the same id and not counted twice; one Redis never got is counted on replay."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as redis_async
import redis.exceptions

from bifrostc.runtime.governance.redis_store import RedisCounterStore
from bifrostc.runtime.governance.resilient import ResilientCounterStore
from bifrostc.runtime.governance.store import Hold, Increment

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.services


class LosesAnswers(RedisCounterStore):
    """Applies the first ``lose`` settlements in Redis, then fails as if the connection broke before the reply."""

    lose = 1

    async def settle(
        self, hold: Hold | None, keys: Sequence[str], increments: Sequence[Increment], settlement: str | None = None
    ) -> None:
        await super().settle(hold, keys, increments, settlement)
        if self.lose > 0:
            self.lose -= 1
            raise redis.exceptions.ConnectionError("connection reset after the write")


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"bifrostc:replay:{uuid.uuid4().hex[:8]}:"
    client = redis_async.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    yield name
    keys = [key async for key in client.scan_iter(f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_settlement_whose_answer_was_lost_counts_once(prefix: str) -> None:
    primary = LosesAnswers.from_url(REDIS_URL, prefix=prefix)
    store = ResilientCounterStore(primary, "closed", errors=RedisCounterStore.errors, clock=lambda: 0.0)
    hold = Hold("h1", 2.0, 60)
    await store.settle(hold, ["k"], [Increment("k", 1.5, None)])
    assert store.backlog == 1  # kept: the gateway cannot know Redis applied it
    store._next_probe = -1.0  # the next call probes Redis and sends the kept settlement again
    assert await store.read(["k"]) == [1.5]  # sent twice, counted once
    assert store.backlog == 0
    await store.aclose()


async def test_distinct_settlements_of_one_counter_all_count(prefix: str) -> None:
    store = RedisCounterStore.from_url(REDIS_URL, prefix=prefix)
    for index in range(3):
        await store.settle(Hold(f"h{index}", 1.0, 60), ["k"], [Increment("k", 1.0, None)])
    await store.settle(Hold("h0", 1.0, 60), ["k"], [Increment("k", 1.0, None)])  # h0 again: a replay
    assert await store.read(["k"]) == [3.0]
    await store.aclose()
