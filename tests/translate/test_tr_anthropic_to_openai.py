"""Claude Code (Anthropic inbound) -> OpenAI upstream: the key translation path."""

from __future__ import annotations

from typing import Any

import pytest

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import anthropic, openai


def to_openai(body: dict[str, Any]) -> dict[str, Any]:
    return openai.build_request(anthropic.parse_request(body), model="gpt-5")


def minimal(**fields: Any) -> dict[str, Any]:
    return {"model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **fields}


def test_system_as_a_list_of_cached_text_blocks_becomes_one_system_message(claude_code_request):
    out = to_openai(claude_code_request)
    system = out["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("x-anthropic-billing-header")
    assert "You are Claude Code" in system["content"]
    assert sum(m["role"] == "system" for m in out["messages"]) == 1


def test_system_as_a_string():
    out = to_openai(minimal(system="be brief"))
    assert out["messages"][0] == {"role": "system", "content": "be brief"}


def test_system_role_entries_inside_messages_stay_in_place():
    body = minimal(
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "reminder"},
            {"role": "user", "content": "again"},
        ]
    )
    roles = [m["role"] for m in to_openai(body)["messages"]]
    assert roles == ["user", "system", "user"]


def test_system_role_entries_are_hoisted_for_anthropic_upstreams():
    body = minimal(system="a", messages=[{"role": "user", "content": "hi"}, {"role": "system", "content": "b"}])
    out = anthropic.build_request(anthropic.parse_request(body), model="claude")
    assert [b["text"] for b in out["system"]] == ["a", "b"]
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_tool_schemas_lose_dollar_schema_but_keep_additional_properties(claude_code_request):
    tools = to_openai(claude_code_request)["tools"]
    bash = tools[0]["function"]
    assert bash["name"] == "Bash"
    assert "$schema" not in bash["parameters"]
    assert bash["parameters"]["additionalProperties"] is False
    assert tools[0]["type"] == "function"


def test_server_tools_are_dropped_and_deferred_tools_sent_plainly_to_openai(claude_code_request):
    tools = to_openai(claude_code_request)["tools"]
    assert [t["function"]["name"] for t in tools] == ["Bash", "Read", "mcp__github__create_issue"]
    assert all(set(t["function"]) <= {"name", "description", "parameters"} for t in tools)


def test_server_tools_defer_loading_and_cache_control_survive_anthropic_passthrough(claude_code_request):
    out = anthropic.build_request(anthropic.parse_request(claude_code_request), model="claude")
    assert out["tools"] == claude_code_request["tools"]


def test_thinking_budget_and_effort_become_reasoning_effort(claude_code_request):
    assert to_openai(claude_code_request)["reasoning_effort"] == "high"
    del claude_code_request["output_config"]
    assert to_openai(claude_code_request)["reasoning_effort"] == "high"  # budget 31999
    claude_code_request["thinking"] = {"type": "enabled", "budget_tokens": 2000}
    assert to_openai(claude_code_request)["reasoning_effort"] == "low"
    claude_code_request["thinking"] = {"type": "adaptive"}
    assert to_openai(claude_code_request)["reasoning_effort"] == "medium"
    claude_code_request["thinking"] = {"type": "disabled"}
    assert "reasoning_effort" not in to_openai(claude_code_request)


def test_anthropic_only_fields_are_dropped_for_openai_and_kept_for_anthropic(claude_code_request):
    out = to_openai(claude_code_request)
    assert "context_management" not in out and "metadata" not in out and "thinking" not in out
    passthrough = anthropic.build_request(anthropic.parse_request(claude_code_request), model="claude")
    assert passthrough["context_management"] == claude_code_request["context_management"]
    assert passthrough["output_config"] == {"effort": "high"}
    assert passthrough["thinking"] == {"type": "enabled", "budget_tokens": 31999}
    assert passthrough["metadata"] == claude_code_request["metadata"]


def test_long_metadata_user_id_is_hashed_into_openai_user(claude_code_request):
    user = to_openai(claude_code_request)["user"]
    assert user.startswith("sha256_") and len(user) <= 64
    assert to_openai(claude_code_request)["user"] == user  # stable
    assert to_openai(minimal(metadata={"user_id": "alice"}))["user"] == "alice"


def test_tool_results_become_tool_messages_right_after_the_assistant_turn(claude_code_request):
    messages = to_openai(claude_code_request)["messages"]
    roles = [m["role"] for m in messages]
    assert roles == ["system", "user", "assistant", "tool", "tool", "user"]
    assistant, first, second, user = messages[2:]
    assert [c["id"] for c in assistant["tool_calls"]] == [first["tool_call_id"], second["tool_call_id"]]
    assert first["content"] == "3 passed in 0.12s"
    assert second["content"].startswith("     1\t# Demo")
    assert "TodoWrite" in user["content"]


def test_parallel_tool_calls_keep_order_and_arguments_as_json_text(claude_code_request):
    assistant = to_openai(claude_code_request)["messages"][2]
    assert assistant["content"] == "I'll run the tests and read the README."
    calls = assistant["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["Bash", "Read"]
    assert calls[0]["function"]["arguments"] == '{"command":"pytest -q","description":"Run the test suite"}'


def test_thinking_in_assistant_history_is_not_sent_to_openai(claude_code_request):
    assistant = to_openai(claude_code_request)["messages"][2]
    assert set(assistant) == {"role", "content", "tool_calls"}


def test_thinking_only_assistant_turn_is_omitted():
    body = minimal(
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": "s"}]},
            {"role": "user", "content": "go on"},
        ]
    )
    assert [m["role"] for m in to_openai(body)["messages"]] == ["user", "user"]


def test_tool_result_error_and_block_content_with_image():
    body = minimal(
        messages=[
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Shot", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "partial"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
                        ],
                    }
                ],
            },
        ]
    )
    messages = to_openai(body)["messages"]
    assert messages[1] == {"role": "tool", "tool_call_id": "t", "content": "partial"}
    assert messages[2] == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}],
    }


def test_images_base64_and_url_become_image_url_parts():
    body = minimal(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                    {"type": "text", "text": "what is this?"},
                ],
            }
        ]
    )
    content = to_openai(body)["messages"][0]["content"]
    assert content == [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "text", "text": "what is this?"},
    ]


def test_pdf_documents_become_openai_file_parts():
    source = {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}
    body = minimal(messages=[{"role": "user", "content": [{"type": "document", "source": source}]}])
    part = to_openai(body)["messages"][0]["content"][0]
    assert part == {
        "type": "file",
        "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBER"},
    }


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "any"}, "required", None),
        ({"type": "none"}, "none", None),
        ({"type": "tool", "name": "Bash"}, {"type": "function", "function": {"name": "Bash"}}, None),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
    ],
)
def test_tool_choice_maps_to_openai(claude_code_request, choice, expected, parallel):
    claude_code_request["tool_choice"] = choice
    out = to_openai(claude_code_request)
    assert out["tool_choice"] == expected
    assert out.get("parallel_tool_calls") == parallel


def test_sampling_stop_sequences_and_max_tokens():
    out = to_openai(minimal(stop_sequences=["END"], temperature=0.2, top_p=0.9, top_k=5))
    assert out["stop"] == ["END"]
    assert out["max_completion_tokens"] == 100
    assert "max_tokens" not in out and "top_k" not in out
    assert (out["temperature"], out["top_p"]) == (0.2, 0.9)


def test_streaming_requests_ask_for_usage(claude_code_request):
    out = to_openai(claude_code_request)
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    claude_code_request["stream"] = False
    assert "stream" not in to_openai(claude_code_request)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "request body: expected an object"),
        ({"model": "m"}, "model and messages are required"),
        ({"model": "m", "messages": "hi"}, "messages: expected an array"),
        ({"model": "m", "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content: expected an array"),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "content[0].text"),
        ({"model": "m", "messages": [], "max_tokens": "9"}, "max_tokens: expected an integer"),
        ({"model": "m", "messages": [], "tool_choice": {"type": "maybe"}}, "tool_choice.type"),
        ({"model": "m", "messages": [], "thinking": {"type": "on"}}, "thinking.type"),
    ],
)
def test_malformed_requests_raise_invalid_request_naming_the_field(body, message):
    with pytest.raises(InvalidRequest, match=message.replace("[", r"\[").replace("]", r"\]")):
        anthropic.parse_request(body)


def test_unknown_fields_pass_through_to_the_same_dialect_only():
    body = minimal(speed="fast", service_tier="standard_only")
    passthrough = anthropic.build_request(anthropic.parse_request(body), model="claude")
    assert (passthrough["speed"], passthrough["service_tier"]) == ("fast", "standard_only")
    out = to_openai(body)
    assert "speed" not in out and "service_tier" not in out


def test_effort_without_thinking_stays_effort_for_anthropic_upstreams():
    body = minimal(output_config={"effort": "low", "format": {"type": "json_schema", "schema": {}}})
    passthrough = anthropic.build_request(anthropic.parse_request(body), model="claude")
    assert passthrough["output_config"] == {"format": {"type": "json_schema", "schema": {}}, "effort": "low"}
    assert "thinking" not in passthrough
    assert to_openai(body)["reasoning_effort"] == "low"


def test_max_effort_is_high_for_openai():
    assert to_openai(minimal(output_config={"effort": "max"}))["reasoning_effort"] == "high"


def test_unsigned_thinking_is_dropped_for_anthropic_upstreams():
    body = minimal(
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": ""}, "ok"]},
        ]
    )
    body["messages"][1]["content"][1] = {"type": "text", "text": "ok"}
    out = anthropic.build_request(anthropic.parse_request(body), model="claude")
    assert out["messages"][1]["content"] == [{"type": "text", "text": "ok"}]


def test_interrupted_tool_calls_get_a_placeholder_result_and_orphan_results_become_user_text():
    body = minimal(
        messages=[
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Bash", "input": {}}]},
            {"role": "user", "content": "stop, do something else"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "zzz", "content": "late"}]},
        ]
    )
    messages = to_openai(body)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user", "assistant", "user"]
    assert messages[2]["tool_call_id"] == "a" and "interrupted" in messages[2]["content"]
    assert messages[5] == {"role": "user", "content": "[tool result zzz]\nlate"}


def test_tool_schema_without_type_gets_an_object_type_for_openai():
    body = minimal(tools=[{"name": "t", "input_schema": {"properties": {"a": {"type": "string"}}}}])
    assert to_openai(body)["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
    }


def test_tool_names_too_long_for_openai_are_shortened_and_mapped_back():
    long_name = "mcp__a-very-long-server-name-from-some-registry__and_an_even_longer_tool_name_here"
    body = minimal(
        tools=[{"name": long_name, "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": long_name},
        messages=[
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": long_name, "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "ok"}]},
        ],
    )
    req = anthropic.parse_request(body)
    out = openai.build_request(req, model="gpt-5")
    short = out["tools"][0]["function"]["name"]
    assert len(short) <= 64 and short == out["tool_choice"]["function"]["name"]
    assert out["messages"][1]["tool_calls"][0]["function"]["name"] == short
    names = openai.tool_name_map(req)
    assert names == {short: long_name}
    call = {"id": "c", "type": "function", "function": {"name": short, "arguments": "{}"}}
    completion = {"id": "x", "model": "m", "choices": [{"message": {"role": "assistant", "tool_calls": [call]}}]}
    assert openai.parse_response(completion, tool_names=names).content[0].name == long_name
    parser = openai.StreamParser(tool_names=names)
    start = parser.feed({"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, **call}]}}]})[1]
    assert start.name == long_name
