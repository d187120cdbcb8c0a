"""OpenAI Chat Completions request JSON <-> canonical ChatRequest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate.common import (
    OPENAI_TOOL_STRICT,
    SOURCE,
    count_tools,
    effort_from_budget,
    expect_dict,
    expect_list,
    expect_str,
    openai_tool_name,
    openai_user,
    optional_bool,
    optional_int,
    optional_number,
    optional_str,
    wire_extras,
)
from bifrostc.runtime.translate.openai_messages import build_messages, parse_messages
from bifrostc.runtime.types import ChatRequest, Tool, ToolChoice

_CONSUMED = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
        "user",
        "n",
    }
)
# Wire fields forwarded from ``extra`` of requests without a known source dialect (see common.wire_extras).
_PASSTHROUGH = frozenset(
    {
        "response_format",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "service_tier",
        "store",
        "metadata",
        "prediction",
        "modalities",
        "audio",
        "verbosity",
        "web_search_options",
        "prompt_cache_key",
        "safety_identifier",
    }
)
_EFFORT_ALIASES = {"max": "high"}  # Anthropic output_config.effort values OpenAI does not know


def parse_request(body: dict[str, Any]) -> ChatRequest:
    body = expect_dict(body, "request body")
    if "model" not in body or "messages" not in body:
        raise InvalidRequest("model and messages are required")
    system, messages = parse_messages(body["messages"])
    max_tokens = optional_int(body.get("max_tokens"), "max_tokens", minimum=1)
    if "max_completion_tokens" in body:  # the current name wins over the deprecated one
        max_tokens = optional_int(body["max_completion_tokens"], "max_completion_tokens", minimum=1)
    _check_stream_options(body.get("stream_options"))
    req = ChatRequest(
        model=expect_str(body["model"], "model"),
        messages=messages,
        system=system,
        max_tokens=max_tokens,
        temperature=optional_number(body.get("temperature"), "temperature"),
        top_p=optional_number(body.get("top_p"), "top_p"),
        stop=_parse_stop(body.get("stop")),
        stream=optional_bool(body.get("stream"), "stream") or False,
        tool_choice=_parse_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")),
        reasoning_effort=optional_str(body.get("reasoning_effort"), "reasoning_effort"),
        user=optional_str(body.get("user"), "user"),
        extra={SOURCE: "openai", **{k: v for k, v in body.items() if k not in _CONSUMED}},
    )
    _parse_tools(body.get("tools") or [], req)
    return req


def _parse_stop(stop: Any) -> list[str]:
    if isinstance(stop, str):
        return [stop]
    return [expect_str(s, f"stop[{i}]") for i, s in enumerate(expect_list(stop or [], "stop"))]


def _check_stream_options(options: Any) -> None:
    """``stream_options.include_usage`` decides the stream's shape (read again by the stream encoder)."""
    if options is not None:
        optional_bool(expect_dict(options, "stream_options").get("include_usage"), "stream_options.include_usage")


def tool_count(tools: Any) -> int | None:
    """`common.count_tools` of this dialect: its function tools (a custom grammar tool has no canonical form)."""
    return count_tools(tools, _is_function)


def _is_function(tool: dict[str, Any]) -> bool:
    return bool(tool.get("type", "function") == "function")


def _parse_tools(tools: Any, req: ChatRequest) -> None:
    strict: dict[str, bool] = {}
    for i, tool in enumerate(expect_list(tools, "tools")):
        tool = expect_dict(tool, f"tools[{i}]")
        if not _is_function(tool):
            continue  # custom (grammar) tools have no canonical form
        function = expect_dict(tool.get("function"), f"tools[{i}].function")
        name = expect_str(function.get("name"), f"tools[{i}].function.name")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        description = optional_str(function.get("description"), f"tools[{i}].function.description")
        req.tools.append(Tool(name, description, expect_dict(parameters, f"tools[{i}].function.parameters")))
        tool_strict = optional_bool(function.get("strict"), f"tools[{i}].function.strict")
        if tool_strict is not None:
            strict[name] = tool_strict
    if strict:
        req.extra[OPENAI_TOOL_STRICT] = strict


def _parse_tool_choice(choice: Any, parallel: Any) -> ToolChoice | None:
    return parse_tool_choice(choice, parallel, _chat_tool_choice)


def _chat_tool_choice(choice: dict[str, Any], disable_parallel: bool) -> ToolChoice:
    function = expect_dict(choice.get("function"), "tool_choice.function")
    return ToolChoice("tool", expect_str(function.get("name"), "tool_choice.function.name"), disable_parallel)


def parse_tool_choice(
    choice: Any, parallel: Any, from_object: Callable[[dict[str, Any], bool], ToolChoice]
) -> ToolChoice | None:
    """OpenAI's tool_choice (Chat and Responses share the string forms and parallel_tool_calls; each dialect
    reads its own object form with ``from_object``)."""
    disable_parallel = optional_bool(parallel, "parallel_tool_calls") is False
    if choice is None:
        return ToolChoice("auto", disable_parallel=True) if disable_parallel else None
    if isinstance(choice, str):
        kinds = {"auto": "auto", "none": "none", "required": "any"}
        if choice not in kinds:
            raise InvalidRequest(f"tool_choice: expected auto, none, required or a function, got {choice!r}")
        return ToolChoice(kinds[choice], disable_parallel=disable_parallel)  # type: ignore[arg-type]
    return from_object(expect_dict(choice, "tool_choice"), disable_parallel)


# --- canonical -> OpenAI ---------------------------------------------------------------------------


def build_request(req: ChatRequest, *, model: str, reasoning_back: str = "none") -> dict[str, Any]:
    messages = build_messages(req.system, req.messages, reasoning_back=reasoning_back)
    body: dict[str, Any] = {"model": model, "messages": messages}
    if req.max_tokens is not None:
        body["max_completion_tokens"] = req.max_tokens
    for key in ("temperature", "top_p"):
        if getattr(req, key) is not None:
            body[key] = getattr(req, key)
    if req.stop:
        body["stop"] = list(req.stop)
    _put_tools(req, body)
    effort = reasoning_effort(req)
    if effort is not None:
        body["reasoning_effort"] = effort
    if req.user:
        body["user"] = openai_user(req.user)
    body.update(wire_extras(req.extra, "openai", _PASSTHROUGH))
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _put_tools(req: ChatRequest, body: dict[str, Any]) -> None:
    strict: dict[str, bool] = req.extra.get(OPENAI_TOOL_STRICT, {})
    tools = []
    for tool in req.tools:
        function: dict[str, Any] = {"name": openai_tool_name(tool.name)}
        if tool.description is not None:
            function["description"] = tool.description
        # OpenAI rejects "$schema" and needs a top-level object type, which MCP tool schemas sometimes omit.
        function["parameters"] = {"type": "object", **{k: v for k, v in tool.parameters.items() if k != "$schema"}}
        if tool.name in strict:
            function["strict"] = strict[tool.name]
        tools.append({"type": "function", "function": function})
    if tools:
        body["tools"] = tools
    choice = req.tool_choice
    if choice is None or not tools:
        return
    if choice.type == "tool":
        body["tool_choice"] = {"type": "function", "function": {"name": openai_tool_name(choice.name or "")}}
    else:
        body["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice.disable_parallel:
        body["parallel_tool_calls"] = False


def tool_name_map(req: ChatRequest) -> dict[str, str]:
    """Names sent upstream -> the client's names, for the tools whose names OpenAI forced us to shorten.
    Pass it to ``parse_response(..., tool_names=)`` and ``StreamParser(tool_names=)``."""
    return {openai_tool_name(t.name): t.name for t in req.tools if openai_tool_name(t.name) != t.name}


def reasoning_effort(req: ChatRequest) -> str | None:
    if req.reasoning_effort is not None:
        return _EFFORT_ALIASES.get(req.reasoning_effort, req.reasoning_effort)
    if req.thinking is None or req.thinking.type == "disabled":
        return None
    return effort_from_budget(req.thinking.budget_tokens)
