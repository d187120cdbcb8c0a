"""`bifrostc serve --log-format json --access-log`: the start-up banner, one access line per request, and the
client's x-request-id kept, returned and forwarded upstream. A real `serve` process; the upstream is a fake."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.integration.serve_process import Served, serve_spec
from tests.integration.wired import openai_completion

KEY = "sk-bfc-ops-logs-0123456789abcdef"
ENV = {"OPS_KEY": KEY, "UPSTREAM_OPS_KEY": "sk-upstream-ops-0123456789", "OPS_ADMIN": "admin-ops-0123456789"}


def _spec(upstream: str, db: Path) -> str:
    return f"""version: 1
server: {{port: {{port}}, require_key: true, admin_key_env: OPS_ADMIN}}
providers:
  llm: {{type: openai, base_url: '{upstream}/v1', api_key_env: UPSTREAM_OPS_KEY}}
models:
  chat: {{target: llm/gpt-ops, pricing: {{input: 1000000, output: 1000000}}}}
virtual_keys:
  - {{name: ops-team-key, key_env: OPS_KEY}}
observability: {{log_store: sqlite, sqlite_path: '{db}'}}
"""


def _upstream(seen: list[dict[str, str]]) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        seen.append(dict(request.headers))
        return JSONResponse(openai_completion("hello", (await request.json())["model"]))

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def _json_lines(served: Served) -> list[dict[str, Any]]:
    return [json.loads(line) for line in served.stderr().splitlines() if line.strip()]


async def _access_lines(served: Served, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):  # the line is written once the response is done; bounded wait
        while len(lines := [r for r in _json_lines(served) if r["logger"] == "bifrostc.access"]) < count:
            await asyncio.sleep(0.05)
    return lines


async def test_json_logs_carry_the_banner_and_an_access_line_per_request_with_the_clients_request_id(
    live_server: Any, tmp_path: Path
) -> None:
    seen: list[dict[str, str]] = []
    env = {**ENV, "BIFROSTC_ACCESS_LOG": "1"}
    async with (
        live_server(_upstream(seen)) as upstream,
        serve_spec(tmp_path, _spec(upstream, tmp_path / "gw.db"), env, ["--log-format", "json"]) as served,
    ):
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
        headers = {"authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(base_url=served.url) as client:
            kept = await client.post("/v1/chat/completions", json=body, headers={**headers, "x-request-id": "ci-42.a"})
            fresh = await client.post("/v1/chat/completions", json=body, headers=headers)
            forged = await client.post("/v1/chat/completions", json=body, headers={**headers, "x-request-id": "a b"})
            missing = await client.post(
                "/v1/chat/completions", json={**body, "model": "nope"}, headers={**headers, "x-request-id": "err-1"}
            )
        assert kept.status_code == fresh.status_code == forged.status_code == 200
        assert missing.status_code == 404 and missing.headers["x-request-id"] == "err-1"  # errors carry it too
        lines = await _access_lines(served, 4)

    assert kept.headers["x-request-id"] == "ci-42.a"
    assert len(fresh.headers["x-request-id"]) == 32 and forged.headers["x-request-id"] != "a b"
    assert [h["x-request-id"] for h in seen] == [
        "ci-42.a",
        fresh.headers["x-request-id"],
        forged.headers["x-request-id"],
    ]

    records = _json_lines(served)  # every line is JSON, uvicorn's included
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    assert any(r["logger"].startswith("uvicorn") for r in records)
    (banner,) = [r for r in records if r.get("event") == "startup"]
    spec_sha = hashlib.sha256((tmp_path / "gateway.yaml").read_bytes()).hexdigest()
    assert banner["spec_sha256"] == spec_sha and banner["version"]
    assert banner["routes"] == {"chat": ["llm/gpt-ops"]}
    assert banner["listening"] == [served.url] and banner["dashboard"] == served.url + "/"
    assert f"spec sha256 {spec_sha}" in banner["msg"] and "route chat -> llm/gpt-ops" in banner["msg"]

    first = lines[0]
    assert first["request_id"] == "ci-42.a" and "ci-42.a" in first["msg"]
    assert first["key"] == "ops-team-key" and first["model"] == "chat" and first["provider"] == "llm"
    assert first["status"] == 200 and first["latency_ms"] >= 0
    assert (first["input_tokens"], first["output_tokens"]) == (3, 2) and first["cost_usd"] == 5.0
    assert [line["request_id"] for line in lines[1:3]] == [
        fresh.headers["x-request-id"],
        forged.headers["x-request-id"],
    ]
    assert (lines[3]["request_id"], lines[3]["status"], lines[3]["key"]) == ("err-1", 404, "ops-team-key")
    assert KEY not in served.stderr() and ENV["UPSTREAM_OPS_KEY"] not in served.stderr()


async def test_text_logs_without_the_access_log_print_the_banner_and_no_request_lines(
    live_server: Any, tmp_path: Path
) -> None:
    async with (
        live_server(_upstream([])) as upstream,
        serve_spec(tmp_path, _spec(upstream, tmp_path / "gw.db"), ENV) as served,
    ):
        async with httpx.AsyncClient(base_url=served.url) as client:
            body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
            reply = await client.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"})
            assert reply.status_code == 200
    text = served.stderr()
    assert "bifrostc.server: bifrostc " in text and "  route chat -> llm/gpt-ops" in text
    assert f"  listening on {served.url}" in text and f"  dashboard {served.url}/ (admin key" in text
    assert "bifrostc.access" not in text
