"""A real Redis Cluster whose connection is lost between a script and its WAIT: redis-py 8 hands the lost
connection back as the WAIT's result instead of raising it. The store must report an outage (the resilient
store then keeps the settlement and sends it again), never crash on the result: that TypeError was a 500 in
test_redis_failover's cluster run when the master died between the two commands."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from redis import exceptions as redis_exceptions
from redis.asyncio.cluster import ClusterNode

from bifrostc.runtime import redis_client
from bifrostc.runtime.config import RedisState
from bifrostc.runtime.governance.redis_store import NotReplicated, RedisCounterStore
from bifrostc.runtime.governance.store import Increment
from tests.scale.topology import have_redis, redis_cluster

pytestmark = pytest.mark.skipif(not have_redis(), reason="needs redis-server and redis-cli")


async def test_a_wait_lost_with_its_connection_is_an_outage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with redis_cluster(tmp_path) as cluster:
        state = RedisState(mode="cluster", url_env="URLS")
        handle = redis_client.connect(state, {"URLS": cluster.url}, decode=True)
        store = RedisCounterStore(handle, prefix=f"t{uuid.uuid4().hex[:8]}:")
        real = ClusterNode.execute_pipeline

        async def loses_the_wait(self: ClusterNode, commands: Any) -> bool:
            done: bool = await real(self, commands)
            commands[-1].result = redis_exceptions.ConnectionError("Connection closed by server.")
            return done

        try:
            await handle.client.initialize()  # type: ignore[union-attr]  # the slot map, as the gateway's start-up
            for _ in range(40):  # the script loaded, and a replica of the new cluster acknowledging
                try:
                    await store.add([Increment("{chain}:spend", 1.0, None)])
                    break
                except NotReplicated:
                    await asyncio.sleep(0.25)
            else:
                pytest.fail("no replica of the cluster ever acknowledged a write")
            monkeypatch.setattr(ClusterNode, "execute_pipeline", loses_the_wait)
            with pytest.raises(store.errors):
                await store.add([Increment("{chain}:spend", 1.0, None)])
        finally:
            await handle.client.aclose()
