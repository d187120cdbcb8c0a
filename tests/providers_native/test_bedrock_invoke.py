from __future__ import annotations

import base64
import json

import httpx

from bifrostc.runtime.providers.bedrock import BedrockAdapter
from bifrostc.runtime.types import StreamError

from .anthropic_client import final_message_via_sdk
from .conftest import agent_request, make_provider, mock_client
from .eventstream import event_frame, exception_frame
from .test_bedrock_adapter import aws_env, stream_upstream  # noqa: F401  (autouse fixture)
from .test_vertex_adapter import CLAUDE_STREAM

INVOKE_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"


def chunk_frames(events: list[dict]) -> list[bytes]:
    return [event_frame("chunk", {"bytes": base64.b64encode(json.dumps(e).encode()).decode()}) for e in events]


def invoke_adapter(handler) -> BedrockAdapter:
    return BedrockAdapter(make_provider("bedrock", region="us-east-1", api="invoke"), mock_client(handler))


async def test_invoke_sends_an_anthropic_body_pinned_to_the_bedrock_version() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        message = {
            **CLAUDE_STREAM[0]["message"],
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
        }
        return httpx.Response(200, json=message)

    response = await invoke_adapter(handler).send(agent_request(), model="claude-sonnet-4-5", api_key=None)
    assert seen[0].url.raw_path.decode() == INVOKE_PATH
    body = json.loads(seen[0].content)
    assert body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in body and "stream" not in body
    assert body["messages"][0]["role"] == "user" and body["max_tokens"] == 4096
    assert response.content[0].text == "ok"


async def test_invoke_stream_decodes_base64_anthropic_chunks() -> None:
    seen: list[httpx.Request] = []
    adapter = invoke_adapter(stream_upstream(chunk_frames(CLAUDE_STREAM), seen=seen))
    events = [e async for e in adapter.stream(agent_request(), model="claude-sonnet-4-5", api_key=None)]
    assert seen[0].url.raw_path.decode() == INVOKE_PATH + "-with-response-stream"
    message = final_message_via_sdk(events)
    assert message.content[0].input == {"path": "a.py"} and message.stop_reason == "tool_use"


async def test_invoke_stream_exception_after_start_becomes_stream_error() -> None:
    frames = [*chunk_frames(CLAUDE_STREAM[:2]), exception_frame("modelTimeoutException", "too slow")]
    adapter = invoke_adapter(stream_upstream(frames))
    events = [e async for e in adapter.stream(agent_request(), model="claude-sonnet-4-5", api_key=None)]
    assert events[-1] == StreamError(type="api_error", message="too slow", status=408)


async def test_non_claude_models_keep_using_converse_under_api_invoke() -> None:
    adapter = invoke_adapter(lambda _: httpx.Response(500))
    assert adapter.uses_invoke("anthropic.claude-3-5-haiku-20241022-v1:0")
    assert not adapter.uses_invoke("amazon.nova-pro-v1:0")
