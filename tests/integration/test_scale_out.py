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
BUDGET_USD = 0.50
WORKERS_PER_REPLICA = 32  # 64 concurrent clients over the two replicas
PROMPT = "hello there " * 10
USAGE = (len(PROMPT) // 4, len(PROMPT.strip()) // 4)  # the mock echoes the prompt: 30 tokens in, 29 out
MAX_TOKENS = 32
PRICE = {"input": 5, "output": 20}  # USD per million tokens: $0.00073 a request, ~685 requests to the budget

SPEC = """\
version: 1
server: {{require_key: true, admin_key_env: ADMIN_KEY, state: redis, redis_url_env: GW_REDIS_URL}}
providers:
  mock: {{type: mock}}
models:
  echo:
    target: mock/echo
    pricing: {{input: {input}, output: {output}}}
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
    body = {"model": "sonnet", "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": PROMPT}]}
    while True:
        response = await client.post(f"{url}/anthropic/v1/messages", json=body, headers={"x-api-key": key})
        statuses.append(response.status_code)
        if response.status_code == 429:
            error = response.json()
            assert error["type"] == "error"
            if error["error"]["type"] == "rate_limit_error":  # only holds of requests in flight were in the way
                assert response.headers.get("retry-after") == "1"
                await asyncio.sleep(0.05)
                continue
            assert error["error"]["type"] == "billing_error"  # spent: Claude Code's contract, not retried
            assert response.headers["x-should-retry"] == "false"
            return
        assert response.status_code == 200, response.text
        if len(statuses) > 5000:  # bounded: a budget that never trips fails below
            return


def _all_logs(url: str, admin: dict[str, str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    query = "limit=500"
    while True:
        page = httpx.get(f"{url}/api/logs?{query}", headers=admin).json()
        rows += page["data"]
        if page["next_before"] is None:
            return rows
        query = f"limit=500&before={page['next_before']}"


def test_two_replicas_enforce_one_budget_and_share_logs(tmp_path: Path, pg_schema: str) -> None:
    key_name = f"it-{uuid.uuid4().hex[:8]}"
    key_value = f"sk-bfc-{uuid.uuid4().hex}"
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC.format(key_name=key_name, budget=BUDGET_USD, **PRICE))
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
        rows = _all_logs(urls[1], admin)

    ok = statuses.count(200)
    assert ok > 0 and statuses.count(429) >= len(urls) * WORKERS_PER_REPLICA
    row = next(r for r in spend["budgets"] if r["kind"] == "key" and r["name"] == key_name)
    # Admission holds each request's largest cost (input estimate + max_tokens at the output price) in the
    # same Redis script as the check: 64 clients on two replicas never spend past the budget ...
    assert row["spent_usd"] <= BUDGET_USD + 1e-9
    assert row["spent_usd"] == pytest.approx(ok * (USAGE[0] * PRICE["input"] + USAGE[1] * PRICE["output"]) / 1e6)
    # ... and stop only when one more request could pass it: the last one's hold did not fit.
    largest = (400 / 3 * PRICE["input"] + MAX_TOKENS * PRICE["output"]) / 1e6  # the body is under 400 bytes
    assert BUDGET_USD - row["spent_usd"] < largest
    # Both replicas wrote to the one PostgreSQL log: every admitted request is there once.
    assert sum(1 for r in rows if r["status"] == 200) == ok
