"""A real `bifrostc serve` on its own redis-server, killed and restarted under traffic (server.state_failure).

The test starts and kills its own Redis (a free port, AOF with fsync on every write so a SIGKILL loses
nothing it acknowledged), never the shared one. A slow fake Anthropic upstream keeps streams in flight
across the kill, so their settlements meet the outage.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.integration.replicas import build, own_redis, replicas
from tests.runtime.rt_fakes import anthropic_message, anthropic_text_stream

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

KEY = "sk-bfc-outage-0123456789abcdef"
ADMIN = {"authorization": "Bearer outage-admin"}
# $1,000 per million tokens in and out: a plain answer (12 in, 3 out) costs $0.015, a stream (12 + 4) $0.016.
COST = {False: 0.015, True: 0.016}

SPEC = """\
version: 1
server: {{require_key: true, admin_key_env: ADMIN_KEY, state: redis, redis_url_env: GW_REDIS_URL,
          state_failure: {mode}}}
providers:
  up: {{type: anthropic, base_url: "{upstream}", api_key_env: UP_KEY, network: {{max_retries: 0}}}}
models:
  claude: {{target: up/claude-up, pricing: {{input: 1000, output: 1000}}}}
virtual_keys:
  - {{name: outage, key_env: TEAM_KEY, budget: {{max_usd: 1000, period: never}}}}
cache: {{mode: exact, backend: redis}}
observability: {{log_store: sqlite, sqlite_path: "{db}", log_bodies: false}}
"""


def slow_anthropic() -> Starlette:
    """Anthropic Messages; streams take ~0.4 s, one frame every 50 ms."""

    async def messages(request: Request) -> Response:
        body = orjson.loads(await request.body())
        if not body.get("stream"):
            return Response(orjson.dumps(anthropic_message("fine")), media_type="application/json")
        frames = [f + b"\n\n" for f in anthropic_text_stream("one ", "two ", "three").split(b"\n\n") if f]

        async def slowly() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame
                await asyncio.sleep(0.05)

        return StreamingResponse(slowly(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


@dataclass
class Outcome:
    dialect: str
    stream: bool
    status: int
    headers: httpx.Headers
    body: bytes


async def _one(client: httpx.AsyncClient, url: str, n: int) -> Outcome:
    dialect, stream = ("anthropic", "openai")[n % 2], n % 4 >= 2
    content = f"request {n}"  # unique: the exact cache never answers
    if dialect == "anthropic":
        path, headers = "/anthropic/v1/messages", {"x-api-key": KEY}
    else:
        path, headers = "/v1/chat/completions", {"authorization": f"Bearer {KEY}"}
    body = {"model": "claude", "max_tokens": 16, "stream": stream, "messages": [{"role": "user", "content": content}]}
    try:
        async with client.stream("POST", f"{url}{path}", json=body, headers=headers) as response:
            data = b"".join([chunk async for chunk in response.aiter_bytes()])
            return Outcome(dialect, stream, response.status_code, response.headers, data)
    except httpx.HTTPError as exc:  # a reset or a cut body: what must never happen
        return Outcome(dialect, stream, -1, httpx.Headers(), repr(exc).encode())


async def _traffic(url: str, outcomes: list[Outcome], stop: asyncio.Event, workers: int = 12) -> None:
    numbers = itertools.count()

    async def worker(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            outcomes.append(await _one(client, url, next(numbers)))

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(workers)))


def _is_dialect_503(outcome: Outcome) -> bool:
    if outcome.status != 503 or not outcome.headers.get("retry-after", "").isdigit():
        return False
    error = orjson.loads(outcome.body)
    if outcome.dialect == "anthropic":
        return error["type"] == "error" and error["error"]["type"] == "api_error"
    return error["error"]["code"] == "state_unavailable"


def _stream_complete(outcome: Outcome) -> bool:
    return (b"event: message_stop" if outcome.dialect == "anthropic" else b"data: [DONE]") in outcome.body


async def _run(tmp_path: Path, mode: str, live_server: object) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome] = []
    async with live_server(slow_anthropic()) as upstream:  # type: ignore[operator]
        spec = tmp_path / "gateway.yaml"
        spec.write_text(SPEC.format(mode=mode, upstream=upstream, db=tmp_path / "log.db"))
        build(spec, tmp_path / "out")
        with own_redis(tmp_path) as server:
            env = {"TEAM_KEY": KEY, "ADMIN_KEY": "outage-admin", "GW_REDIS_URL": server.url, "UP_KEY": "sk-up"}
            with replicas(tmp_path / "out", 1, env, cwd=tmp_path) as [url]:
                stop = asyncio.Event()
                traffic = asyncio.create_task(_traffic(url, outcomes, stop))
                await asyncio.sleep(1.5)
                server.kill()
                await asyncio.sleep(3.0)  # the outage
                await asyncio.to_thread(server.start)
                await asyncio.sleep(2.5)  # recovered traffic (the first admission after the probe reconciles)
                stop.set()
                await traffic
                async with httpx.AsyncClient(timeout=30) as client:
                    spend = (await client.get(f"{url}/api/spend", headers=ADMIN)).json()
    row = next(r for r in spend["budgets"] if r["kind"] == "key" and r["name"] == "outage")
    return outcomes, float(row["spent_usd"])


def _expected_spend(outcomes: list[Outcome]) -> float:
    return sum(COST[o.stream] for o in outcomes if o.status == 200)


async def test_closed_refuses_in_the_callers_dialect_and_bills_what_it_admitted(tmp_path: Path, live_server) -> None:
    outcomes, spent = await _run(tmp_path, "closed", live_server)
    refused = [o for o in outcomes if o.status != 200]
    assert all(_is_dialect_503(o) for o in refused), [
        (o.status, o.body[:200]) for o in refused if not _is_dialect_503(o)
    ]
    assert refused, "the outage was never noticed"
    assert sum(o.status == 200 for o in outcomes[-12:]) > 0, "no recovery after Redis came back"
    streams = [o for o in outcomes if o.stream and o.status == 200]
    assert streams and all(_stream_complete(o) for o in streams)  # an admitted stream is never cut
    # Streams admitted before the kill settled during it: spooled, then added once Redis answered.
    assert spent == pytest.approx(_expected_spend(outcomes), abs=0.0165)


async def test_open_admits_on_local_counters_and_reconciles_spend(tmp_path: Path, live_server) -> None:
    outcomes, spent = await _run(tmp_path, "open", live_server)
    assert outcomes and all(o.status == 200 for o in outcomes), {o.status for o in outcomes}
    assert all(_stream_complete(o) for o in outcomes if o.stream)
    assert spent == pytest.approx(_expected_spend(outcomes), abs=0.0165)  # outage spend added to Redis


async def test_readiness_follows_redis_in_closed_mode(tmp_path: Path, live_server) -> None:
    """Closed mode cannot admit without Redis: /health/ready says so, /health/live does not care."""
    from bifrostc.runtime.governance.resilient import PROBE_SECONDS

    async with live_server(slow_anthropic()) as upstream:  # type: ignore[operator]
        spec = tmp_path / "gateway.yaml"
        spec.write_text(SPEC.format(mode="closed", upstream=upstream, db=tmp_path / "log.db"))
        build(spec, tmp_path / "out")
        with own_redis(tmp_path) as server:
            env = {"TEAM_KEY": KEY, "ADMIN_KEY": "outage-admin", "GW_REDIS_URL": server.url, "UP_KEY": "sk-up"}
            with replicas(tmp_path / "out", 1, env, cwd=tmp_path) as [url]:
                async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                    before = (await client.get("/health/ready")).status_code
                    server.kill()
                    await asyncio.sleep(PROBE_SECONDS)
                    during = (await client.get("/health/ready")).status_code
                    live = (await client.get("/health/live")).status_code
                    await asyncio.to_thread(server.start)
                    await asyncio.sleep(PROBE_SECONDS * 2)
                    after = (await client.get("/health/ready")).status_code
    assert (before, during, live, after) == (200, 503, 200, 200)
