"""Two real `bifrostc serve` replicas sharing Redis (budgets, rate limits) and PostgreSQL (request logs)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from tests.integration.replicas import build, replicas

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
BUDGET_USD = 40.0
WORKERS_PER_REPLICA = 4

SPEC = """\
version: 1
server: {{require_key: true, admin_key_env: ADMIN_KEY, state: redis, redis_url_env: GW_REDIS_URL}}
providers:
  mock: {{type: mock}}
models:
  echo:
    target: mock/echo
    # One output token costs one dollar, so spend is easy to reason about.
    pricing: {{input: 0, output: 1000000}}
claude_code: {{sonnet: echo, opus: echo, haiku: echo}}
virtual_keys:
  - name: {key_name}
    key_env: TEAM_KEY
    budget: {{max_usd: {budget}, period: never}}
cache: {{mode: off}}
observability: {{log_store: postgres, postgres_dsn_env: GW_PG_DSN, log_bodies: false}}
"""


def _services_up() -> bool:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        psycopg.connect(PG_BASE, connect_timeout=2).close()
    except (redis.RedisError, psycopg.Error):
        return False
    return True


pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not _services_up(), reason="needs Redis and PostgreSQL on 127.0.0.1"),
]


@pytest.fixture
def pg_schema() -> str:
    schema = f"bifrostc_it_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _hammer(client: httpx.AsyncClient, url: str, key: str, statuses: list[int]) -> None:
    body = {"model": "sonnet", "max_tokens": 32, "messages": [{"role": "user", "content": "hello there"}]}
    while True:
        response = await client.post(f"{url}/anthropic/v1/messages", json=body, headers={"x-api-key": key})
        statuses.append(response.status_code)
        if response.status_code == 429:
            error = response.json()
            assert error["type"] == "error"
            assert error["error"]["type"] == "rate_limit_error"
            return
        assert response.status_code == 200, response.text
        if len(statuses) > 500:  # bounded: a budget that never trips fails below
            return


def test_two_replicas_enforce_one_budget_and_share_logs(tmp_path: Path, pg_schema: str) -> None:
    key_name = f"it-{uuid.uuid4().hex[:8]}"
    key_value = f"sk-bfc-{uuid.uuid4().hex}"
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC.format(key_name=key_name, budget=BUDGET_USD))
    build(spec, tmp_path / "out")
    env = {
        "TEAM_KEY": key_value,
        "ADMIN_KEY": "admin-secret",
        "GW_REDIS_URL": REDIS_URL,
        "GW_PG_DSN": f"{PG_BASE}?options=-csearch_path%3D{pg_schema}",
    }
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_schema}"')

    with replicas(tmp_path / "out", 2, env, cwd=tmp_path) as urls:
        statuses: list[int] = []

        async def run() -> None:
            async with httpx.AsyncClient(timeout=30) as client:
                per_replica = range(WORKERS_PER_REPLICA)
                await asyncio.gather(*(_hammer(client, url, key_value, statuses) for url in urls for _ in per_replica))

        asyncio.run(run())
        admin = {"authorization": "Bearer admin-secret"}
        spend = httpx.get(f"{urls[0]}/api/spend", headers=admin).json()
        logs = httpx.get(f"{urls[1]}/api/logs?limit=500", headers=admin).json()

    ok = statuses.count(200)
    assert ok > 0 and statuses.count(429) == len(urls) * WORKERS_PER_REPLICA
    row = next(r for r in spend["budgets"] if r["kind"] == "key" and r["name"] == key_name)
    per_request = row["spent_usd"] / ok
    in_flight = len(urls) * WORKERS_PER_REPLICA
    # Admission needs spent < budget; only requests already in flight when it was reached may overshoot.
    assert BUDGET_USD <= row["spent_usd"] <= BUDGET_USD + in_flight * per_request
    # Both replicas wrote to the one PostgreSQL log: every admitted request is there once.
    rows = logs["data"]
    assert sum(1 for r in rows if r["status"] == 200) == ok
