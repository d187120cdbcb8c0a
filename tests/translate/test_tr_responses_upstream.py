"""The Responses upstream's stream reader on the events the fake Responses API sends (responses_fake.stream)."""

from __future__ import annotations

import json

from bifrostc.runtime.translate.responses_upstream import build_request, parse_response
from bifrostc.runtime.translate.responses_upstream_stream import StreamParser
from bifrostc.runtime.translate.sse import SSEDecoder
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    ChatRequest,
    Message,
    MessageDelta,
    MessageStart,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from tests.conformance import responses_fake as fake


def _events(frames: list[bytes]) -> list[StreamEvent]:
    parser, out = StreamParser(), []
    for event in SSEDecoder().feed(b"".join(frames)):
        out += parser.feed(json.loads(event.data))
    return out + parser.finish()


def test_a_custom_call_arrives_as_function_arguments_and_reasoning_as_a_signed_thinking_block() -> None:
    items = [fake.reasoning("rs_1", "Patch it.", "n1"), fake.custom_call("c1", "apply_patch", "*** Begin Patch\n")]
    events = _events(fake.stream(items, fake.Usage(), chunk=3))
    assert isinstance(events[0], MessageStart) and events[0].id == "resp_fake1"
    thinking = "".join(e.text for e in events if isinstance(e, BlockDelta) and e.kind == "thinking")
    signature = [e.text for e in events if isinstance(e, BlockDelta) and e.kind == "signature"]
    arguments = [e.text for e in events if isinstance(e, BlockDelta) and e.kind == "arguments"]
    assert (thinking, signature) == ("Patch it.", ["bfc:openai:" + fake.encrypted("n1")])
    assert [json.loads(a) for a in arguments] == [{"input": "*** Begin Patch\n"}]
    assert [e.name for e in events if isinstance(e, BlockStart) and e.type == "tool_use"] == ["apply_patch"]
    end = next(e for e in events if isinstance(e, MessageDelta))
    assert end.stop_reason == "tool_use"
    assert (end.usage.input_tokens, end.usage.cache_read_tokens, end.usage.reasoning_tokens) == (32, 8, 5)


def test_incomplete_is_max_tokens_and_a_cut_stream_is_an_error() -> None:
    events = _events(fake.stream([fake.message("m1", "partial")], fake.Usage(), status="incomplete"))
    assert next(e for e in events if isinstance(e, MessageDelta)).stop_reason == "max_tokens"
    cut = _events(fake.stream([fake.message("m1", "partial")], fake.Usage())[:-1])
    assert isinstance(cut[-1], StreamError) and cut[-1].status == 502


def test_an_error_event_before_any_output_is_the_first_event() -> None:
    error = {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down.", "param": None}
    head = fake.stream([], None)[:1]  # response.created only
    events = _events([*head, f"event: error\ndata: {json.dumps(error)}\n\n".encode()])
    assert events == [StreamError("rate_limit_error", "Slow down.", 429)]


def test_history_goes_back_paired_and_only_openai_reasoning_is_sent() -> None:
    request = ChatRequest(
        model="m",
        messages=[
            Message("user", [TextPart("go")]),
            Message(
                "assistant",
                [
                    ThinkingPart("mine", "bfc:openai:" + fake.encrypted("n1")),
                    ThinkingPart("claude's", "EqQBClaude"),
                    ToolCallPart("c1", "Bash", "{}"),
                    ToolCallPart("c2", "Bash", "{}"),
                ],
            ),
            Message("user", [ToolResultPart("c1", [TextPart("ok")]), ToolResultPart("c9", [TextPart("stray")])]),
        ],
    )
    body = build_request(request, model="gpt-5-codex")
    assert fake.refusal(body) is None
    kinds = [(i["type"], i.get("call_id")) for i in body["input"]]
    assert (
        kinds
        == [
            ("message", None),
            ("reasoning", None),
            ("function_call", "c1"),
            ("function_call", "c2"),
            ("function_call_output", "c1"),
            ("message", None),  # the stray result, as text
            ("function_call_output", "c2"),  # the interrupted call's placeholder, before the next turn
        ]
        or kinds[-2:] == [("function_call_output", "c2"), ("message", None)]
    )


def test_a_whole_response_reads_like_the_stream() -> None:
    items = [fake.reasoning("rs_1", "Think.", "n1"), fake.function_call("c1", "Bash", '{"command": "ls"}')]
    response = parse_response(fake.response(items, fake.Usage()))
    assert [type(p).__name__ for p in response.content] == ["ThinkingPart", "ToolCallPart"]
    assert response.content[0].signature == "bfc:openai:" + fake.encrypted("n1")  # type: ignore[union-attr]
    assert response.stop_reason == "tool_use" and response.usage.output_tokens == 12
