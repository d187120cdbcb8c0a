"""Streams: OpenAI chunks -> canonical -> Anthropic SSE, Anthropic events -> canonical -> OpenAI SSE, checked by
the official SDKs' own stream parsers and models."""

from __future__ import annotations

import anthropic as anthropic_sdk
import openai as openai_sdk
import orjson
import pytest
from openai.types.chat import ChatCompletionChunk
from pydantic import TypeAdapter

from bifrostc.runtime.translate import anthropic, openai, replay
from bifrostc.runtime.translate.sse import SSEDecoder
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamError,
    Usage,
)

from .conftest import load_fixture
from .sdk_clients import anthropic_events, anthropic_final_message, openai_chunks, openai_final_completion
from .streams import (
    chunk,
    encode_anthropic,
    encode_openai,
    parse_anthropic_events,
    parse_openai_chunks,
    tool_delta,
)

RAW_EVENT = TypeAdapter(anthropic_sdk.types.RawMessageStreamEvent)

REASONING_TEXT_AND_PARALLEL_TOOLS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "The user wants "}),
    chunk({"reasoning_content": "two files."}),
    chunk({"content": "Reading both."}),
    chunk(tool_delta(0, "", "call_a", "Read")),
    chunk(tool_delta(1, '{"file_path"', "call_b", "Read")),
    chunk(tool_delta(0, '{"file_path": "/a.py"}')),
    chunk(tool_delta(1, ': "/b.py"}')),
    chunk({}, "tool_calls"),
    chunk(
        None, usage={"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 800}}
    ),
]


def test_openai_stream_becomes_a_valid_anthropic_stream_for_the_sdk():
    events = parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS)
    message = anthropic_final_message(encode_anthropic(events))
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "The user wants two files."
    assert message.content[1].text == "Reading both."
    assert [(b.id, b.input) for b in message.content[2:]] == [
        ("call_a", {"file_path": "/a.py"}),
        ("call_b", {"file_path": "/b.py"}),
    ]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (
        200,
        800,
        50,
    )


def test_every_anthropic_frame_validates_as_a_raw_stream_event():
    sse = encode_anthropic(parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS))
    frames = SSEDecoder().feed(sse)
    assert frames[0].event == "message_start" and frames[1].event == "ping"
    data_frames = [f for f in frames if f.event != "ping"]  # ping is not a RawMessageStreamEvent
    for frame in data_frames:
        assert frame.json()["type"] == frame.event
        RAW_EVENT.validate_python(frame.json())
    assert [e.type for e in anthropic_events(sse)] == [f.event for f in data_frames]


def test_block_indexes_are_contiguous_in_open_order_and_each_block_closes_once():
    events = parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS)
    starts = [e.index for e in events if isinstance(e, BlockStart)]
    stops = [e.index for e in events if isinstance(e, BlockStop)]
    assert starts == [0, 1, 2, 3]
    assert sorted(stops) == starts
    thinking_stop = events.index(BlockStop(0))
    assert thinking_stop < events.index(BlockStart(1, "text"))  # thinking closes before text opens


def test_message_delta_waits_for_the_trailing_usage_chunk():
    parser = openai.StreamParser()
    for c in REASONING_TEXT_AND_PARALLEL_TOOLS[:-1]:
        assert not any(isinstance(e, MessageDelta) for e in parser.feed(c))
    tail = parser.feed(REASONING_TEXT_AND_PARALLEL_TOOLS[-1])
    assert tail == [MessageDelta("tool_use", usage=Usage(200, 50, 800, 0, 0)), MessageStop()]
    assert parser.finish() == []


def test_done_without_usage_or_finish_reason_still_ends_the_message():
    events = parse_openai_chunks([chunk({"content": "Hel"}), chunk({"content": "lo"})])
    assert events[-3:] == [BlockStop(0), MessageDelta("end_turn", usage=Usage()), MessageStop()]
    assert anthropic_final_message(encode_anthropic(events)).content[0].text == "Hello"


def test_usage_inside_the_finish_chunk_ends_the_message_at_once():
    usage = {"prompt_tokens": 10, "completion_tokens": 2}
    parser = openai.StreamParser()
    parser.feed(chunk({"content": "hi"}))
    events = parser.feed(chunk({}, "length", usage=usage))
    assert events[-2:] == [MessageDelta("max_tokens", usage=Usage(10, 2)), MessageStop()]


def test_reasoning_field_of_openrouter_and_vllm_opens_a_thinking_block():
    events = parse_openai_chunks([chunk({"reasoning": "hmm"}), chunk({"content": "ok"}, "stop")])
    assert [e.type for e in events if isinstance(e, BlockStart)] == ["thinking", "text"]


def test_complete_calls_repeated_at_index_zero_with_new_ids_become_separate_blocks():
    events = parse_openai_chunks(
        [
            chunk(tool_delta(0, '{"a":1}', "call_1", "f")),
            chunk(tool_delta(0, '{"b":2}', "call_2", "g")),
            chunk({}, "tool_calls"),
        ]
    )
    response = replay.events_to_response(events)
    assert [(p.id, p.name, p.arguments) for p in response.content] == [
        ("call_1", "f", '{"a":1}'),
        ("call_2", "g", '{"b":2}'),
    ]


def test_anthropic_upstream_stream_skips_server_tool_blocks_and_renumbers():
    events = parse_anthropic_events(load_fixture("anthropic_stream.json"))
    starts = [(e.index, e.type) for e in events if isinstance(e, BlockStart)]
    assert starts == [(0, "thinking"), (1, "text"), (2, "tool_use")]
    final = events[-2]
    assert final == MessageDelta("tool_use", usage=Usage(472, 89, 9000, 1200, 0))
    response = replay.events_to_response(events)
    assert response.content[0].signature == "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"
    assert orjson.loads(response.content[2].arguments) == {"location": "San Francisco, CA"}


def test_anthropic_upstream_stream_becomes_a_valid_openai_stream_for_the_sdk():
    events = parse_anthropic_events(load_fixture("anthropic_stream.json"))
    sse = encode_openai(events)
    chunks = openai_chunks(sse)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 472 + 9000 + 1200
    for frame in SSEDecoder().feed(sse)[:-1]:
        ChatCompletionChunk.model_validate(frame.json())
    completion = openai_final_completion(sse)
    message = completion.choices[0].message
    assert message.content == "Checking now."
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls[0].id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert orjson.loads(message.tool_calls[0].function.arguments) == {"location": "San Francisco, CA"}
    assert completion.model == "claude-sonnet-4-5-20250929"


def test_openai_stream_ends_with_done_and_usage_chunk_can_be_left_out():
    events = replay.response_to_events(
        replay.events_to_response(parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS))
    )
    assert encode_openai(events).endswith(b"data: [DONE]\n\n")
    frames = SSEDecoder().feed(encode_openai(events, include_usage=False))
    assert all(f.data == "[DONE]" or f.json()["choices"] for f in frames)


def test_truncated_anthropic_upstream_is_closed_by_finish():
    frames = load_fixture("anthropic_stream.json")[:14]  # cut inside the text block
    events = parse_anthropic_events(frames)
    assert events[-3:] == [BlockStop(1), MessageDelta("end_turn", usage=Usage(472, 2, 9000, 1200)), MessageStop()]


def test_anthropic_error_event_becomes_stream_error_and_is_re_encoded():
    parser = anthropic.StreamParser()
    parser.feed("message_start", load_fixture("anthropic_stream.json")[0])
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert parser.feed("error", error) == [StreamError("overloaded_error", "Overloaded", 529)]
    assert parser.finish() == []
    frame = anthropic.StreamEncoder().encode(StreamError("overloaded_error", "Overloaded", 529))
    assert (
        frame == b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )


def test_error_mid_stream_is_raised_by_the_sdks():
    events = [MessageStart("msg_1", "m"), BlockStart(0, "text"), BlockDelta(0, "text", "par")]
    error = StreamError("overloaded_error", "Overloaded", 529)
    with pytest.raises(anthropic_sdk.APIStatusError, match="Overloaded"):
        anthropic_final_message(encode_anthropic([*events, error]))
    with pytest.raises(openai_sdk.APIError, match="Overloaded"):
        openai_chunks(encode_openai([*events, error]))


def test_openai_upstream_error_chunk_becomes_stream_error():
    events = parse_openai_chunks([chunk({"content": "a"}), {"error": {"message": "boom", "type": "server_error"}}])
    assert isinstance(events[-1], StreamError) and events[-1].message == "boom"


def test_stop_after_streamed_tool_calls_is_read_as_tool_use():
    events = parse_openai_chunks([chunk(tool_delta(0, "{}", "call_1", "f")), chunk({}, "stop")])
    assert events[-2].stop_reason == "tool_use"


def test_openai_chunks_without_tool_call_index_use_their_position():
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
    events = parse_openai_chunks([chunk({"tool_calls": [call]}), chunk({}, "tool_calls")])
    assert replay.events_to_response(events).content[0].arguments == '{"x":1}'


def test_openai_upstream_error_with_numeric_code_keeps_its_status():
    events = parse_openai_chunks([{"error": {"message": "Rate limited", "code": 429}}])
    assert events[-1] == StreamError("rate_limit_error", "Rate limited", 429)
