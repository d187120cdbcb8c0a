"""Non-streamed responses both ways, validated with the SDKs' own models; errors in each dialect."""

from __future__ import annotations

import anthropic as anthropic_sdk
import pytest
from openai.types.chat import ChatCompletion

from bifrostc.runtime.errors import BudgetExceeded, InvalidRequest, RateLimited, UpstreamError
from bifrostc.runtime.translate import anthropic, openai
from bifrostc.runtime.types import ChatResponse, TextPart, ThinkingPart, ToolCallPart, Usage

from .conftest import load_fixture


def test_openai_completion_becomes_an_anthropic_message():
    resp = openai.parse_response(load_fixture("openai_completion_tools.json"))
    resp.model = "claude-sonnet-4-5"  # the app puts back the name the client asked for
    body = anthropic.build_response(resp)
    message = anthropic_sdk.types.Message.model_validate(body)
    assert message.model == "claude-sonnet-4-5"
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[1].input == {"file_path": "/repo/a.py"}
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (
        86,
        1920,
        300,
    )
    assert resp.usage.reasoning_tokens == 128


def test_anthropic_message_becomes_an_openai_completion():
    resp = anthropic.parse_response(load_fixture("anthropic_message.json"))
    body = openai.build_response(resp, created=1_700_000_000)
    completion = ChatCompletion.model_validate(body)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "I'll read it."
    assert choice.message.tool_calls[0].function.arguments == '{"file_path":"/repo/a.py"}'
    assert body["choices"][0]["message"]["reasoning_content"] == "I should read the file first."
    assert completion.usage.prompt_tokens == 12 + 500 + 20000
    assert completion.usage.prompt_tokens_details.cached_tokens == 20000


def test_anthropic_message_round_trips_through_canonical():
    raw = load_fixture("anthropic_message.json")
    body = anthropic.build_response(anthropic.parse_response(raw))
    assert body["content"][1] == raw["content"][1]
    assert body["content"][3] == raw["content"][3]
    assert body["usage"] == {k: v for k, v in raw["usage"].items() if k != "service_tier"}
    anthropic_sdk.types.Message.model_validate(body)


def test_deepseek_reasoning_content_and_cache_hits_are_read():
    body = {
        "id": "x",
        "model": "deepseek-reasoner",
        "choices": [
            {"message": {"role": "assistant", "content": "42", "reasoning_content": "think"}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "prompt_cache_hit_tokens": 60,
            "prompt_cache_miss_tokens": 40,
        },
    }
    resp = openai.parse_response(body)
    assert resp.content == [ThinkingPart("think"), TextPart("42")]
    assert (resp.usage.input_tokens, resp.usage.cache_read_tokens) == (40, 60)
    message = anthropic_sdk.types.Message.model_validate(anthropic.build_response(resp))
    assert message.content[0].type == "thinking"


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("stop", "end_turn"), ("tool_calls", "tool_use"), ("length", "max_tokens"), ("content_filter", "refusal")],
)
def test_stop_reasons_map_both_ways(finish, stop):
    body = {
        "id": "x",
        "model": "m",
        "choices": [{"message": {"role": "assistant", "content": "a"}, "finish_reason": finish}],
    }
    resp = openai.parse_response(body)
    assert resp.stop_reason == stop
    assert openai.build_response(resp)["choices"][0]["finish_reason"] == finish


def test_stop_sequence_and_pause_turn_become_stop_for_openai():
    for reason in ("stop_sequence", "pause_turn", "end_turn"):
        resp = ChatResponse("x", "m", [TextPart("a")], stop_reason=reason)
        assert openai.build_response(resp)["choices"][0]["finish_reason"] == "stop"


def test_tool_call_with_truncated_arguments_gets_an_empty_input_object():
    resp = ChatResponse("x", "m", [ToolCallPart("c", "f", '{"a": ')], stop_reason="max_tokens", usage=Usage())
    block = anthropic.build_response(resp)["content"][0]
    assert block["input"] == {}


def test_tool_ids_from_other_providers_are_made_valid_for_anthropic():
    resp = ChatResponse("x", "m", [ToolCallPart("functions.read:0", "read", "{}")], stop_reason="tool_use")
    assert anthropic.build_response(resp)["content"][0]["id"] == "functions_read_0"


@pytest.mark.parametrize("parse", [openai.parse_response, anthropic.parse_response])
def test_malformed_upstream_bodies_are_upstream_errors(parse):
    with pytest.raises(UpstreamError) as info:
        parse({"choices": [], "content": [{"type": "text"}]})
    assert info.value.status == 502


def test_error_bodies_in_each_dialect():
    exc = InvalidRequest("messages: expected an array")
    assert anthropic.error_body(exc) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "messages: expected an array"},
    }
    assert openai.error_body(exc) == {
        "error": {
            "message": "messages: expected an array",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert openai.error_body(RateLimited("slow down"))["error"]["code"] == "rate_limit_exceeded"
    assert openai.error_body(BudgetExceeded("no money"))["error"]["type"] == "insufficient_quota"
    assert anthropic.error_body(UpstreamError("busy", status=529))["error"]["type"] == "overloaded_error"


def test_stop_with_tool_calls_is_read_as_tool_use():
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    body = {"id": "x", "model": "m", "choices": [{"message": message, "finish_reason": "stop"}]}
    assert openai.parse_response(body).stop_reason == "tool_use"
