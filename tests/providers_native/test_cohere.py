from __future__ import annotations

import itertools
import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion

from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.providers.cohere import CohereAdapter
from bifrostc.runtime.translate import cohere
from bifrostc.runtime.translate.cohere_stream import StreamParser
from bifrostc.runtime.types import (
    BlockDelta,
    ChatRequest,
    MessageDelta,
    MessageStop,
    StreamError,
    TextPart,
    ToolCallPart,
)

from .anthropic_client import final_message_via_sdk
from .conftest import agent_request, make_provider, mock_client

ARGS = '{"path": "main.py"}'


def cohere_sse(*events: dict) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def tool_call_stream(args_chunks: list[str]) -> list[dict]:
    """A v2 tool-calling stream, shaped as Cohere documents it."""
    start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    events: list[dict] = [{"id": "c-1", "type": "message-start", "delta": {"message": start}}]
    events += [{"type": "tool-plan-delta", "delta": {"message": {"tool_plan": word}}} for word in ("I will", " read")]
    call = {"id": "read_file_abc", "type": "function", "function": {"name": "read_file", "arguments": ""}}
    events.append({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": call}}})
    for chunk in args_chunks:
        delta = {"message": {"tool_calls": {"function": {"arguments": chunk}}}}
        events.append({"type": "tool-call-delta", "index": 0, "delta": delta})
    events.append({"type": "tool-call-end", "index": 0})
    usage = {
        "billed_units": {"input_tokens": 9, "output_tokens": 4},
        "tokens": {"input_tokens": 90, "output_tokens": 14},
    }
    events.append({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": usage}})
    return events


def test_request_translation_matches_snapshot(request_with_tools: ChatRequest, snapshot: SnapshotAssertion) -> None:
    assert cohere.build_request(request_with_tools, model="command-a-03-2025") == snapshot


def test_response_with_tool_plan_and_calls() -> None:
    body = {
        "id": "r1",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will read the file.",
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "read_file", "arguments": ARGS}}],
        },
        "usage": {"tokens": {"input_tokens": 5, "output_tokens": 6}},
    }
    response = cohere.parse_response(body, model="command-a")
    assert response.content == [TextPart("I will read the file."), ToolCallPart("t1", "read_file", ARGS)]
    assert response.stop_reason == "tool_use" and response.usage.output_tokens == 6


async def test_streamed_tool_call_reaches_anthropic_clients() -> None:
    body = cohere_sse(*tool_call_stream([ARGS[:7], ARGS[7:]]))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    adapter = CohereAdapter(make_provider("cohere"), mock_client(handler))
    events = [e async for e in adapter.stream(agent_request(stream=True), model="command-a", api_key="co-key")]
    assert str(seen[0].url) == "https://api.cohere.com/v2/chat"
    assert seen[0].headers["authorization"] == "Bearer co-key" and json.loads(seen[0].content)["stream"] is True
    delta = next(e for e in events if isinstance(e, MessageDelta))
    assert delta.stop_reason == "tool_use" and delta.usage.input_tokens == 90
    message = final_message_via_sdk(events)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "I will read" and message.content[1].input == {"path": "main.py"}


async def test_stream_cut_before_message_end_is_an_error() -> None:
    body = cohere_sse(*tool_call_stream([ARGS])[:-1])
    adapter = CohereAdapter(make_provider("cohere"), mock_client(lambda _: httpx.Response(200, content=body)))
    events = [e async for e in adapter.stream(agent_request(stream=True), model="command-a", api_key="k")]
    assert isinstance(events[-1], StreamError)


@pytest.mark.parametrize("status", [429, 500])
async def test_error_statuses_are_preserved(status: int) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"message": "nope"}, headers={"retry-after": "3"})

    adapter = CohereAdapter(make_provider("cohere"), mock_client(handler))
    with pytest.raises(UpstreamError) as caught:
        await adapter.send(agent_request(), model="command-a", api_key="k")
    assert (caught.value.status, caught.value.retry_after, caught.value.retryable) == (status, 3.0, True)
    assert caught.value.message.endswith("nope")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(ARGS)), max_size=8))
def test_tool_arguments_survive_any_chunking(split_at: list[int]) -> None:
    points = sorted({0, len(ARGS), *split_at})
    chunks = [ARGS[a:b] for a, b in itertools.pairwise(points)]
    parser = StreamParser(model="command-a")
    events = [event for data in tool_call_stream(chunks) for event in parser.feed(data)]
    arguments = "".join(e.text for e in events if isinstance(e, BlockDelta) and e.kind == "arguments")
    assert arguments == ARGS and isinstance(events[-1], MessageStop)
