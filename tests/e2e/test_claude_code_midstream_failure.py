"""Real Claude Code when the upstream dies mid-stream, after the gateway already relayed some words.

Those bytes cannot be taken back, so the gateway ends the stream with a proper `event: error` (never a hang, never
a truncated stream that looks complete). Claude Code 2.1 surfaces a mid-stream error rather than retrying it
(it did not retry an `overloaded_error` there either, when tried), so what the user gets is a prompt, clear
"API Error" naming the provider and the cause.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from test_claude_code import MARKER_PROMPT, claude_session

from tests.runtime.rt_fakes import openai_chunk, openai_text_stream, provider, sse

pytestmark = pytest.mark.claude_cli


def flaky_upstream(seen: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        if MARKER_PROMPT not in json.dumps(body.get("messages", [])):
            return Response(openai_text_stream("OK"), media_type="text/event-stream")  # side requests

        async def dies() -> AsyncIterator[bytes]:
            yield sse([(None, openai_chunk({"role": "assistant", "content": ""}))])
            yield sse([(None, openai_chunk({"content": "The marker"}))])
            await asyncio.sleep(0.05)
            raise ConnectionResetError("upstream went away")  # uvicorn drops the connection mid-body

        return StreamingResponse(dies(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def test_claude_code_gets_a_clear_error_when_the_upstream_dies_mid_stream(live_server, tmp_path):
    seen: list[dict[str, Any]] = []
    async with live_server(flaky_upstream(seen)) as upstream_url:
        run = await claude_session(
            live_server,
            tmp_path,
            [provider("fake", "openai", base_url=f"{upstream_url}/v1", key_env="UP_KEY", max_retries=0)],
            {"fake-model": [("fake", "gpt-fake")]},
            environ={"UP_KEY": "sk-fake"},
        )
    result = json.loads(run.stdout)
    assert run.returncode != 0 and result["is_error"] is True, run.stdout.decode()[-2000:]
    assert result["result"].startswith("API Error: fake unreachable"), result["result"]
    assert result["api_error_type"] == "api_error"
