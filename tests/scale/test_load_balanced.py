"""Four real `bifrostc serve` replicas behind HAProxy, sharing Redis (budgets, rate limits) and PostgreSQL
(request log): 256 concurrent clients mix streams and non-streams; one replica is SIGKILLed and another
restarted (SIGTERM, then started again) mid-load.

What must hold: spend never passes the budget and the rate-limited key never gets more answers than its
limit; a request is lost only when the replica holding it died (the balancer retries the ones that never
reached a replica); a stream on the killed replica ends with an error at the client (the connection breaks
mid-body), one on the restarted replica with the dialect's error event, and no stream ever ends silently
cut; every request that got a complete answer has its log row, the SIGKILLed replica's answers included.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from tests.scale.balancer import haproxy, have_haproxy, slow_upstream
from tests.scale.gateways import Replicas, build, replica_set

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
CLIENTS = 256
REQUESTS_EACH = 2
RATE_CLIENTS = 32  # their first request uses the rate-limited key: 32 at once at the start, all in one minute
RPM = 20
BUDGET_USD = 0.1  # ~320 answers at $0.00031: runs out before the 512 requests are done
KILL_AT, RESTART_AT = 100, 200  # answers before the SIGKILL, then before the restart
UPSTREAM_KEY = "sk-ant-upstream-slow-0123456789"
ADMIN = {"authorization": "Bearer admin-secret"}

SPEC = """\
version: 1
server:
  require_key: true
  admin_key_env: ADMIN_KEY
  state: redis
  redis: {{mode: single, url_env: GW_REDIS_URL}}
  shutdown_grace_seconds: 1
providers:
  up: {{type: anthropic, base_url: "http://127.0.0.1:{upstream}", api_key_env: UPSTREAM_ANTHROPIC_KEY}}
models:
  claude: {{target: up/claude-sonnet-4-5, pricing: {{input: 5, output: 20}}}}
virtual_keys:
  - {{name: {budget_key}, key_env: BUDGET_KEY, budget: {{max_usd: {budget}, period: never}}}}
  - {{name: {rate_key}, key_env: RATE_KEY, rate_limit: {{requests_per_minute: {rpm}}}}}
cache: {{mode: off}}
observability: {{log_store: postgres, postgres_dsn_env: GW_PG_DSN, postgres_pool_size: 2, log_bodies: false}}
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
    pytest.mark.skipif(not have_haproxy(), reason="needs haproxy (apt-get install haproxy)"),
    pytest.mark.skipif(not _services_up(), reason="needs Redis and PostgreSQL on 127.0.0.1"),
]


@dataclass
class Outcome:
    key: str
    stream: bool
    status: int = 0  # 0: no response at all
    request_id: str | None = None
    served_by: str | None = None
    complete: bool = False  # a JSON answer, or a stream that reached message_stop
    error_event: bool = False  # the stream ended with the dialect's error event
    broken: bool = False  # the connection broke mid-body


@pytest.fixture
def pg_schema() -> Iterator[str]:
    schema = f"bifrostc_lb_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _one(http: httpx.AsyncClient, url: str, key: str, stream: bool) -> Outcome:
    outcome = Outcome(key, stream)
    body = {"model": "claude", "max_tokens": 16, "stream": stream, "messages": [{"role": "user", "content": "go"}]}
    try:
        async with http.stream("POST", f"{url}/anthropic/v1/messages", json=body, headers={"x-api-key": key}) as r:
            outcome.status = r.status_code
            outcome.request_id = r.headers.get("x-request-id")
            outcome.served_by = r.headers.get("x-served-by")
            text = ""
            try:
                async for chunk in r.aiter_text():
                    text += chunk
            except httpx.TransportError:
                outcome.broken = True
            outcome.error_event = "event: error" in text
            # Complete: the whole HTTP answer arrived (a stream's final chunk too, not only its message_stop).
            outcome.complete = (
                r.status_code == 200 and not outcome.broken and ("event: message_stop" in text or not stream)
            )
    except httpx.TransportError:
        outcome.broken = True
    return outcome


async def _load(url: str, keys: tuple[str, str], group: Replicas) -> tuple[list[Outcome], str, str]:
    outcomes: list[Outcome] = []
    killed, restarted = f"r{group.ports[0]}", f"r{group.ports[1]}"
    events = {"kill": False, "restart": False}
    restart_task: list[asyncio.Task[None]] = []

    async def restart() -> None:
        port = group.ports[1]
        proc = group.procs.pop(port)
        proc.terminate()  # SIGTERM: open streams get their error event after shutdown_grace_seconds
        await asyncio.to_thread(proc.wait, 30)
        group.start(port)
        await asyncio.to_thread(group.wait_ready, port)

    def milestones() -> None:
        answered = sum(1 for o in outcomes if o.complete)
        if answered >= KILL_AT and not events["kill"]:
            events["kill"] = True
            group.kill(group.ports[0])
        if answered >= RESTART_AT and not events["restart"]:
            events["restart"] = True
            restart_task.append(asyncio.create_task(restart()))

    async def client(index: int, http: httpx.AsyncClient) -> None:
        for turn in range(REQUESTS_EACH):
            key = keys[1] if index < RATE_CLIENTS and turn == 0 else keys[0]
            outcomes.append(await _one(http, url, key, stream=(index + turn) % 2 == 0))
            milestones()

    limits = httpx.Limits(max_connections=CLIENTS + 16, max_keepalive_connections=CLIENTS + 16)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(CLIENTS)))
    await asyncio.gather(*restart_task)
    assert events["kill"] and events["restart"], "the load ended before both failures were injected"
    return outcomes, killed, restarted


def _log_rows(schema: str) -> dict[str, int]:
    with psycopg.connect(PG_BASE) as conn:
        rows = conn.execute(f'SELECT id, status FROM "{schema}".bifrostc_requests').fetchall()
    return {str(row[0]): int(row[1]) for row in rows}


def test_four_replicas_behind_haproxy_survive_a_kill_and_a_restart(tmp_path: Path, pg_schema: str) -> None:
    names = {"budget": f"lb-b-{uuid.uuid4().hex[:8]}", "rate": f"lb-r-{uuid.uuid4().hex[:8]}"}
    keys = (f"sk-bfc-{uuid.uuid4().hex}", f"sk-bfc-{uuid.uuid4().hex}")
    with slow_upstream(UPSTREAM_KEY) as upstream:
        spec = tmp_path / "gateway.yaml"
        spec.write_text(
            SPEC.format(
                upstream=upstream, budget_key=names["budget"], rate_key=names["rate"], budget=BUDGET_USD, rpm=RPM
            )
        )
        build(spec, tmp_path / "out")
        env = {
            "ADMIN_KEY": "admin-secret",
            "BUDGET_KEY": keys[0],
            "RATE_KEY": keys[1],
            "UPSTREAM_ANTHROPIC_KEY": UPSTREAM_KEY,
            "GW_REDIS_URL": REDIS_URL,
            "GW_PG_DSN": f"{PG_BASE}?options=-csearch_path%3D{pg_schema}",
        }
        with replica_set(tmp_path / "out", 4, env, tmp_path) as group, haproxy(tmp_path, group.ports) as url:
            outcomes, killed, restarted = asyncio.run(_load(url, keys, group))
            spend = httpx.get(f"{url}/api/spend", headers=ADMIN, timeout=10).json()
            group.close()  # SIGTERM: the survivors flush their log before exiting
    rows = _log_rows(pg_schema)

    budget_row = next(r for r in spend["budgets"] if r["kind"] == "key" and r["name"] == names["budget"])
    assert 0 < budget_row["spent_usd"] <= BUDGET_USD + 1e-9
    budget_answers = [o for o in outcomes if o.key == keys[0] and o.complete]
    assert budget_answers and any(o.status == 429 for o in outcomes if o.key == keys[0])  # the budget ran out
    rate_answers = [o for o in outcomes if o.key == keys[1] and o.complete]
    assert len(rate_answers) == RPM  # 32 asked at once: exactly the limit admitted, over four replicas

    for o in outcomes:
        if o.status == 429:
            continue
        if o.complete:
            continue
        # Not answered: only a request the killed or restarted replica held may end this way, and a stream
        # that was cut ends with an error the client sees (a broken connection or the error event).
        assert o.served_by in (killed, restarted, None), o
        if o.stream and o.status == 200:
            assert o.broken or o.error_event, o
        if o.served_by is None:  # the balancer had nothing to retry on: the replica died holding the request
            assert o.status in (0, 502, 503, 504), o
    lost = [o for o in outcomes if not o.complete and o.status != 429]
    assert len(lost) <= CLIENTS // 2, f"{len(lost)} requests lost"

    # Every answer a client received has its row, the SIGKILLed replica's included: an answer completes only
    # once its row is written (or spooled), so the kill can only lose rows of answers it also cut.
    answered = [o for o in outcomes if (o.complete or o.status == 429) and not o.broken and o.request_id]
    assert any(o.served_by == killed for o in answered)
    missing = [o for o in answered if rows.get(f"{o.request_id}") != o.status]
    assert not missing, f"{len(missing)} answered requests have no log row: {missing[:3]}"
