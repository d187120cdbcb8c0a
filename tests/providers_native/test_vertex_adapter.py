from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.providers.vertex import VertexAdapter, vertex_claude_model
from bifrostc.runtime.types import BlockStart, MessageDelta, StreamEvent

from .anthropic_client import final_message_via_sdk
from .conftest import agent_request, make_provider, mock_client
from .test_gemini_adapter import sse
from .test_translate_gemini import assert_valid_gemini_request, tool_call_response

BASE = "https://us-east5-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-east5/publishers"


class FakeCredentials:
    """Stands in for google.auth credentials: starts without a token, counts refreshes."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.refreshes = 0

    @property
    def valid(self) -> bool:
        return self.token is not None

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"ya29.token-{self.refreshes}"


def make_adapter(handler, credentials: FakeCredentials | None = None) -> VertexAdapter:
    adapter = VertexAdapter(make_provider("vertex", project="proj-1", location="us-east5"), mock_client(handler))
    adapter.credentials = credentials or FakeCredentials()
    return adapter


def anthropic_sse(*events: dict) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


CLAUDE_STREAM = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_v1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 1},
        },
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "tool_use", "id": "toolu_v", "name": "read_file", "input": {}},
    },
    {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"path": '}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '"a.py"}'}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 9},
    },
    {"type": "message_stop"},
]


async def test_gemini_models_use_generate_content_with_a_cached_oauth_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=tool_call_response())

    credentials = FakeCredentials()
    adapter = make_adapter(handler, credentials)
    await adapter.send(agent_request(), model="gemini-2.5-pro", api_key=None)
    await adapter.send(agent_request(), model="gemini-2.5-pro", api_key=None)
    assert str(seen[0].url) == f"{BASE}/google/models/gemini-2.5-pro:generateContent"
    assert seen[1].headers["authorization"] == "Bearer ya29.token-1" and credentials.refreshes == 1
    assert_valid_gemini_request(json.loads(seen[0].content))


async def test_gemini_stream_uses_sse_endpoint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{BASE}/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        return httpx.Response(200, content=sse(tool_call_response()))

    events = [e async for e in make_adapter(handler).stream(agent_request(), model="gemini-2.5-flash", api_key=None)]
    assert any(isinstance(e, BlockStart) and e.type == "tool_use" for e in events)


async def test_claude_goes_through_raw_predict_without_model_in_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        message = {
            **CLAUDE_STREAM[0]["message"],
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
        }
        return httpx.Response(200, json=message)

    response = await make_adapter(handler).send(agent_request(), model="claude-sonnet-4-5", api_key=None)
    assert str(seen[0].url) == f"{BASE}/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    body = json.loads(seen[0].content)
    assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body and body["stream"] is False
    assert response.content[0].text == "hi"


async def test_claude_stream_reaches_anthropic_clients() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith(":streamRawPredict")
        return httpx.Response(200, content=anthropic_sse(*CLAUDE_STREAM))

    adapter = make_adapter(handler)
    events: list[StreamEvent] = [
        e async for e in adapter.stream(agent_request(), model="claude-sonnet-4-5@20250929", api_key=None)
    ]
    assert next(e for e in events if isinstance(e, MessageDelta)).stop_reason == "tool_use"
    message = final_message_via_sdk(events)
    assert message.content[0].input == {"path": "a.py"}


async def test_quota_error_keeps_429_and_retry_delay() -> None:
    error = {
        "error": {
            "code": 429,
            "message": "Quota exceeded",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "4s"}],
        }
    }
    adapter = make_adapter(lambda _: httpx.Response(429, json=[error]))
    with pytest.raises(UpstreamError) as caught:
        _ = [e async for e in adapter.stream(agent_request(), model="claude-sonnet-4-5", api_key=None)]
    assert (caught.value.status, caught.value.retry_after) == (429, 4.0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5@20250929"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1@20250805"),
        ("claude-haiku-4-5@20251001", "claude-haiku-4-5@20251001"),
        ("claude-custom", "claude-custom"),
    ],
)
def test_claude_model_names_map_to_vertex_ids(name: str, expected: str) -> None:
    assert vertex_claude_model(name) == expected
