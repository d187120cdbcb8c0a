"""The PostgreSQL request log shared by replicas: each replica's connection pool is the size the spec says,
and retention runs on one replica at a time (a pass that finds the advisory lock taken is skipped)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from bifrostc.runtime.config import Observability
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.retention import DAY_S, LogRetention
from bifrostc.runtime.observability.store_postgres import RETENTION_LOCK, PostgresLogStore
from bifrostc.runtime.observability.telemetry import build_store

BASE = "host=127.0.0.1 port=5432 user=postgres dbname=test"
WAIT_S = 20.0  # guard only

pytestmark = pytest.mark.services


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"bifrostc_pg_{uuid.uuid4().hex[:10]}"
    try:
        conn = await psycopg.AsyncConnection.connect(BASE, autocommit=True, connect_timeout=2)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    await conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    await conn.close()


async def _connections(app: str) -> int:
    async with await psycopg.AsyncConnection.connect(BASE, autocommit=True) as conn:
        cur = await conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,))
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def test_a_replica_opens_at_most_postgres_pool_size_connections(schema: str) -> None:
    app = f"bfc-pool-{uuid.uuid4().hex[:8]}"
    cfg = Observability(log_store="postgres", postgres_dsn_env="DSN", postgres_pool_size=3)
    store = build_store(cfg, {"DSN": f"{BASE} application_name={app} options=-csearch_path={schema}"})
    assert isinstance(store, PostgresLogStore) and store.pool_size == 3
    await store.open()
    gate = await psycopg.AsyncConnection.connect(BASE, autocommit=True)
    await gate.execute("SELECT pg_advisory_lock(hashtext(%s))", (app,))  # every query below waits on it
    waiting = [
        asyncio.create_task(store._fetch("SELECT pg_advisory_lock_shared(hashtext(%s))", (app,))) for _ in range(5)
    ]
    try:
        async with asyncio.timeout(WAIT_S):
            while await _connections(app) < 3:
                await asyncio.sleep(0.05)  # another process's state: there is no event to await
        await asyncio.sleep(0.2)  # give a fourth connection the chance to appear if the pool allowed one
        assert await _connections(app) == 3
    finally:
        await gate.execute("SELECT pg_advisory_unlock(hashtext(%s))", (app,))
        await gate.close()
    await asyncio.gather(*waiting)  # the five queries shared the three connections
    assert await _connections(app) == 3
    await store.close()


async def test_retention_runs_on_one_replica_at_a_time(schema: str) -> None:
    replicas = [PostgresLogStore(BASE, schema=schema) for _ in range(2)]
    for store in replicas:
        await store.open()
    old = time.time() - 40 * DAY_S
    await replicas[0].write_batch([RequestRecord(ts=old) for _ in range(5)] + [RequestRecord()])
    passes = [LogRetention(store, days=30) for store in replicas]

    holder = await psycopg.AsyncConnection.connect(BASE, autocommit=True)
    await holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (RETENTION_LOCK,))  # a third replica prunes
    assert await asyncio.gather(*(p.prune_once() for p in passes)) == [0, 0]
    assert [p.skipped for p in passes] == [1, 1]
    await holder.execute("SELECT pg_advisory_unlock(hashtext(%s))", (RETENTION_LOCK,))
    await holder.close()

    removed = [await p.prune_once() for p in passes]
    assert removed == [5, 0]  # the first pass deleted the old rows; the second found nothing left
    assert len(await replicas[1]._fetch(f'SELECT id FROM "{schema}".bifrostc_requests', ())) == 1
    for store in replicas:
        await store.close()
