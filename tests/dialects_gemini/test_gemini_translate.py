"""The Gemini client-side translators (translate/gemini_inbound.py, gemini_reply.py): properties against the
provider-side ones they mirror (translate/gemini.py, gemini_stream.py), and snapshots of translated payloads."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import anthropic, gemini, gemini_inbound, gemini_reply, replay
from bifrostc.runtime.translate.gemini_stream import StreamParser
from bifrostc.runtime.translate.signatures import mark
from bifrostc.runtime.translate.sse import SSEDecoder
from bifrostc.runtime.types import ChatRequest, ChatResponse, TextPart, ToolCallPart, ToolResultPart
from tests.translate.conftest import load_fixture
from tests.translate.strategies import anthropic_requests, anthropic_responses, json_value
from tests.translate.streams import parse_openai_chunks
from tests.translate.test_tr_streams import REASONING_TEXT_AND_PARALLEL_TOOLS

CLI_REQUEST: dict[str, Any] = {  # what the Gemini CLI sends on turn 2 of a tool loop (trimmed)
    "contents": [
        {"role": "user", "parts": [{"text": "Create the marker file now."}]},
        {
            "role": "model",
            "parts": [
                {"text": "Planning the command.", "thought": True},
                {
                    "functionCall": {"name": "run_shell_command", "args": {"command": "echo hi"}},
                    "thoughtSignature": "c2ln",
                },
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "run_shell_command", "response": {"output": "Exit Code: 0"}}}],
        },
    ],
    "systemInstruction": {"role": "user", "parts": [{"text": "You are an interactive CLI agent."}]},
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "run_shell_command",
                    "description": "Runs a shell command.",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"command": {"type": "string"}},
                        "required": ["command"],
                    },
                },
                {
                    "name": "read_file",
                    "parameters": {"type": "OBJECT", "properties": {"path": {"type": "STRING", "nullable": True}}},
                },
            ]
        }
    ],
    "generationConfig": {
        "temperature": 0,
        "topP": 1,
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 8192},
    },
}


def test_gemini_cli_request_to_anthropic_upstream(snapshot: Any) -> None:
    request = gemini_inbound.parse_request(CLI_REQUEST, model="agent", stream=True)
    assert anthropic.build_request(request, model="claude-sonnet-4-5") == snapshot


def test_gemini_cli_request_back_to_gemini_keeps_the_signature_on_the_call() -> None:
    request = gemini_inbound.parse_request(CLI_REQUEST, model="agent", stream=True)
    rebuilt = gemini.build_request(request, model="gemini-3-pro-preview")
    call = rebuilt["contents"][1]["parts"][-1]
    assert call["thoughtSignature"] == "c2ln" and call["functionCall"]["name"] == "run_shell_command"
    assert rebuilt["contents"][2]["parts"][0]["functionResponse"]["response"] == {"output": "Exit Code: 0"}


def test_anthropic_message_to_gemini_response(snapshot: Any) -> None:
    assert gemini_reply.build_response(anthropic.parse_response(load_fixture("anthropic_message.json"))) == snapshot


def test_openai_stream_to_gemini_sse(snapshot: Any) -> None:
    encoder = gemini_reply.StreamEncoder(sse=True)
    frames = b"".join(encoder.encode(ev) for ev in parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS))
    assert frames.decode() == snapshot


def _texts(request: ChatRequest) -> list[str]:
    return [p.text for m in request.messages for p in m.content if isinstance(p, TextPart) and p.text]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(anthropic_requests())
def test_a_gemini_body_the_provider_side_builds_parses_back(request: ChatRequest) -> None:
    body = gemini.build_request(request, model="gemini-2.5-pro")
    parsed = gemini_inbound.parse_request(orjson.loads(orjson.dumps(body)), model="m", stream=request.stream)
    assert parsed.stream is request.stream and parsed.model == "m"
    assert [t.name for t in parsed.tools] == [t.name for t in request.tools]
    assert "".join(_texts(parsed)) == "".join(_texts(request))
    assert parsed.max_tokens == request.max_tokens and parsed.stop == request.stop
    calls = [p for m in request.messages for p in m.content if isinstance(p, ToolCallPart)]
    parsed_calls = [p for m in parsed.messages for p in m.content if isinstance(p, ToolCallPart)]
    assert [(c.name, json.loads(c.arguments)) for c in parsed_calls] == [
        (c.name, json.loads(c.arguments)) for c in calls
    ]
    results = [p for m in request.messages for p in m.content if isinstance(p, ToolResultPart)]
    parsed_results = [p for m in parsed.messages for p in m.content if isinstance(p, ToolResultPart)]
    assert [r.tool_call_id for r in parsed_results] == [r.tool_call_id for r in results]


def _tool_calls(response: ChatResponse) -> list[tuple[str, Any]]:
    return [(p.name, json.loads(p.arguments or "{}")) for p in response.content if isinstance(p, ToolCallPart)]


def _text(response: ChatResponse) -> str:
    return "".join(p.text for p in response.content if isinstance(p, TextPart))


@settings(max_examples=60)
@given(anthropic_responses())
def test_a_response_reads_back_the_same_through_the_provider_side_parser(response: ChatResponse) -> None:
    back = gemini.parse_response(gemini_reply.build_response(response))
    assert _text(back) == _text(response) and _tool_calls(back) == _tool_calls(response)
    assert back.usage.output_tokens == response.usage.output_tokens
    assert back.usage.input_tokens == response.usage.input_tokens + response.usage.cache_write_tokens
    assert back.usage.cache_read_tokens == response.usage.cache_read_tokens


@settings(max_examples=60)
@given(anthropic_responses())
def test_streamed_and_whole_answers_agree(response: ChatResponse) -> None:
    encoder = gemini_reply.StreamEncoder(sse=True)
    frames = b"".join(encoder.encode(ev) for ev in replay.response_to_events(response))
    parser = StreamParser()
    events = [ev for sse in SSEDecoder().feed(frames) for ev in parser.feed(orjson.loads(sse.data))]
    events += parser.finish()
    streamed = replay_events_to_response(events)
    whole = gemini.parse_response(gemini_reply.build_response(response))
    assert _text(streamed) == _text(whole) and _tool_calls(streamed) == _tool_calls(whole)
    assert streamed.stop_reason == whole.stop_reason


def replay_events_to_response(events: list[Any]) -> ChatResponse:
    encoder = anthropic.StreamEncoder()
    frames = b"".join(encoder.encode(ev) for ev in events)
    message: dict[str, Any] = {"content": []}
    for sse in SSEDecoder().feed(frames):
        data = json.loads(sse.data)
        if data["type"] == "content_block_start":
            message["content"].append(dict(data["content_block"]))
        elif data["type"] == "content_block_delta":
            block, delta = message["content"][-1], data["delta"]
            for wire, field in (("text", "text"), ("partial_json", "partial"), ("thinking", "thinking")):
                if wire in delta:
                    block[field] = block.get(field, "") + delta[wire]
        elif data["type"] == "message_delta":
            message["stop_reason"] = data["delta"]["stop_reason"]
    for block in message["content"]:
        if block["type"] == "tool_use":
            block["input"] = json.loads(block.pop("partial", "") or "{}")
    body = {"id": "m", "model": "m", "usage": {"input_tokens": 0, "output_tokens": 0}, **message}
    return anthropic.parse_response(body)


@given(st.text(min_size=1, max_size=40) | st.text(min_size=1, max_size=40).map(lambda s: mark("gemini", s)))
def test_signatures_come_back_as_they_left(signature: str) -> None:
    sent = gemini_inbound.signature_to_client(signature)
    assert sent is not None
    assert gemini_inbound.signature_from_client(sent) == signature


_part = st.dictionaries(
    st.sampled_from(
        ["text", "thought", "thoughtSignature", "functionCall", "functionResponse", "inlineData", "fileData"]
    ),
    json_value,
    max_size=3,
)
_content = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "model", 3, None]), "parts": st.lists(_part, max_size=3) | json_value}
)
_bodies = st.fixed_dictionaries(
    {"contents": st.lists(_content, max_size=3) | json_value},
    optional={
        "tools": st.lists(st.dictionaries(st.sampled_from(["functionDeclarations"]), json_value)) | json_value,
        "generationConfig": st.dictionaries(
            st.sampled_from(["maxOutputTokens", "temperature", "thinkingConfig", "candidateCount", "stopSequences"]),
            json_value,
        ),
        "toolConfig": json_value,
        "systemInstruction": json_value,
    },
)


@settings(max_examples=60)
@given(_bodies)
def test_bad_input_is_an_invalid_request_never_a_crash(body: dict[str, Any]) -> None:
    try:
        gemini_inbound.parse_request(body, model="m", stream=False)
    except InvalidRequest as exc:
        assert gemini_reply.error_body(exc)["error"]["status"] == "INVALID_ARGUMENT"


def test_claude_redacted_thinking_rides_a_thought_part_and_comes_back() -> None:
    response = anthropic.parse_response(load_fixture("anthropic_message.json"))
    body = gemini_reply.build_response(response)
    history = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}, body["candidates"][0]["content"]]}
    parsed = gemini_inbound.parse_request(history, model="m", stream=False)
    back = parsed.messages[1].content
    assert back[:3] == response.content[:3]  # thinking with its signature, redacted thinking, text
    assert _tool_calls(ChatResponse("m", "m", back)) == _tool_calls(response)
