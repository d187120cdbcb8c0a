"""How a real `bifrostc serve` logs and bills a stream by the way it ended.

- A client that leaves mid-stream (Esc in Claude Code, a killed process): logged as 499 and billed for what was
  relayed, counted from the events sent and flagged `usage_estimated`, since the upstream's closing usage never
  came. Dialects x paths: Anthropic passthrough, Anthropic translated from OpenAI, OpenAI passthrough, Responses
  translated from Anthropic.
- A client that closes right after the terminal frame, as the openai SDK does after `data: [DONE]`, while the
  upstream has not closed yet: a complete stream, logged 200 and counted so in bifrostc_requests_total.

The upstream is a real HTTP server speaking the documented Anthropic Messages and OpenAI Chat wire formats.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.conftest import server_thread
from tests.integration.replicas import build, replicas
from tests.runtime.rt_fakes import openai_chunk, sse

DELTAS = 40
WORD = "word "  # 5 characters per delta
FINAL_OUTPUT = 999  # the upstream's closing usage: a bill of this size came from it, not from an estimate
PROMPT_TOKENS = 100
DELTA_GAP_S = 0.02
HOLD_AFTER_END_S = 1.5  # the upstream keeps the connection open after its terminal frame
CLIENT_KEY = "sk-bfc-streams-0123456789"
ADMIN = {"authorization": "Bearer admin-secret"}

SPEC = """\
version: 1
server: {{require_key: true, admin_key_env: ADMIN_KEY}}
providers:
  claude: {{type: anthropic, base_url: "{up}", api_key_env: UP_KEY}}
  oai: {{type: openai, base_url: "{up}/v1", api_key_env: UP_KEY}}
models:
  claude-up: {{target: claude/claude-sonnet-4-5, pricing: {{input: 1000000, output: 1000000}}}}
  gpt-up: {{target: oai/gpt-4o, pricing: {{input: 1000000, output: 1000000}}}}
virtual_keys:
  - {{name: dev, key_env: CLIENT_KEY}}
cache: {{mode: off}}
observability: {{log_store: sqlite, sqlite_path: "{db}", log_bodies: false}}
"""


def _required_header(request: Request, name: str) -> Response | None:
    if request.headers.get(name) is None:
        return JSONResponse({"error": {"message": f"missing {name}"}}, status_code=401)
    return None


async def _anthropic_events() -> AsyncIterator[bytes]:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": []}
    message |= {"stop_reason": None, "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": 1}}
    yield sse([("message_start", {"type": "message_start", "message": message})])
    start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    yield sse([("content_block_start", start)])
    for _ in range(DELTAS):
        await asyncio.sleep(DELTA_GAP_S)
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": WORD}}
        yield sse([("content_block_delta", delta)])
    end = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": FINAL_OUTPUT}}
    yield sse([("content_block_stop", {"type": "content_block_stop", "index": 0}), ("message_delta", end)])
    yield sse([("message_stop", {"type": "message_stop"})])
    await asyncio.sleep(HOLD_AFTER_END_S)


async def _openai_chunks(include_usage: bool) -> AsyncIterator[bytes]:
    yield sse([(None, openai_chunk({"role": "assistant", "content": ""}))])
    for _ in range(DELTAS):
        await asyncio.sleep(DELTA_GAP_S)
        yield sse([(None, openai_chunk({"content": WORD}))])
    yield sse([(None, openai_chunk({}, finish="stop"))])
    if include_usage:
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": FINAL_OUTPUT, "total_tokens": 1099}
        yield sse([(None, openai_chunk({}, usage=usage))])
    yield b"data: [DONE]\n\n"
    await asyncio.sleep(HOLD_AFTER_END_S)


async def _messages(request: Request) -> Response:
    missing = _required_header(request, "x-api-key")
    body = orjson.loads(await request.body())
    if missing or not body.get("stream"):
        return missing or JSONResponse({"error": "this fake only streams"}, status_code=400)
    return StreamingResponse(_anthropic_events(), media_type="text/event-stream")


async def _chat(request: Request) -> Response:
    missing = _required_header(request, "authorization")
    body = orjson.loads(await request.body())
    if missing or not body.get("stream"):
        return missing or JSONResponse({"error": "this fake only streams"}, status_code=400)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return StreamingResponse(_openai_chunks(include_usage), media_type="text/event-stream")


UPSTREAM = Starlette(
    routes=[Route("/v1/messages", _messages, methods=["POST"]), Route("/v1/chat/completions", _chat, methods=["POST"])]
)


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("serve-streams")
    with server_thread(UPSTREAM) as upstream:
        spec = tmp / "gateway.yaml"
        spec.write_text(SPEC.format(up=upstream, db=tmp / "log.db"))
        build(spec, tmp / "out")
        env = {"UP_KEY": "sk-upstream-secret", "CLIENT_KEY": CLIENT_KEY, "ADMIN_KEY": "admin-secret"}
        with replicas(tmp / "out", 1, env, cwd=tmp) as (url,):
            yield url


async def _row(url: str, request_id: str) -> dict[str, Any]:
    """The request's log row, once the gateway's log writer has written it."""
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            rows = (await client.get(f"{url}/api/logs?limit=50", headers=ADMIN)).json()["data"]
            for row in rows:
                if row["id"] == request_id:
                    return dict(row)
            await asyncio.sleep(0.1)  # another process writes the row: there is no event to await
    raise AssertionError(f"request {request_id} was never logged")


PROMPT = [{"role": "user", "content": "write forty words"}]
DROPS = {
    "anthropic passthrough": ("/anthropic/v1/messages", "claude-up", {"max_tokens": 64, "messages": PROMPT}),
    "anthropic from openai": ("/anthropic/v1/messages", "gpt-up", {"max_tokens": 64, "messages": PROMPT}),
    "openai passthrough": (
        "/v1/chat/completions",
        "gpt-up",
        {"messages": PROMPT, "stream_options": {"include_usage": True}},
    ),
    "responses from anthropic": ("/v1/responses", "claude-up", {"input": "write forty words"}),
}


@pytest.mark.parametrize("case", DROPS)
async def test_a_dropped_stream_is_logged_and_billed_for_what_was_relayed(gateway_url: str, case: str) -> None:
    path, model, extra = DROPS[case]
    body = {"model": model, "stream": True, **extra}
    seen = 0
    async with httpx.AsyncClient(timeout=10) as client:
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
        async with client.stream("POST", f"{gateway_url}{path}", json=body, headers=headers) as response:
            assert response.status_code == 200
            request_id = response.headers["x-request-id"]
            async for chunk in response.aiter_bytes():
                seen += chunk.count(WORD.encode())
                if seen >= 5:
                    break  # the client goes away mid-stream; leaving the block closes the connection
    row = await _row(gateway_url, request_id)
    assert row["status"] == 499 and row["error_message"] == "client closed the stream"
    assert row["usage_estimated"] is True
    relayed_chars = (seen * len(WORD), DELTAS * len(WORD))
    assert math.ceil(relayed_chars[0] / 4) <= row["output_tokens"] <= math.ceil(relayed_chars[1] / 4)
    assert row["output_tokens"] < FINAL_OUTPUT
    if model == "claude-up":
        assert row["input_tokens"] == PROMPT_TOKENS  # message_start's count, as sent
    else:
        assert row["input_tokens"] > 0  # OpenAI counts come only at the end: estimated from the request
    assert row["cost_usd"] == pytest.approx(row["input_tokens"] + row["output_tokens"])


@pytest.mark.parametrize("model", ["gpt-up", "claude-up"])
async def test_a_stream_the_openai_sdk_closes_after_done_is_complete(gateway_url: str, model: str) -> None:
    before = await _requests_total(gateway_url, model)
    client = openai.AsyncOpenAI(base_url=f"{gateway_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=10)
    raw = await client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": "write forty words"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    request_id = raw.headers["x-request-id"]
    text = ""
    async for chunk in raw.parse():
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    assert text == WORD * DELTAS  # the SDK read [DONE] and closed while the upstream still held the connection
    row = await _row(gateway_url, request_id)
    assert row["status"] == 200 and row["error_message"] is None
    assert row["output_tokens"] == FINAL_OUTPUT and not row["usage_estimated"]
    after = await _requests_total(gateway_url, model)
    assert (after["200"] - before["200"], after["499"] - before["499"]) == (1, 0)


async def _requests_total(url: str, route: str) -> dict[str, float]:
    """bifrostc_requests_total of OpenAI-dialect requests to `route`, by status."""
    async with httpx.AsyncClient(timeout=5) as http:
        metrics = (await http.get(f"{url}/metrics", headers=ADMIN)).text
    counts = {"200": 0.0, "499": 0.0}
    for line in metrics.splitlines():
        if line.startswith("bifrostc_requests_total{") and 'dialect="openai"' in line and f'route="{route}"' in line:
            labels, value = line.rsplit(" ", 1)
            status = labels.split('status="')[1].split('"')[0]
            counts[status] = counts.get(status, 0.0) + float(value)
    return counts
