from __future__ import annotations

import json

import httpx
import pytest

from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.providers.gemini import GeminiAdapter
from bifrostc.runtime.types import BlockStart, ChatRequest, MessageDelta, StreamEvent

from .conftest import agent_request, make_provider, mock_client
from .test_translate_gemini import tool_call_response


def sse(*chunks: dict) -> bytes:
    return b"".join(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n" for chunk in chunks)


async def collect(adapter: GeminiAdapter, request: ChatRequest) -> list[StreamEvent]:
    return [event async for event in adapter.stream(request, model="gemini-2.5-pro", api_key="g-key")]


async def test_send_posts_to_generate_content_with_api_key_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=tool_call_response())

    adapter = GeminiAdapter(make_provider("gemini"), mock_client(handler))
    response = await adapter.send(agent_request(), model="gemini-2.5-pro", api_key="g-key")
    assert str(seen[0].url) == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent"
    assert seen[0].headers["x-goog-api-key"] == "g-key"
    assert response.stop_reason == "tool_use"


async def test_stream_reads_sse_chunks_into_canonical_events() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["alt"] == "sse"
        first = {"responseId": "r", "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}}]}
        return httpx.Response(
            200, content=sse(first, tool_call_response()), headers={"content-type": "text/event-stream"}
        )

    adapter = GeminiAdapter(make_provider("gemini", "http://127.0.0.1:9/v1beta"), mock_client(handler))
    events = await collect(adapter, agent_request(stream=True))
    assert [e.type for e in events if isinstance(e, BlockStart)] == ["text", "thinking", "text", "thinking", "tool_use"]
    delta = next(e for e in events if isinstance(e, MessageDelta))
    assert delta.stop_reason == "tool_use"


async def test_rate_limit_keeps_status_and_retry_delay_from_error_details() -> None:
    error = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}],
        }
    }
    adapter = GeminiAdapter(make_provider("gemini"), mock_client(lambda _: httpx.Response(429, json=error)))
    with pytest.raises(UpstreamError) as caught:
        await collect(adapter, agent_request(stream=True))
    assert caught.value.status == 429 and caught.value.retry_after == 17.0 and caught.value.retryable
    assert "Resource has been exhausted" in caught.value.message


async def test_server_error_is_raised_before_any_event() -> None:
    adapter = GeminiAdapter(make_provider("gemini"), mock_client(lambda _: httpx.Response(503, text="busy")))
    stream = adapter.stream(agent_request(stream=True), model="m", api_key="k")
    with pytest.raises(UpstreamError) as caught:
        await anext(stream)
    assert caught.value.status == 503


async def test_connection_failure_becomes_502() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    adapter = GeminiAdapter(make_provider("gemini"), mock_client(handler))
    with pytest.raises(UpstreamError) as caught:
        await adapter.send(agent_request(), model="m", api_key="k")
    assert caught.value.status == 502
