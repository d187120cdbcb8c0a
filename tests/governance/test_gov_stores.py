"""Store-level behaviour: durability, multi-connection atomicity, Governor wiring."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis_async
from gov_helpers import REDIS_URL, FakeClock, delete_prefix, make_gateway

from bifrostc.runtime.config import Budget, Gateway, Server, VirtualKey
from bifrostc.runtime.errors import BudgetExceeded
from bifrostc.runtime.governance.governor import Governor
from bifrostc.runtime.governance.keys import hash_key
from bifrostc.runtime.governance.redis_store import RedisCounterStore
from bifrostc.runtime.governance.resilient import ResilientCounterStore
from bifrostc.runtime.governance.sqlite_store import SqliteCounterStore
from bifrostc.runtime.governance.store import Check, CounterStore, Increment, Rejection

ALICE = VirtualKey("alice", sha256=hash_key("sk-bfc-alice"), budget=Budget(1.0))
HEADERS = {"x-api-key": "sk-bfc-alice"}


async def test_first_failing_check_is_reported_and_nothing_counted(store: CounterStore) -> None:
    await store.add([Increment("spent", 2.0, None)])
    checks = [Check("req", "requests", 5, 60), Check("spent", "spend", 1.0, None), Check("tok", "tokens", 0, 60)]
    assert await store.check_and_count(checks) == Rejection(1, 2.0, current=2.0)
    assert await store.read(["req", "spent", "missing"]) == [0.0, 2.0, 0.0]
    assert await store.check_and_count(checks[:1]) is None
    assert await store.read(["req"]) == [1.0]


async def test_a_sliding_check_weights_the_previous_windows_counter(store: CounterStore) -> None:
    await store.add([Increment("req:prev", 4.0, 120), Increment("req:now", 1.0, 120)])
    sliding = Check("req:now", "requests", 4, 120, previous_key="req:prev", previous_weight=0.5)
    assert await store.check_and_count([sliding]) is None  # 1 + 0.5 * 4 = 3, and one more fits under 4
    assert await store.check_and_count([sliding]) == Rejection(0, 4.0, current=2.0, previous=4.0)
    later = Check("req:now", "requests", 4, 120, previous_key="req:prev", previous_weight=0.25)
    assert await store.check_and_count([later]) is None  # 2 + 0.25 * 4 = 3
    assert await store.read(["req:now"]) == [3.0]


async def test_sqlite_spend_survives_a_restart(tmp_path) -> None:
    path = str(tmp_path / "gov.db")
    gateway = make_gateway(ALICE)
    first = Governor.from_gateway(gateway, sqlite_path=path, clock=FakeClock())
    await first.settle(await first.admit(first.authenticate(HEADERS)), 1.0, 0)
    await first.aclose()
    second = Governor.from_gateway(gateway, sqlite_path=path, clock=FakeClock())
    with pytest.raises(BudgetExceeded):
        await second.admit(second.authenticate(HEADERS))
    await second.aclose()


async def test_two_sqlite_connections_on_one_file_enforce_one_limit(tmp_path) -> None:
    path = str(tmp_path / "shared.db")
    stores = [SqliteCounterStore(path), SqliteCounterStore(path)]
    check = [Check("req", "requests", 50, 60)]
    results = await asyncio.gather(*(stores[i % 2].check_and_count(check) for i in range(80)))
    assert sum(result is None for result in results) == 50
    assert await stores[0].read(["req"]) == [50.0]
    for store in stores:
        await store.aclose()


@pytest.mark.services
async def test_from_gateway_picks_redis_from_server_state(redis_prefix: str) -> None:
    server = Server(state="redis", redis_url_env="GOV_REDIS")
    gateway = Gateway(providers={}, routes={}, virtual_keys=(ALICE,), server=server)
    gov = Governor.from_gateway(gateway, environ={"GOV_REDIS": REDIS_URL}, key_prefix=redis_prefix)
    assert isinstance(gov.store, ResilientCounterStore) and gov.store.mode == "closed"  # server.state_failure
    assert isinstance(gov.store.primary, RedisCounterStore)
    await gov.settle(await gov.admit(gov.authenticate(HEADERS)), 0.5, 0)
    [row] = await gov.spend_report()
    assert row["spent_usd"] == 0.5
    client = redis_async.Redis.from_url(REDIS_URL)
    await delete_prefix(client, redis_prefix)
    await client.aclose()
    await gov.aclose()


def test_from_gateway_requires_the_redis_url_env_var() -> None:
    gateway = Gateway(providers={}, routes={}, server=Server(state="redis", redis_url_env="NOPE"))
    with pytest.raises(ValueError, match="NOPE"):
        Governor.from_gateway(gateway, environ={})


def test_unknown_budget_period_fails_at_start_up() -> None:
    bad = VirtualKey("x", sha256=hash_key("k"), budget=Budget(1.0, "fortnight"))
    with pytest.raises(ValueError, match="fortnight"):
        Governor.from_gateway(make_gateway(bad))
