"""OpenAI clients (/v1/chat/completions) -> canonical -> Anthropic or OpenAI upstreams."""

from __future__ import annotations

from typing import Any

import pytest

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import anthropic, openai
from bifrostc.runtime.types import ChatRequest, ImagePart, Message, TextPart, ThinkingPart, ToolCallPart, ToolResultPart

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    },
}

CONVERSATION: list[dict[str, Any]] = [
    {"role": "developer", "content": "You are terse."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "24C"}]},
    {"role": "user", "content": "Thanks. And now?"},
]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-5", "messages": CONVERSATION, "tools": [TOOL], **fields}


def to_anthropic(raw: dict[str, Any]) -> dict[str, Any]:
    return anthropic.build_request(openai.parse_request(raw), model="claude-sonnet-4-5")


def test_leading_developer_message_becomes_the_system_prompt():
    req = openai.parse_request(body())
    assert req.system == [TextPart("You are terse.")]
    assert to_anthropic(body())["system"] == [{"type": "text", "text": "You are terse."}]


def test_consecutive_tool_messages_become_one_user_turn_of_tool_results():
    req = openai.parse_request(body())
    results = req.messages[2].content
    assert [type(p) for p in results] == [ToolResultPart, ToolResultPart]
    assert [p.tool_call_id for p in results] == ["call_1", "call_2"]
    messages = to_anthropic(body())["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    last = messages[2]["content"]
    assert [b["type"] for b in last] == ["tool_result", "tool_result", "text"]  # following user text merged after


def test_parallel_tool_calls_become_tool_use_blocks_with_object_input():
    assistant = to_anthropic(body())["messages"][1]
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
    ]


def test_tools_strict_and_response_format_stay_for_openai_but_not_anthropic():
    raw = body(response_format={"type": "json_object"}, seed=7)
    out = openai.build_request(openai.parse_request(raw), model="gpt-5")
    assert out["tools"] == [TOOL]
    assert out["response_format"] == {"type": "json_object"} and out["seed"] == 7
    upstream = to_anthropic(raw)
    assert "response_format" not in upstream and "seed" not in upstream
    assert upstream["tools"] == [
        {"name": "get_weather", "description": "Weather for a city", "input_schema": TOOL["function"]["parameters"]}
    ]


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
def test_either_max_tokens_field_is_accepted(key):
    req = openai.parse_request(body(**{key: 321}))
    assert req.max_tokens == 321
    assert openai.build_request(req, model="m")["max_completion_tokens"] == 321
    assert to_anthropic(body(**{key: 321}))["max_tokens"] == 321


def test_anthropic_upstreams_always_get_max_tokens():
    assert to_anthropic(body())["max_tokens"] == 8192


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None, {"type": "tool", "name": "get_weather"}),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice_and_parallel_tool_calls_map_to_anthropic(choice, parallel, expected):
    fields: dict[str, Any] = {}
    if choice is not None:
        fields["tool_choice"] = choice
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    assert to_anthropic(body(**fields))["tool_choice"] == expected


def test_stop_string_or_list_becomes_stop_sequences():
    assert to_anthropic(body(stop="END"))["stop_sequences"] == ["END"]
    assert to_anthropic(body(stop=["a", "b"]))["stop_sequences"] == ["a", "b"]


def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens():
    def ask(**fields: Any) -> dict[str, Any]:
        return body(messages=CONVERSATION[:2], **fields)

    assert to_anthropic(ask(reasoning_effort="high"))["thinking"] == {"type": "enabled", "budget_tokens": 8191}
    assert to_anthropic(ask(reasoning_effort="low", max_tokens=4000))["thinking"]["budget_tokens"] == 2048
    assert "thinking" not in to_anthropic(ask(reasoning_effort="none"))
    assert "thinking" not in to_anthropic(ask(reasoning_effort="low", max_tokens=500))


def test_no_thinking_mid_tool_loop_when_the_tool_calls_carry_no_claude_thinking():
    # Claude: "a final assistant message must start with a thinking block"; an OpenAI client has none to send.
    built = to_anthropic(body(reasoning_effort="high"))
    assert "thinking" not in built
    assert built["messages"][1]["content"][0]["type"] == "tool_use"


def test_images_as_data_urls_and_plain_urls():
    content = [
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGR"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
    ]
    req = openai.parse_request({"model": "m", "messages": [{"role": "user", "content": content}]})
    assert req.messages[0].content == [
        ImagePart(media_type="image/webp", data="UklGR"),
        ImagePart(url="https://example.com/cat.png"),
    ]
    blocks = anthropic.build_request(req, model="c")["messages"][0]["content"]
    assert blocks[0]["source"] == {"type": "base64", "media_type": "image/webp", "data": "UklGR"}
    assert blocks[1]["source"] == {"type": "url", "url": "https://example.com/cat.png"}


def test_assistant_reasoning_content_is_read_but_unsigned_thinking_is_not_sent_to_anthropic():
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "reasoning_content": "greet back"},
    ]
    req = openai.parse_request({"model": "m", "messages": messages})
    assert req.messages[1].content == [ThinkingPart("greet back"), TextPart("hello")]
    assert anthropic.build_request(req, model="c")["messages"][1]["content"] == [{"type": "text", "text": "hello"}]


def test_user_is_kept():
    assert to_anthropic(body(user="u-1"))["metadata"] == {"user_id": "u-1"}
    assert openai.build_request(openai.parse_request(body(user="u-1")), model="m")["user"] == "u-1"


def test_tool_call_without_id_gets_one():
    messages = [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": ""}}]}]
    part = openai.parse_request({"model": "m", "messages": messages}).messages[0].content[0]
    assert isinstance(part, ToolCallPart) and part.id.startswith("call_") and part.arguments == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"messages": []}, "model and messages are required"),
        ({"model": "m", "messages": [{"role": "wizard"}]}, "role"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "tool_call_id"),
        ({"model": "m", "messages": [], "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "messages": [], "tools": [{"type": "function"}]}, "tools\\[0\\].function"),
        ({"model": "m", "messages": [], "stop": 3}, "stop"),
    ],
)
def test_malformed_openai_requests_raise_invalid_request(raw, message):
    with pytest.raises(InvalidRequest, match=message):
        openai.parse_request(raw)


def test_effort_derived_thinking_drops_sampling_anthropic_refuses_with_it():
    out = to_anthropic(body(messages=CONVERSATION[:2], reasoning_effort="medium", temperature=0.2, top_p=0.5))
    assert out["thinking"]["type"] == "enabled"
    assert "temperature" not in out and "top_p" not in out
    plain = to_anthropic(body(temperature=0.2))
    assert plain["temperature"] == 0.2 and "thinking" not in plain


def test_no_thinking_when_the_client_forces_a_tool():
    assert "thinking" not in to_anthropic(body(reasoning_effort="high", tool_choice="required"))


def test_requests_built_in_code_forward_only_each_dialects_known_fields():
    req = ChatRequest("m", [Message("user", [TextPart("hi")])], extra={"response_format": {}, "context_management": {}})
    assert "context_management" not in openai.build_request(req, model="m")
    assert openai.build_request(req, model="m")["response_format"] == {}
    assert "response_format" not in anthropic.build_request(req, model="m")
    assert anthropic.build_request(req, model="m")["context_management"] == {}
