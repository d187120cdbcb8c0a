"""PostgreSQL outages lose no rows: a real `bifrostc serve` logging to a PostgreSQL of the test's own, killed
(pg_ctl -m immediate) and restarted under traffic, and started while that database is down. Records wait in
the disk spool (bifrostc_log_spool_records) and are replayed in order; readiness is 503 while it is away.
On d6706f8 the store never reconnected (64/368 rows kept after a 6 s outage, then 0) and the gateway refused to
start while PostgreSQL was down."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.replicas import build, replicas
from tests.reliability.pg_instance import PgInstance, available, pg_instance
from tests.reliability.specs import mock_spec

pytestmark = pytest.mark.skipif(not available(), reason="needs initdb, pg_ctl and runuser")

SPEC = mock_spec("{log_store: postgres, postgres_dsn_env: GW_PG_DSN, log_bodies: false}")
OUTAGE_S = 6.0
WORKERS = 4


def _gateway(tmp_path: Path) -> Path:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC)
    build(spec, tmp_path / "out")
    return tmp_path / "out"


async def _ask(client: httpx.AsyncClient, text: str) -> str:
    body = {"model": "sonnet", "max_tokens": 16, "messages": [{"role": "user", "content": text}]}
    response = await client.post("/anthropic/v1/messages", json=body)
    assert response.status_code == 200, response.text
    return response.headers["x-request-id"]


def _spooled(metrics: str) -> float:
    found = re.search(r"^bifrostc_log_spool_records (\S+)$", metrics, re.MULTILINE)
    assert found, "bifrostc_log_spool_records missing from /metrics"
    return float(found.group(1))


async def _rows_become(pg: PgInstance, expected: set[str], timeout_s: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout_s
    rows: list[str] = []
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(pg.rows)
        if set(rows) >= expected:
            return rows
        await asyncio.sleep(0.25)  # the replay runs in the gateway process: poll the database
    return rows


async def test_a_postgres_kill_and_restart_under_traffic_loses_no_rows(tmp_path: Path) -> None:
    out = _gateway(tmp_path)
    with pg_instance() as pg, replicas(out, 1, {"GW_PG_DSN": pg.dsn}, cwd=tmp_path) as [url]:
        sent: list[str] = []
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:

            async def worker(n: int) -> None:
                while not stop.is_set():
                    sent.append(await _ask(client, f"worker {n} request {len(sent)}"))
                    await asyncio.sleep(0.01)

            workers = [asyncio.create_task(worker(n)) for n in range(WORKERS)]
            await asyncio.sleep(1.5)
            before_outage = len(sent)
            await asyncio.to_thread(pg.kill)
            await asyncio.sleep(1.0)
            ready_down = await client.get("/health/ready")
            health_down = await client.get("/health")
            await asyncio.sleep(OUTAGE_S - 1.0)
            spooled_down = _spooled((await client.get("/metrics")).text)
            await asyncio.to_thread(pg.start)
            await asyncio.sleep(2.0)
            stop.set()
            await asyncio.gather(*workers)
            rows = await _rows_become(pg, set(sent))
            ready_up = await client.get("/health/ready")
            spooled_up = _spooled((await client.get("/metrics")).text)

    print(f"figures: answered={len(sent)} rows={len(rows)} lost={len(set(sent) - set(rows))} spooled={spooled_down}")
    assert before_outage > 0 and len(sent) > before_outage
    assert ready_down.status_code == 503 and ready_down.json()["checks"] == {"log_store": False}
    assert health_down.status_code == 503 and health_down.json()["status"] == "degraded"
    assert spooled_down > 0, "nothing was spooled during the outage"
    lost = set(sent) - set(rows)
    assert not lost, f"{len(lost)} of {len(sent)} answered requests have no row"
    assert ready_up.status_code == 200 and spooled_up == 0
    # Replayed in order: request ids count up per process, and rows may trail each other only by what the
    # concurrent workers had in flight (a replay after newer rows would put hundreds of ids out of place).
    counters = [int(rid[16:], 16) for rid in rows]
    assert max(a - b for a, b in itertools.pairwise(counters)) <= 2 * WORKERS


async def test_the_gateway_starts_while_postgres_is_down_and_its_spool_survives_a_restart(tmp_path: Path) -> None:
    out = _gateway(tmp_path)
    with pg_instance(started=False) as pg:
        env = {"GW_PG_DSN": pg.dsn}
        with replicas(out, 1, env, cwd=tmp_path, probe="/health/live") as [url]:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                ready = await client.get("/health/ready")
                first = [await _ask(client, f"while down {i}") for i in range(10)]
                await asyncio.to_thread(pg.start)
                assert set(await _rows_become(pg, set(first))) == set(first)
                assert (await client.get("/health/ready")).status_code == 200
                # Down again, and this gateway stops before it comes back: its spool is left on disk.
                await asyncio.to_thread(pg.kill)
                second = [await _ask(client, f"down again {i}") for i in range(5)]
        await asyncio.to_thread(pg.start)
        with replicas(out, 1, env, cwd=tmp_path, probe="/health/live"):
            rows = await _rows_become(pg, set(first + second))
    assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
    assert set(rows) == set(first + second)


async def test_a_frozen_postgres_neither_stalls_requests_nor_loses_rows(tmp_path: Path) -> None:
    out = _gateway(tmp_path)
    with pg_instance() as pg, replicas(out, 1, {"GW_PG_DSN": pg.dsn}, cwd=tmp_path) as [url]:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            before = [await _ask(client, f"before {i}") for i in range(5)]
            await asyncio.to_thread(pg.freeze)
            try:
                started = time.monotonic()
                during = [await _ask(client, f"frozen {i}") for i in range(50)]
                took = time.monotonic() - started
                await asyncio.sleep(3.0)
            finally:
                await asyncio.to_thread(pg.thaw)
            rows = await _rows_become(pg, set(before + during))
    assert took < 5.0, f"50 requests took {took:.1f} s while the log store hung"
    assert set(rows) == set(before + during)
