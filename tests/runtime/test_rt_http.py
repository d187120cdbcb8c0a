"""Small pieces: retry-after parsing, SSE frame cutting, provider/model fallbacks, unknown-path errors."""

from __future__ import annotations

import email.utils
import time

import httpx
from rt_fakes import Upstream, app_for, asgi_client, gateway, json_reply, openai_completion, provider

from bifrostc.runtime.transport.errors import parse_retry_after, upstream_message
from bifrostc.runtime.transport.passthrough import frame_end


def test_parse_retry_after_forms():
    assert parse_retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    future = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < parse_retry_after(httpx.Headers({"retry-after": future})) <= 120
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert parse_retry_after(httpx.Headers()) is None


def test_frame_end():
    assert frame_end(b"data: a\n\ndata: b") == 9
    assert frame_end(b"data: a\r\n\r\n") == 11
    assert frame_end(b"data: partial") == 0


async def test_fallback_to_provider_slash_model_and_unknown_path_code():
    gw = gateway(
        [provider("a", "openai", key_env="UP_KEY"), provider("b", "openai", key_env="UP_KEY")],
        {"main": [("a", "m-a")]},
        fallbacks={"main": ("b/direct-model",)},
    )
    up = Upstream(default={"a.test": json_reply({"error": {}}, 502)}).add("b.test", json_reply(openai_completion("b")))
    async with asgi_client(app_for(gw, up, sleep=_no_sleep)) as client:
        response = await client.post(
            "/v1/chat/completions", json={"model": "main", "messages": [{"role": "user", "content": "x"}]}
        )
        missing = await client.get("/openai/v1/nothing")
    assert response.status_code == 200 and response.headers["x-bifrostc-model"] == "direct-model"
    assert up.bodies("b.test")[0]["model"] == "direct-model"
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def _no_sleep(_seconds: float) -> None:
    return None


def test_upstream_message_extraction():
    assert (
        upstream_message(b'{"type":"error","error":{"type":"x","message":"prompt is too long"}}')
        == "prompt is too long"
    )
    assert upstream_message(b'{"message":"plain"}') == "plain"
    assert upstream_message(b"<html>") is None


async def test_context_overflow_is_worded_for_claude_code():
    from bifrostc.runtime.transport.errors import error_from_response

    body = (
        b'{"error":{"message":"This model\'s maximum context length is 8192 tokens","code":"context_length_exceeded"}}'
    )
    error = await error_from_response(httpx.Response(400, content=body), "oai")
    assert (
        error.status == 400
        and "prompt is too long" in error.message
        and error.anthropic_type == "invalid_request_error"
    )
