from __future__ import annotations

import json

import pytest
from syrupy.assertion import SnapshotAssertion

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import bedrock
from bifrostc.runtime.translate.bedrock_stream import StreamParser
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ImagePart,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)

from .bedrock_model import validation_errors

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_request_translation_matches_snapshot(request_with_tools: ChatRequest, snapshot: SnapshotAssertion) -> None:
    body = bedrock.build_request(request_with_tools, model=CLAUDE)
    assert validation_errors("Converse", CLAUDE, body) == ""
    assert body == snapshot


def test_non_anthropic_models_get_no_anthropic_fields_or_cache_points(request_with_tools: ChatRequest) -> None:
    body = bedrock.build_request(request_with_tools, model="meta.llama3-70b-instruct-v1:0")
    assert validation_errors("ConverseStream", "meta.llama3-70b-instruct-v1:0", body) == ""
    assert "additionalModelRequestFields" not in body
    assert all("cachePoint" not in block for block in body["system"])


def test_consecutive_user_turns_merge_and_unsigned_thinking_is_dropped() -> None:
    messages = [
        Message("user", [TextPart("a")]),
        Message("user", [TextPart("b")]),
        Message("assistant", [ThinkingPart("no signature"), TextPart("c")]),
    ]
    assert bedrock.build_messages(messages, caching=False) == [
        {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
        {"role": "assistant", "content": [{"text": "c"}]},
    ]


def test_image_urls_are_rejected_with_a_clear_error() -> None:
    with pytest.raises(InvalidRequest, match="inline base64"):
        bedrock.build_messages([Message("user", [ImagePart(url="https://x/y.png")])], caching=False)


@pytest.mark.parametrize(
    ("name", "region", "expected"),
    [
        ("claude-sonnet-4-5", "us-west-2", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("claude-haiku-4-5", "eu-central-1", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("claude-sonnet-4-20250514", "ap-northeast-1", "apac.anthropic.claude-sonnet-4-20250514-v1:0"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "us-east-1", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:1:inference-profile/x",
            "us-east-1",
            "arn:aws:bedrock:us-east-1:1:inference-profile/x",
        ),
        ("some-custom-model", "us-east-1", "some-custom-model"),
    ],
)
def test_friendly_model_names_resolve_to_inference_profiles(name: str, region: str, expected: str) -> None:
    assert bedrock.resolve_model_id(name, region) == expected


def test_response_maps_blocks_stop_reason_and_usage() -> None:
    body = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "U0lH"}}},
                    {"text": "Reading."},
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "read_file", "input": {"path": "a"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15, "cacheWriteInputTokens": 7},
        "metrics": {"latencyMs": 1},
    }
    response = bedrock.parse_response(body, model=CLAUDE, response_id="req-1")
    assert response.content == [
        ThinkingPart("hmm", signature="U0lH"),
        TextPart("Reading."),
        ToolCallPart(id="tooluse_1", name="read_file", arguments='{"path": "a"}'),
    ]
    assert response.stop_reason == "tool_use" and response.id == "msg_req-1"
    assert (response.usage.input_tokens, response.usage.cache_write_tokens) == (10, 7)
    assert bedrock.map_stop_reason("guardrail_intervened") == "refusal"


def test_stream_parser_opens_text_blocks_lazily_and_waits_for_metadata() -> None:
    parser = StreamParser(model=CLAUDE)
    events = parser.feed("messageStart", {"role": "assistant"})
    events += parser.feed("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}})
    events += parser.feed("contentBlockStop", {"contentBlockIndex": 0})
    events += parser.feed("messageStop", {"stopReason": "end_turn"})
    assert not any(isinstance(event, MessageDelta) for event in events)
    events += parser.feed("metadata", {"usage": {"inputTokens": 3, "outputTokens": 1}})
    assert isinstance(events[0], MessageStart)
    assert events[1:4] == [BlockStart(0, "text"), BlockDelta(0, "text", "Hi"), BlockStop(0)]
    assert isinstance(events[4], MessageDelta) and events[4].usage.input_tokens == 3
    assert events[5] == MessageStop()
    assert parser.finish() == []


def test_stream_exception_event_becomes_stream_error_with_status() -> None:
    parser = StreamParser(model=CLAUDE)
    parser.feed("messageStart", {"role": "assistant"})
    events = parser.feed("throttlingException", {"message": "slow down"})
    assert events == [StreamError(type="rate_limit_error", message="slow down", status=429)]


def test_redacted_reasoning_opens_a_redacted_thinking_block() -> None:
    parser = StreamParser(model=CLAUDE)
    events = parser.feed(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"redactedContent": "QUJD"}}}
    )
    assert events[1] == BlockStart(0, "redacted_thinking", data="QUJD")
    assert json.loads(json.dumps({"ok": True}))


def test_tool_history_without_tools_still_declares_a_tool_config(request_with_tools: ChatRequest) -> None:
    request_with_tools.tools = []
    request_with_tools.tool_choice = None
    body = bedrock.build_request(request_with_tools, model=CLAUDE)
    assert validation_errors("Converse", CLAUDE, body) == ""
    assert [tool["toolSpec"]["name"] for tool in body["toolConfig"]["tools"]] == ["read_file"]
