from __future__ import annotations

import json

import pytest
from google.genai import types as genai
from syrupy.assertion import SnapshotAssertion

from bifrostc.runtime.translate import gemini
from bifrostc.runtime.translate.gemini_schema import clean_schema
from bifrostc.runtime.translate.gemini_stream import StreamParser
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

from .conftest import READ_FILE_SCHEMA


def assert_valid_gemini_request(body: dict) -> None:
    """google-genai's models forbid unknown fields, so they catch misspelt or unsupported keys."""
    for content in body["contents"]:
        genai.Content.model_validate(content)
    genai.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools", []):
        genai.Tool.model_validate(tool)
    if "toolConfig" in body:
        genai.ToolConfig.model_validate(body["toolConfig"])
    genai.GenerationConfig.model_validate(body["generationConfig"])


def test_request_translation_matches_snapshot(request_with_tools: ChatRequest, snapshot: SnapshotAssertion) -> None:
    for message in request_with_tools.messages:  # the history's reasoning as Gemini signed it
        for part in message.content:
            if isinstance(part, ThinkingPart) and part.signature:
                part.signature = f"bfc:gemini:{part.signature}"
    body = gemini.build_request(request_with_tools, model="gemini-2.5-pro")
    assert_valid_gemini_request(body)
    assert body == snapshot


def test_tool_result_is_named_after_its_call_and_synthetic_ids_stay_local() -> None:
    call_id = gemini.synthetic_tool_id("r1", 0, "grep", {"q": "x"})
    messages = [
        Message("assistant", [ToolCallPart(id=call_id, name="grep", arguments='{"q": "x"}')]),
        Message("user", [ToolResultPart(tool_call_id=call_id, content=[TextPart("no match")], is_error=True)]),
    ]
    contents = gemini.build_contents(messages)
    assert contents[0]["parts"] == [{"functionCall": {"name": "grep", "args": {"q": "x"}}}]
    assert contents[1]["parts"] == [{"functionResponse": {"name": "grep", "response": {"error": "no match"}}}]


def test_signature_only_thinking_part_reattaches_to_the_following_function_call() -> None:
    messages = [
        Message(
            "assistant",
            [ThinkingPart("", signature="bfc:gemini:U0lH"), ToolCallPart(id="toolu_gmabc", name="ls", arguments="{}")],
        )
    ]
    assert gemini.build_contents(messages)[0]["parts"] == [
        {"functionCall": {"name": "ls", "args": {}}, "thoughtSignature": "U0lH"}
    ]


def test_signatures_from_other_families_never_reach_gemini() -> None:
    claude_signed = [ThinkingPart("plan", signature="EqQBCkYIBxgC"), TextPart("done")]
    assert gemini.build_contents([Message("assistant", claude_signed)])[0]["parts"] == [
        {"text": "plan", "thought": True},
        {"text": "done"},
    ]


def _tool_loop(signature: str | None) -> list[Message]:
    first = [ThinkingPart("", signature=signature)] if signature else []
    return [
        Message("user", [TextPart("list files")]),
        Message("assistant", [*first, ToolCallPart("c1", "ls", "{}"), ToolCallPart("c2", "pwd", "{}")]),
        Message("user", [ToolResultPart("c1", [TextPart("a.py")]), ToolResultPart("c2", [TextPart("/")])]),
    ]


@pytest.mark.parametrize("model", ["gemini-3-pro-preview", "gemini-3.1-flash"])
def test_gemini_3_gets_the_documented_sentinel_on_unsigned_current_turn_calls(model: str) -> None:
    contents = gemini.build_request(ChatRequest(model=model, messages=_tool_loop(None)), model=model)["contents"]
    calls = [part for part in contents[1]["parts"] if "functionCall" in part]
    assert calls[0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert "thoughtSignature" not in calls[1]  # parallel calls: only the first carries one


def test_real_signatures_and_older_models_are_left_alone() -> None:
    signed = gemini.build_request(ChatRequest(model="m", messages=_tool_loop("bfc:gemini:U0lH")), model="gemini-3-pro")
    assert signed["contents"][1]["parts"][0]["thoughtSignature"] == "U0lH"
    older = gemini.build_request(ChatRequest(model="m", messages=_tool_loop(None)), model="gemini-2.5-pro")
    assert all("thoughtSignature" not in part for part in older["contents"][1]["parts"])
    # A finished tool loop followed by a new user question is history, not the current turn.
    done = [*_tool_loop(None), Message("assistant", [TextPart("a.py")]), Message("user", [TextPart("thanks")])]
    built = gemini.build_request(ChatRequest(model="m", messages=done), model="gemini-3-pro")
    assert all("thoughtSignature" not in part for part in built["contents"][1]["parts"])


def test_schema_cleaning_yields_a_schema_google_genai_accepts() -> None:
    schema = {**READ_FILE_SCHEMA, "$defs": {"Opt": {"type": "object", "properties": {"x": {"const": 1}}}}}
    schema["properties"] = {**schema["properties"], "opt": {"$ref": "#/$defs/Opt"}}
    cleaned = clean_schema(schema)
    genai.Schema.model_validate(cleaned)
    assert cleaned["properties"]["limit"] == {"type": "integer", "nullable": True, "minimum": 1}
    assert cleaned["properties"]["mode"] == {"enum": ["text", "binary"], "type": "string"}
    assert "additionalProperties" not in cleaned and "$schema" not in cleaned


def tool_call_response() -> dict:
    response = genai.GenerateContentResponse(
        response_id="resp-1",
        model_version="gemini-2.5-pro",
        candidates=[
            genai.Candidate(
                finish_reason=genai.FinishReason.STOP,
                content=genai.Content(
                    role="model",
                    parts=[
                        genai.Part(text="Thinking about files", thought=True),
                        genai.Part(text="Let me look."),
                        genai.Part(
                            function_call=genai.FunctionCall(name="read_file", args={"path": "a.py"}),
                            thought_signature=b"sig",
                        ),
                    ],
                ),
            )
        ],
        usage_metadata=genai.GenerateContentResponseUsageMetadata(
            prompt_token_count=100, cached_content_token_count=40, candidates_token_count=20, thoughts_token_count=5
        ),
    )
    return response.model_dump(mode="json", by_alias=True, exclude_none=True)


def test_response_with_function_call_maps_to_tool_use_with_stable_id() -> None:
    first = gemini.parse_response(tool_call_response())
    again = gemini.parse_response(tool_call_response())
    assert first.stop_reason == "tool_use"
    assert [type(part).__name__ for part in first.content] == [
        "ThinkingPart",
        "TextPart",
        "ThinkingPart",
        "ToolCallPart",
    ]
    call = first.content[-1]
    assert isinstance(call, ToolCallPart) and call.id.startswith("toolu_gm") and call.id == again.content[-1].id
    assert json.loads(call.arguments) == {"path": "a.py"}
    assert first.content[2] == ThinkingPart("", signature="bfc:gemini:c2ln")  # marked as Gemini's
    assert (first.usage.input_tokens, first.usage.cache_read_tokens, first.usage.output_tokens) == (60, 40, 25)


def test_a_calls_signature_streams_as_its_own_block_after_the_thought_text() -> None:
    parser = StreamParser(model="gemini-3-pro-preview")
    thought = {"responseId": "r", "candidates": [{"content": {"parts": [{"text": "plan", "thought": True}]}}]}
    call = {"functionCall": {"name": "ls", "args": {}}, "thoughtSignature": "c2ln"}
    events = parser.feed(thought) + parser.feed({"candidates": [{"content": {"parts": [call]}}]})
    starts = [(e.index, e.type) for e in events if isinstance(e, BlockStart)]
    assert starts == [(0, "thinking"), (1, "thinking"), (2, "tool_use")]
    assert BlockDelta(1, "signature", "bfc:gemini:c2ln") in events
    assert not any(isinstance(e, BlockDelta) and e.index == 0 and e.kind == "signature" for e in events)


def test_finish_reasons_map_to_canonical_stop_reasons() -> None:
    assert gemini.map_finish_reason("MAX_TOKENS", False) == "max_tokens"
    assert gemini.map_finish_reason("SAFETY", False) == "refusal"
    assert gemini.map_finish_reason("STOP", False) == "end_turn"
    assert gemini.map_finish_reason("OTHER", False) == "end_turn"


def test_stream_parser_builds_blocks_and_closes_with_usage() -> None:
    parser = StreamParser(model="gemini-2.5-pro")
    events = parser.feed({"responseId": "r", "candidates": [{"content": {"parts": [{"text": "Hel"}]}}]})
    events += parser.feed({"candidates": [{"content": {"parts": [{"text": "lo"}]}}]})
    final = tool_call_response()
    final["candidates"][0]["content"]["parts"] = final["candidates"][0]["content"]["parts"][2:]
    events += parser.feed(final)
    events += parser.finish()
    assert isinstance(events[0], MessageStart)
    assert events[1:4] == [BlockStart(0, "text"), BlockDelta(0, "text", "Hel"), BlockDelta(0, "text", "lo")]
    assert events[4:8] == [
        BlockStop(0),
        BlockStart(1, "thinking"),
        BlockDelta(1, "signature", "bfc:gemini:c2ln"),
        BlockStop(1),
    ]
    tool_start = events[8]
    assert isinstance(tool_start, BlockStart) and tool_start.type == "tool_use" and tool_start.name == "read_file"
    assert events[9] == BlockDelta(2, "arguments", '{"path": "a.py"}')
    assert events[10] == BlockStop(2)
    assert isinstance(events[11], MessageDelta) and events[11].stop_reason == "tool_use"
    assert events[11].usage.output_tokens == 25
    assert events[12] == MessageStop()


def test_stream_without_finish_reason_ends_in_error() -> None:
    parser = StreamParser()
    parser.feed({"candidates": [{"content": {"parts": [{"text": "cut"}]}}]})
    tail = parser.finish()
    assert tail[0] == BlockStop(0) and isinstance(tail[-1], StreamError)
