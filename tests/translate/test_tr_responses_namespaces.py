"""Responses API ``namespace`` tools (Codex's ``multi_agent_v1`` for models it does not know), offered flat."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses.response_input_item_param import ResponseInputItemParam
from openai.types.responses.tool_param import ToolParam
from pydantic import TypeAdapter

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import anthropic, openai, replay, responses
from bifrostc.runtime.translate.responses_tools import client_tools
from bifrostc.runtime.translate.sse import SSEDecoder
from bifrostc.runtime.types import ChatResponse, Message, TextPart, ToolCallPart, ToolChoice, ToolResultPart, Usage

from .sdk_clients import openai_final_response

PROVIDER_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # OpenAI's and Anthropic's rule for tool names
STREAM_EVENT = TypeAdapter(ResponseStreamEvent)
SHELL = {"type": "function", "name": "exec_command", "strict": None, "parameters": {"type": "object", "properties": {}}}
CLOSE = {
    "type": "function",
    "name": "close_agent",
    "description": "Close an agent.",
    "strict": False,
    "parameters": {"type": "object", "properties": {"target": {"type": "string"}}, "required": ["target"]},
}
NOTE = {"type": "custom", "name": "note", "description": "Leave a note.", "format": {"type": "text"}}
AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Tools for spawning and managing sub-agents.",
    "tools": [CLOSE, NOTE],
}
TOOLS = [SHELL, AGENTS, {"type": "web_search"}]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "acme-coder-1", "input": "go", "tools": TOOLS, **fields}


def test_the_sdk_accepts_the_request_shapes_used_here():
    for tool in TOOLS:
        TypeAdapter(ToolParam).validate_python(tool)
    for item in HISTORY:
        TypeAdapter(ResponseInputItemParam).validate_python(item)


def test_a_namespace_is_offered_as_flat_tools_with_its_description_first():
    req = responses.parse_request(body())
    assert [t.name for t in req.tools] == ["exec_command", "multi_agent_v1__close_agent", "multi_agent_v1__note"]
    close, note = req.tools[1], req.tools[2]
    assert close.description == "Tools for spawning and managing sub-agents.\n\nClose an agent."
    assert close.parameters == CLOSE["parameters"]
    # a custom tool inside a namespace is still a function taking one input string
    assert note.description == "Tools for spawning and managing sub-agents.\n\nLeave a note."
    assert note.parameters["required"] == ["input"]
    assert req.extra["_openai_tool_strict"] == {"multi_agent_v1__close_agent": False}
    chat = [t["function"]["name"] for t in openai.build_request(req, model="up")["tools"]]
    claude = [t["name"] for t in anthropic.build_request(req, model="claude-up")["tools"]]
    assert chat == claude == [t.name for t in req.tools]


def test_flat_names_never_collide_and_always_suit_providers():
    tools = [
        {"type": "function", "name": "multi_agent_v1__close_agent"},  # a top-level tool already holds the name
        AGENTS,
        {"type": "namespace", "name": "a__b", "description": "", "tools": [{"type": "function", "name": "c"}]},
        {"type": "namespace", "name": "a", "description": "", "tools": [{"type": "function", "name": "b__c"}]},
        {
            "type": "namespace",
            "name": "mcp.server/x" * 6,
            "description": "",
            "tools": [{"type": "function", "name": "y"}],
        },
    ]
    names = [t.name for t in client_tools(tools)]
    assert len(set(names)) == len(names) == 6
    assert all(PROVIDER_NAME.match(n) for n in names)
    assert names[1].startswith("multi_agent_v1__close_agent_") and names[2] == "multi_agent_v1__note"
    assert names[3] == "a__b__c" and names[4].startswith("a__b__c_")
    assert names == [t.name for t in client_tools(tools)]  # stable: a pure function of the tools
    req = responses.parse_request(body(tools=tools))
    assert [t.name for t in req.tools] == names


def test_a_tool_twice_in_one_namespace_is_refused():
    twice = {**AGENTS, "tools": [CLOSE, CLOSE]}
    with pytest.raises(InvalidRequest, match=r"tools\[0\]\.tools\[1\]\.name"):
        responses.parse_request(body(tools=[twice]))


HISTORY = [
    {"role": "user", "content": "go"},
    {"type": "function_call", "call_id": "c1", "name": "close_agent", "namespace": "multi_agent_v1", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "c1", "output": "closed"},
    {"type": "custom_tool_call", "call_id": "c2", "name": "note", "namespace": "multi_agent_v1", "input": "hi"},
    {"type": "custom_tool_call_output", "call_id": "c2", "output": "noted"},
    {"type": "function_call", "call_id": "c3", "name": "exec_command", "arguments": "{}"},
]


def test_namespaced_calls_in_the_history_use_the_flat_names():
    req = responses.parse_request(body(input=HISTORY))
    calls = [p for m in req.messages for p in m.content if isinstance(p, ToolCallPart)]
    assert [(c.id, c.name) for c in calls] == [
        ("c1", "multi_agent_v1__close_agent"),
        ("c2", "multi_agent_v1__note"),
        ("c3", "exec_command"),
    ]
    assert calls[1].arguments == '{"input":"hi"}'
    assert req.messages[2] == Message("user", [ToolResultPart("c1", [TextPart("closed")])])
    # a namespace the request no longer offers still maps onto its flat name
    gone = responses.parse_request(body(input=HISTORY[:2], tools=[SHELL]))
    assert gone.messages[1].content[0].name == "multi_agent_v1__close_agent"


def test_tool_choice_may_name_a_namespaced_tool():
    named = {"type": "function", "name": "close_agent", "namespace": "multi_agent_v1"}
    assert responses.parse_request(body(tool_choice=named)).tool_choice == ToolChoice(
        "tool", "multi_agent_v1__close_agent"
    )
    flat = {"type": "function", "name": "multi_agent_v1__close_agent"}
    assert responses.parse_request(body(tool_choice=flat)).tool_choice == ToolChoice(
        "tool", "multi_agent_v1__close_agent"
    )


def answer() -> ChatResponse:
    calls = [
        ToolCallPart("c1", "multi_agent_v1__close_agent", '{"target":"a1"}'),
        ToolCallPart("c2", "multi_agent_v1__note", json.dumps({"input": "hi"})),
        ToolCallPart("c3", "exec_command", '{"cmd":"ls"}'),
    ]
    return ChatResponse(
        id="msg_1", model="m", content=[TextPart("On it."), *calls], stop_reason="tool_use", usage=Usage(9, 4)
    )


def test_calls_to_namespaced_tools_go_back_with_their_namespace():
    built = responses.build_response(answer(), request=body())
    parsed = Response.model_validate(built)
    calls = [(i.type, i.name, i.namespace) for i in parsed.output if i.type != "message"]
    assert calls == [
        ("function_call", "close_agent", "multi_agent_v1"),
        ("custom_tool_call", "note", "multi_agent_v1"),
        ("function_call", "exec_command", None),
    ]
    assert "namespace" not in built["output"][3]  # top-level calls look as before
    assert parsed.output[2].input == "hi"
    assert [t.type for t in parsed.tools] == ["function", "namespace"]
    assert [t.name for t in parsed.tools[1].tools] == ["close_agent", "note"]


def test_a_streamed_namespaced_call_carries_its_namespace_from_the_first_event():
    encoder = responses.StreamEncoder(request=body(), created_at=1)
    sse = b"".join(encoder.encode(e) for e in replay.response_to_events(answer()))
    frames = [frame.json() for frame in SSEDecoder().feed(sse)]
    for frame in frames:
        STREAM_EVENT.validate_python(frame)
    for kind in ("response.output_item.added", "response.output_item.done"):
        items = [f["item"] for f in frames if f["type"] == kind and f["item"]["type"] != "message"]
        assert [(i["type"], i["name"], i.get("namespace")) for i in items] == [
            ("function_call", "close_agent", "multi_agent_v1"),
            ("custom_tool_call", "note", "multi_agent_v1"),
            ("function_call", "exec_command", None),
        ]
    assembled = openai_final_response(sse)
    assert [getattr(i, "namespace", None) for i in assembled.output] == [None, "multi_agent_v1", "multi_agent_v1", None]
    assert assembled.output[1].arguments == '{"target":"a1"}'


def test_namespaced_request_to_openai_upstream_snapshot(snapshot):
    assert openai.build_request(responses.parse_request(body(input=HISTORY)), model="gpt-up") == snapshot
