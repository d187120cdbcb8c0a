"""OpenAI Responses API clients (/v1/responses): requests, response objects and streams, checked with the SDK."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import anthropic, openai, replay, responses
from bifrostc.runtime.translate.sse import SSEDecoder
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    ImagePart,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

from .sdk_clients import openai_final_response, openai_response_events
from .strategies import anthropic_responses, openai_responses
from .streams import parse_openai_chunks
from .test_tr_streams import REASONING_TEXT_AND_PARALLEL_TOOLS

STREAM_EVENT = TypeAdapter(ResponseStreamEvent)
TOOL = {
    "type": "function",
    "name": "shell",
    "description": "Run a command",
    "parameters": {"type": "object", "properties": {"cmd": {"type": "array", "items": {"type": "string"}}}},
    "strict": False,
}
CODEX_INPUT: list[dict[str, Any]] = [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be careful."}]},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List files, twice."}]},
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "I will run ls."}],
        "encrypted_content": "bfc.sig.SIG",
    },
    {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Running.", "annotations": []}],
    },
    {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell", "arguments": '{"cmd":["ls"]}'},
    {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "shell", "arguments": '{"cmd":["ls","-a"]}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "a.py"},
    {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": ".git a.py"}]},
    {"role": "user", "content": "Thanks"},
]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-5-codex", "instructions": "You are Codex.", "input": CODEX_INPUT, "tools": [TOOL], **fields}


def frames(sse: bytes) -> list[dict[str, Any]]:
    return [frame.json() for frame in SSEDecoder().feed(sse)]


def encode(events: list[Any], **options: Any) -> bytes:
    encoder = responses.StreamEncoder(created_at=1_700_000_000, **options)
    return b"".join(encoder.encode(e) for e in events)


# --- requests --------------------------------------------------------------------------------------


def test_codex_style_request_becomes_canonical_turns():
    req = responses.parse_request(body(max_output_tokens=500, reasoning={"effort": "high"}, stream=True))
    assert [p.text for p in req.system] == ["You are Codex.", "Be careful."]
    assert [m.role for m in req.messages] == ["user", "assistant", "user", "user"]
    assistant = req.messages[1].content
    assert assistant == [
        ThinkingPart("I will run ls.", "SIG"),
        TextPart("Running."),
        ToolCallPart("call_1", "shell", '{"cmd":["ls"]}'),
        ToolCallPart("call_2", "shell", '{"cmd":["ls","-a"]}'),
    ]
    assert req.messages[2].content == [
        ToolResultPart("call_1", [TextPart("a.py")]),
        ToolResultPart("call_2", [TextPart(".git a.py")]),
    ]
    assert req.messages[3].content == [TextPart("Thanks")]
    assert (req.max_tokens, req.reasoning_effort, req.stream) == (500, "high", True)
    assert req.tools[0].name == "shell" and req.tools[0].parameters == TOOL["parameters"]
    assert req.extra["_openai_tool_strict"] == {"shell": False}


def test_function_calls_and_outputs_round_trip_to_both_upstream_dialects():
    req = responses.parse_request(body())
    chat = openai.build_request(req, model="gpt-up")
    calls = chat["messages"][2]["tool_calls"]
    assert [(c["id"], c["function"]["arguments"]) for c in calls] == [
        ("call_1", '{"cmd":["ls"]}'),
        ("call_2", '{"cmd":["ls","-a"]}'),
    ]
    assert [(m["role"], m.get("tool_call_id")) for m in chat["messages"][3:5]] == [
        ("tool", "call_1"),
        ("tool", "call_2"),
    ]
    messages = anthropic.build_request(req, model="claude-up")["messages"]
    assert [b["type"] for b in messages[1]["content"]] == ["thinking", "text", "tool_use", "tool_use"]
    assert messages[1]["content"][0]["signature"] == "SIG"
    assert [b["tool_use_id"] for b in messages[2]["content"][:2]] == ["call_1", "call_2"]


def test_string_input_and_instructions():
    req = responses.parse_request({"model": "m", "input": "hello", "instructions": "be brief"})
    assert req.messages == [Message("user", [TextPart("hello")])]
    assert req.system == [TextPart("be brief")]
    assert req.extra["_source"] == "responses"


def test_images_as_data_urls_and_urls():
    content = [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
        {"type": "input_image", "image_url": "https://example.com/cat.png"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
    ]
    req = responses.parse_request({"model": "m", "input": [{"role": "user", "content": content}]})
    assert req.messages[0].content == [
        TextPart("what is this?"),
        ImagePart(media_type="image/png", data="AAAA"),
        ImagePart(url="https://example.com/cat.png"),
        ImagePart(media_type="application/pdf", data="JVBE"),
    ]


@pytest.mark.parametrize(
    "choice, parallel, expected",
    [
        (None, None, None),
        ("auto", None, ToolChoice("auto")),
        ("none", None, ToolChoice("none")),
        ("required", False, ToolChoice("any", disable_parallel=True)),
        ({"type": "function", "name": "shell"}, None, ToolChoice("tool", "shell")),
        ({"type": "web_search"}, None, ToolChoice("auto")),
        (None, False, ToolChoice("auto", disable_parallel=True)),
    ],
)
def test_tool_choice(choice, parallel, expected):
    req = responses.parse_request(body(tool_choice=choice, parallel_tool_calls=parallel))
    assert req.tool_choice == expected


def test_hosted_tools_and_their_items_are_dropped():
    tools = [TOOL, {"type": "web_search"}, {"type": "local_shell"}, {"type": "tool_search", "execution": "client"}]
    items = [
        {"role": "user", "content": "hi"},
        {"type": "local_shell_call", "call_id": "c", "action": {"type": "exec", "command": ["ls"]}},
        {"type": "local_shell_call_output", "call_id": "c", "output": "ok"},
    ]
    req = responses.parse_request({"model": "m", "input": items, "tools": tools})
    assert [t.name for t in req.tools] == ["shell"]
    assert req.messages == [Message("user", [TextPart("hi")])]


@pytest.mark.parametrize(
    "fields, needle",
    [
        ({"conversation": "conv_1"}, "`conversation` is not supported"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "`item_reference` is not supported"),
        ({"input": [{"type": "telepathy"}]}, "'telepathy' is not supported"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": None}, "input: expected an array"),
        ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]}, "arguments"),
    ],
)
def test_invalid_requests_are_refused_clearly(fields, needle):
    with pytest.raises(InvalidRequest) as info:
        responses.parse_request({"model": "m", "input": "x", **fields})
    assert needle in info.value.message


def test_foreign_encrypted_reasoning_is_never_forwarded():
    item = {"type": "reasoning", "id": "rs", "summary": [], "encrypted_content": "gAAAAB-openai-blob"}
    req = responses.parse_request({"model": "m", "input": [{"role": "user", "content": "x"}, item]})
    assert len(req.messages) == 1  # no text, no signature of ours: nothing to keep
    redacted = {"type": "reasoning", "id": "rs", "summary": [], "encrypted_content": "bfc.redacted.DATA"}
    req = responses.parse_request({"model": "m", "input": [redacted]})
    assert req.messages[0].content == [ThinkingPart("", redacted_data="DATA")]


# --- non-streamed responses ------------------------------------------------------------------------

ANSWER = ChatResponse(
    id="msg_01XYZ",
    model="gpt-5-codex",
    content=[
        ThinkingPart("Two reads.", "sig-1"),
        TextPart("Reading both."),
        ToolCallPart("call_a", "Read", '{"file_path": "/a.py"}'),
        ToolCallPart("toolu_b", "Read", ""),
    ],
    stop_reason="tool_use",
    usage=Usage(input_tokens=200, output_tokens=50, cache_read_tokens=800, reasoning_tokens=10),
)


def test_response_object_validates_with_the_sdk():
    obj = Response.model_validate(responses.build_response(ANSWER, request=body(), created_at=1_700_000_000))
    assert obj.id == "resp_msg_01XYZ" and obj.status == "completed" and obj.output_text == "Reading both."
    assert [item.type for item in obj.output] == ["reasoning", "message", "function_call", "function_call"]
    assert obj.output[0].summary[0].text == "Two reads." and obj.output[0].encrypted_content == "bfc.sig.sig-1"
    calls = [(i.call_id, i.arguments) for i in obj.output[2:]]
    assert calls == [("call_a", '{"file_path": "/a.py"}'), ("toolu_b", "{}")]
    assert len({item.id for item in obj.output}) == 4
    assert (obj.usage.input_tokens, obj.usage.input_tokens_details.cached_tokens, obj.usage.total_tokens) == (
        1000,
        800,
        1050,
    )
    assert obj.usage.output_tokens_details.reasoning_tokens == 10
    assert obj.tools[0].name == "shell" and obj.instructions == "You are Codex." and obj.parallel_tool_calls


def test_max_tokens_makes_an_incomplete_response():
    resp = ChatResponse("r", "m", [TextPart("cut")], "max_tokens")
    obj = Response.model_validate(responses.build_response(resp))
    assert obj.status == "incomplete" and obj.incomplete_details.reason == "max_output_tokens"


def test_reasoning_items_come_back_as_the_same_thinking():
    obj = responses.build_response(ANSWER)
    req = responses.parse_request({"model": "m", "input": [{"role": "user", "content": "x"}, *obj["output"]]})
    assert req.messages[1].content == [*ANSWER.content[:3], ToolCallPart("toolu_b", "Read", "{}")]


def test_request_to_anthropic_upstream_snapshot(snapshot):
    req = responses.parse_request(body(max_output_tokens=4096, reasoning={"effort": "medium"}, stream=True))
    assert anthropic.build_request(req, model="claude-sonnet-4-5") == snapshot


def test_response_object_snapshot(snapshot):
    assert responses.build_response(ANSWER, request=body(), created_at=1_700_000_000) == snapshot


def test_stream_snapshot(snapshot):
    assert encode(parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS)).decode() == snapshot


# --- streams ---------------------------------------------------------------------------------------


def test_interleaved_parallel_tool_calls_become_separate_items():
    sse = encode(parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS))
    events = openai_response_events(sse)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [(e.output_index, e.delta) for e in events if e.type == "response.function_call_arguments.delta"]
    assert deltas == [(2, '{"file_path": "/a.py"}'), (3, '{"file_path"'), (3, ': "/b.py"}')]
    final = openai_final_response(sse)
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call", "function_call"]
    assert [(i.call_id, i.arguments) for i in final.output[2:]] == [
        ("call_a", '{"file_path": "/a.py"}'),
        ("call_b", '{"file_path": "/b.py"}'),
    ]
    assert final.output_text == "Reading both." and final.usage.input_tokens == 1000


def test_max_tokens_stream_ends_with_response_incomplete():
    events = [
        MessageStart("m1", "gpt"),
        BlockStart(0, "text"),
        BlockDelta(0, "text", "cut sh"),
        BlockStop(0),
        MessageDelta("max_tokens", usage=Usage(3, 5)),
        MessageStop(),
    ]
    last = frames(encode(events))[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["content"][0]["text"] == "cut sh"


def test_stream_error_becomes_error_then_response_failed():
    events = [
        MessageStart("m1", "gpt"),
        BlockStart(0, "text"),
        BlockDelta(0, "text", "par"),
        StreamError("overloaded_error", "upstream overloaded", 529),
        BlockDelta(0, "text", "ignored"),
        MessageStop(),
    ]
    parsed = openai_response_events(encode(events))
    assert [e.type for e in parsed[-2:]] == ["error", "response.failed"]
    assert parsed[-2].message == "upstream overloaded" and parsed[-2].code == "overloaded_error"
    assert parsed[-1].response.status == "failed" and parsed[-1].response.error.code == "server_error"
    assert [e.sequence_number for e in parsed] == list(range(len(parsed)))


def test_error_before_any_event_still_opens_the_response():
    out = frames(encode([StreamError("rate_limit_error", "slow down", 429)]))
    assert [f["type"] for f in out] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert out[-1]["response"]["error"]["code"] == "rate_limit_exceeded"


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_replay(resp: ChatResponse) -> None:
    built = responses.build_response(resp, created_at=1)
    obj = Response.model_validate(built)
    assert obj.output_text == "".join(p.text for p in resp.content if isinstance(p, TextPart))
    events = [STREAM_EVENT.validate_python(f) for f in frames(encode(replay.response_to_events(resp)))]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response.model_dump(mode="json", exclude_unset=True)
    assert final["output"] == built["output"] and final["status"] == built["status"]
    assert final["usage"] == built["usage"]
    for index, item in enumerate(built["output"]):
        if item["type"] == "message":
            deltas = [e.delta for e in events if e.type == "response.output_text.delta" and e.output_index == index]
            assert "".join(deltas) == item["content"][0]["text"]
        elif item["type"] == "function_call":
            kind = "response.function_call_arguments.delta"
            assert "".join(e.delta for e in events if e.type == kind and e.output_index == index) == item["arguments"]


@SETTINGS
@given(anthropic_responses())
def test_any_anthropic_shaped_answer_builds_and_streams_valid_responses(resp):
    _check_replay(resp)


@SETTINGS
@given(openai_responses())
def test_any_openai_shaped_answer_builds_and_streams_valid_responses(resp):
    _check_replay(resp)
