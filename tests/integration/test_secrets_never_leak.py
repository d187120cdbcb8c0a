"""Issue 10 item 3: no configured secret reaches a client, a log row, the log API, the database file, stderr
or a trace.

A real `bifrostc serve` routes to a fake OpenAI upstream whose 401 bodies (chat, and the semantic cache's
embeddings, whose failure is logged to stderr) and mid-stream errors echo the provider key it was sent: an
Azure-style 32-hex key that no credential pattern recognises. A prompt carries the admin key and the caller's own
virtual key. Before the one redactor knew the configured values, the key came back to the client verbatim and
both keys sat in plain text in the log.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import running_server
from tests.integration.serve_process import Served, serve_spec
from tests.integration.wired import FakeUpstreams, base_spec, compile_gateway, user, wired_server

UP_KEY = "3f9a6c0d2b7e4f18a5c9d0e1b2a3f4c5"  # Azure-style: 32 hex digits, no sk-/Bearer/AKIA shape
ADMIN_KEY = "laptop-admin-7Qx9Vb2Lm4Np8Rt6"
DEV_KEY = "team-dev-key-Zk3Wq8Hs5Jd1Fg7Y"
ENV = {"UP_KEY": UP_KEY, "ADMIN_KEY": ADMIN_KEY, "DEV_KEY": DEV_KEY}
SPEC = """\
version: 1
server: {{port: {{port}}, require_key: true, admin_key_env: ADMIN_KEY}}
providers:
  azureish: {{type: openai, base_url: "{upstream}/v1", api_key_env: UP_KEY}}
  mock: {{type: mock}}
models:
  leaky: {{target: azureish/gpt-4o}}
  echo: {{target: mock/echo}}
  vectors: {{target: azureish/text-embedding-3-small}}
cache: {{mode: semantic, embedding_model: vectors}}
virtual_keys:
  - {{name: dev, key_env: DEV_KEY}}
observability: {{log_store: sqlite, sqlite_path: "{db}", log_bodies: true}}
"""


def echoing_upstream() -> Starlette:
    """OpenAI's wire format; the key the gateway sent is echoed in the 401 and in a mid-stream error."""

    async def chat(request: Request) -> Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        body = await request.json()
        if not body.get("stream"):
            error = {"message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error"}
            return JSONResponse({"error": {**error, "param": None, "code": "invalid_api_key"}}, status_code=401)
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
        first = {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]}
        error = {"error": {"message": f"key {key} was revoked mid-stream", "type": "server_error", "code": 500}}
        frames = f"data: {json.dumps(first)}\n\ndata: {json.dumps(error)}\n\n"
        return Response(frames, media_type="text/event-stream")

    async def embeddings(request: Request) -> Response:  # the semantic cache's lookups: logged when they fail
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        error = {"message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error"}
        return JSONResponse({"error": {**error, "param": None, "code": "invalid_api_key"}}, status_code=401)

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
        ]
    )


def assert_clean(text: str, where: str) -> None:
    for name, value in ENV.items():
        assert value not in text, f"{name} leaked into {where}"


async def _logs(served: Served, count: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(200):  # the log sink writes in batches a few ms apart
            response = await http.get(f"{served.url}/api/logs", headers={"x-admin-key": ADMIN_KEY})
            rows = response.json()["data"]
            if len(rows) >= count:
                for row in list(rows):
                    detail = await http.get(f"{served.url}/api/logs/{row['id']}", headers={"x-admin-key": ADMIN_KEY})
                    rows.append(detail.json())
                return rows
            await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} log rows")


async def test_provider_admin_and_virtual_keys_never_reach_a_client_a_row_or_stderr(live_server, tmp_path: Path):
    db = tmp_path / "log.db"
    async with (
        live_server(echoing_upstream()) as upstream,
        serve_spec(tmp_path, SPEC.format(upstream=upstream, db=db), ENV) as served,
    ):
        claude = anthropic.AsyncAnthropic(base_url=f"{served.url}/anthropic", api_key=DEV_KEY, max_retries=0)
        gpt = openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key=DEV_KEY, max_retries=0)
        messages: Any = [{"role": "user", "content": "hi"}]

        with pytest.raises(anthropic.APIStatusError) as translated:  # Anthropic client, OpenAI upstream
            await claude.messages.create(model="leaky", max_tokens=8, messages=messages)
        assert_clean(translated.value.response.text, "a translated error body")
        with pytest.raises(openai.APIStatusError) as relayed:  # same dialect: the passthrough path
            await gpt.chat.completions.create(model="leaky", messages=messages)
        assert_clean(relayed.value.response.text, "a passthrough error body")
        with pytest.raises(anthropic.APIStatusError) as midstream:  # the error event after a first delta
            async with claude.messages.stream(model="leaky", max_tokens=8, messages=messages) as stream:
                async for _event in stream:
                    pass
        assert "revoked mid-stream" in str(midstream.value)
        assert_clean(str(midstream.value), "a mid-stream error event")
        relayed_stream = await gpt.chat.completions.with_raw_response.create(  # same dialect: bytes relayed as-is
            model="leaky", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        raw = b"".join([chunk async for chunk in relayed_stream.http_response.aiter_bytes()])
        assert b"revoked mid-stream" in raw
        assert_clean(raw.decode(), "a relayed stream")

        pasted = f"my admin key is {ADMIN_KEY} and my gateway key is {DEV_KEY}, keep them safe"
        reply = await claude.messages.create(
            model="echo", max_tokens=64, messages=[{"role": "user", "content": pasted}]
        )
        assert reply.content  # the caller's own text may come back to the caller; it must not be stored

        rows = await _logs(served, 4)
        assert_clean(json.dumps(rows), "/api/logs")
        assert any("[REDACTED]" in json.dumps(row) for row in rows)
        served.terminate()
        await served.wait_exit(30)
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("log.db*"))
        assert_clean(stored.decode("latin-1"), "the SQLite file")
        assert "embedding for the semantic cache failed" in served.stderr()  # the line is there, the key not
        assert_clean(served.stderr(), "stderr of bifrostc serve")


class TextCollector:
    """An OTLP/HTTP trace collector keeping each export as text (span names, attributes and statuses)."""

    def __init__(self) -> None:
        self.exports: list[str] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.traces, methods=["POST"])])

    async def traces(self, request: Request) -> Response:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        self.exports.append(str(ExportTraceServiceRequest.FromString(body)))
        return Response(b"", media_type="application/x-protobuf")


async def _echoing_401(request: httpx.Request) -> httpx.Response:
    key = request.headers["authorization"].removeprefix("Bearer ")
    return httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {key}.", "code": "401"}})


async def test_spans_carry_no_configured_secret(tmp_path: Path) -> None:
    """A span's status holds the upstream's error and its name the requested model: both client-visible text."""
    collector = TextCollector()
    async with running_server(collector.app) as collector_url:
        spec = base_spec(tmp_path / "gw.db")
        spec["server"] = {"require_key": True, "admin_key_env": "ADMIN_KEY"}
        spec["providers"]["azureish"] = {"type": "openai", "base_url": "http://up.test/v1", "api_key_env": "UP_KEY"}
        spec["models"]["leaky"] = {"target": "azureish/gpt-4o"}
        spec["virtual_keys"] = [{"name": "dev", "key_env": "DEV_KEY"}]
        spec["observability"] |= {"otlp_endpoint": collector_url}
        upstreams = FakeUpstreams(**{"up.test": _echoing_401})
        async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV, transport=upstreams.transport()) as wired:
            claude = wired.anthropic(DEV_KEY)
            with pytest.raises(anthropic.APIStatusError):
                await claude.messages.create(model="leaky", max_tokens=8, messages=user("hi"))
            with pytest.raises(anthropic.NotFoundError):  # the admin key pasted where the model goes
                await claude.messages.create(model=ADMIN_KEY, max_tokens=8, messages=user("hi"))
            await wired.waiter.wait_for(2)
        # Leaving the server ran its lifespan shutdown, which flushed the batch span processor.
    exported = "".join(collector.exports)
    assert "Incorrect API key provided" in exported  # the status is exported: the check below is not vacuous
    assert_clean(exported, "an exported span")
