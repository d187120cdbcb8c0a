"""The upstream connection pool: `network.max_connections` per provider, and time spent waiting for it measured.

The fake upstream is a real HTTP server speaking OpenAI Chat Completions; the gateway is the fully wired app on
its production transport (aiohttp), so the pool under test is the one `bifrostc serve` runs.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bifrostc.runtime.http import UpstreamTransport
from tests.integration.wired import compile_gateway, openai_completion, wired_server

WAIT_S = 10.0


def upstream(gate: asyncio.Event, arrived: asyncio.Event, seen: dict[str, int]) -> Starlette:
    async def completions(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer up-key":  # as OpenAI: 401 without a valid key
            return JSONResponse(
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, 401
            )
        body = await request.json()
        seen["active"] += 1
        seen["most"] = max(seen["most"], seen["active"])
        seen["total"] += 1
        arrived.set()
        try:
            if seen["total"] == 1:
                await gate.wait()  # the first request holds its connection until the test lets it go
            return JSONResponse(openai_completion("hi", body["model"]))
        finally:
            seen["active"] -= 1

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def spec(up: str, db: Path, max_connections: int) -> dict[str, object]:
    return {
        "version": 1,
        "providers": {
            "up": {
                "type": "openai",
                "base_url": f"{up}/v1",
                "api_key_env": "UP_KEY",
                "network": {"max_connections": max_connections, "max_retries": 0},
            }
        },
        "models": {"gpt": {"target": "up/gpt-4o"}},
        "observability": {"log_store": "sqlite", "sqlite_path": str(db), "log_bodies": False},
    }


def _pool_waits(metrics: str, provider: str) -> float:
    found = re.search(rf'^bifrostc_upstream_pool_wait_seconds_count\{{provider="{provider}"\}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_a_provider_gets_at_most_max_connections_and_waits_are_measured(live_server, tmp_path: Path) -> None:
    gate, arrived = asyncio.Event(), asyncio.Event()
    seen = {"active": 0, "most": 0, "total": 0}
    env = {"UP_KEY": "up-key"}
    async with live_server(upstream(gate, arrived, seen)) as up:
        gateway = compile_gateway(tmp_path, spec(up, tmp_path / "log.db", 1), env)
        async with wired_server(gateway, env) as wired:
            assert isinstance(wired.app.state.http_client._transport, UpstreamTransport)  # the production pool
            body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
            calls = [
                asyncio.create_task(wired.http.post(f"{wired.url}/v1/chat/completions", json=body)) for _ in range(3)
            ]
            async with asyncio.timeout(WAIT_S):
                await arrived.wait()
            await asyncio.sleep(0.2)  # lets the other two reach the pool (scheduling, not an assertion on time)
            gate.set()
            responses = await asyncio.gather(*calls)
            metrics = (await wired.http.get(f"{wired.url}/metrics")).text
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert seen == {"active": 0, "most": 1, "total": 3}  # one connection at a time to this provider
    assert _pool_waits(metrics, "up") == 2  # the two that queued behind it


async def test_without_a_limit_in_the_spec_long_requests_do_not_queue(live_server, tmp_path: Path) -> None:
    gate, arrived = asyncio.Event(), asyncio.Event()
    seen = {"active": 0, "most": 0, "total": 0}
    env = {"UP_KEY": "up-key"}
    async with live_server(upstream(gate, arrived, seen)) as up:
        raw = spec(up, tmp_path / "log.db", 1)
        del raw["providers"]["up"]["network"]["max_connections"]  # type: ignore[index]  # the default: 4096
        gateway = compile_gateway(tmp_path, raw, env)
        assert gateway.providers["up"].network.max_connections == 4096
        async with wired_server(gateway, env) as wired:
            body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
            held = asyncio.create_task(wired.http.post(f"{wired.url}/v1/chat/completions", json=body))
            async with asyncio.timeout(WAIT_S):
                await arrived.wait()
            # While the first holds its connection, others go straight through (the old fixed cap is gone).
            others = await asyncio.gather(
                *(wired.http.post(f"{wired.url}/v1/chat/completions", json=body) for _ in range(8))
            )
            gate.set()
            first = await held
            metrics = (await wired.http.get(f"{wired.url}/metrics")).text
    assert first.status_code == 200 and {r.status_code for r in others} == {200}
    assert seen["most"] >= 2
    assert _pool_waits(metrics, "up") == 0
