"""Responses API custom (freeform) tools, such as Codex's apply_patch, through upstreams that only know functions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from bifrostc.runtime.translate import anthropic, openai, replay, responses
from bifrostc.runtime.translate.responses_tools import custom_input
from bifrostc.runtime.translate.sse import SSEDecoder
from bifrostc.runtime.types import ChatResponse, Message, TextPart, ToolCallPart, ToolChoice, ToolResultPart, Usage

from .sdk_clients import openai_final_response, openai_response_events

PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hi "there"\n*** End Patch\n'
GRAMMAR = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\n'
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
    "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR},
}
SHELL = {"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}
STREAM_EVENT = TypeAdapter(ResponseStreamEvent)
PATCH_ARGUMENTS = json.dumps({"input": PATCH}, separators=(",", ":"))


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-5.5", "input": "edit it", "tools": [SHELL, APPLY_PATCH], **fields}


def test_a_custom_tool_is_offered_as_a_function_taking_one_input_string():
    req = responses.parse_request(body())
    assert [t.name for t in req.tools] == ["exec_command", "apply_patch"]
    tool = req.tools[1]
    assert tool.description == APPLY_PATCH["description"]
    assert tool.parameters["required"] == ["input"] and list(tool.parameters["properties"]) == ["input"]
    hint = tool.parameters["properties"]["input"]["description"]
    assert "lark grammar" in hint and GRAMMAR in hint
    chat_tool = openai.build_request(req, model="gpt-up")["tools"][1]["function"]
    assert chat_tool["name"] == "apply_patch" and chat_tool["parameters"] == tool.parameters
    claude_tool = anthropic.build_request(req, model="claude-up")["tools"][1]
    assert claude_tool["name"] == "apply_patch" and claude_tool["input_schema"] == tool.parameters


def test_custom_tool_calls_and_outputs_in_the_input_become_tool_calls_and_results():
    items = [
        {"role": "user", "content": "edit it"},
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_p", "name": "apply_patch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Success. Updated: A hello.txt"},
    ]
    req = responses.parse_request(body(input=items))
    assert req.messages[1] == Message("assistant", [ToolCallPart("call_p", "apply_patch", PATCH_ARGUMENTS)])
    assert req.messages[2] == Message("user", [ToolResultPart("call_p", [TextPart("Success. Updated: A hello.txt")])])
    claude = anthropic.build_request(req, model="claude-up")["messages"]
    assert claude[1]["content"][0]["input"] == {"input": PATCH}
    assert claude[2]["content"][0]["tool_use_id"] == "call_p"


def test_tool_choice_may_name_a_custom_tool():
    req = responses.parse_request(body(tool_choice={"type": "custom", "name": "apply_patch"}))
    assert req.tool_choice == ToolChoice("tool", "apply_patch")


@pytest.mark.parametrize(
    "arguments, text",
    [
        (json.dumps({"input": PATCH}), PATCH),
        (json.dumps({"patch": PATCH}), PATCH),  # one string under another name: still the text
        (json.dumps(PATCH), PATCH),
        ("", ""),
        ("{}", ""),
        ('{"input": "trunc', '{"input": "trunc'),  # not JSON: handed over as it came
        ('{"a": "x", "b": "y"}', '{"a": "x", "b": "y"}'),
    ],
)
def test_custom_input_from_function_arguments(arguments, text):
    assert custom_input(arguments) == text


def answer() -> ChatResponse:
    calls = [
        ToolCallPart("call_s", "exec_command", '{"cmd":"ls"}'),
        ToolCallPart("call_p", "apply_patch", PATCH_ARGUMENTS),
    ]
    return ChatResponse(
        id="msg_1", model="gpt-5.5", content=[TextPart("Editing."), *calls], stop_reason="tool_use", usage=Usage(9, 4)
    )


def test_a_call_to_a_custom_tool_goes_back_as_a_custom_tool_call_item():
    built = responses.build_response(answer(), request=body())
    parsed = Response.model_validate(built)
    kinds = [item.type for item in parsed.output]
    assert kinds == ["message", "function_call", "custom_tool_call"]
    custom = built["output"][2]
    assert (custom["call_id"], custom["name"], custom["input"]) == ("call_p", "apply_patch", PATCH)
    assert [t["type"] for t in built["tools"]] == ["function", "custom"]
    # without the custom tool in the request, the same call is an ordinary function call
    plain = responses.build_response(answer(), request=body(tools=[SHELL]))
    assert [item["type"] for item in plain["output"]] == ["message", "function_call", "function_call"]


def test_a_streamed_custom_tool_call_carries_its_text_once_whole():
    encoder = responses.StreamEncoder(request=body(), created_at=1)
    sse = b"".join(encoder.encode(e) for e in replay.response_to_events(answer()))
    frames = [frame.json() for frame in SSEDecoder().feed(sse)]
    for frame in frames:
        STREAM_EVENT.validate_python(frame)
    types = [f["type"] for f in frames]
    assert types.count("response.custom_tool_call_input.delta") == 1
    done = next(f for f in frames if f["type"] == "response.custom_tool_call_input.done")
    assert done["input"] == PATCH
    added = [f["item"] for f in frames if f["type"] == "response.output_item.added"]
    assert [i["type"] for i in added] == ["message", "function_call", "custom_tool_call"]
    final = frames[-1]["response"]["output"][2]
    assert final == {
        "type": "custom_tool_call",
        "id": final["id"],
        "call_id": "call_p",
        "name": "apply_patch",
        "input": PATCH,
    }
    events = openai_response_events(sse)
    assert [e.type for e in events][-1] == "response.completed"
    assembled = openai_final_response(sse)
    assert assembled.output[2].type == "custom_tool_call" and assembled.output[2].input == PATCH
