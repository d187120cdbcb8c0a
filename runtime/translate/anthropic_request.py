"""Anthropic Messages request JSON <-> canonical ChatRequest."""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate.anthropic_content import build_block, parse_content
from bifrostc.runtime.translate.claude_history import opens_without_thinking
from bifrostc.runtime.translate.common import (
    ANTHROPIC_SERVER_TOOLS,
    ANTHROPIC_TOOL_OPTIONS,
    SOURCE,
    budget_from_effort,
    count_tools,
    expect_dict,
    expect_list,
    expect_str,
    optional_bool,
    optional_dict,
    optional_int,
    optional_number,
    optional_str,
    wire_extras,
)
from bifrostc.runtime.translate.signatures import native
from bifrostc.runtime.types import ChatRequest, Message, Part, TextPart, Thinking, ThinkingPart, Tool, ToolChoice

DEFAULT_MAX_TOKENS = 8192
_CONSUMED = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "output_config",
    }
)
# Wire fields forwarded from ``extra`` of requests without a known source dialect (see common.wire_extras).
_PASSTHROUGH = frozenset({"context_management", "container", "mcp_servers", "output_config", "service_tier"})
_TOOL_FIELDS = frozenset({"type", "name", "description", "input_schema", "cache_control"})
_ROLES = ("user", "assistant", "system")  # a tuple: `in` compares, so an unhashable role is only refused


def parse_request(body: dict[str, Any]) -> ChatRequest:
    body = expect_dict(body, "request body")
    if "model" not in body or "messages" not in body:
        raise InvalidRequest("model and messages are required")
    req = ChatRequest(
        model=expect_str(body["model"], "model"),
        messages=[_parse_message(m, f"messages[{i}]") for i, m in enumerate(expect_list(body["messages"], "messages"))],
        system=_parse_system(body.get("system")),
        max_tokens=optional_int(body.get("max_tokens"), "max_tokens", minimum=1),
        temperature=optional_number(body.get("temperature"), "temperature"),
        top_p=optional_number(body.get("top_p"), "top_p"),
        top_k=optional_int(body.get("top_k"), "top_k", minimum=0),
        stop=[
            expect_str(s, f"stop_sequences[{i}]")
            for i, s in enumerate(expect_list(body.get("stop_sequences") or [], "stop_sequences"))
        ],
        stream=optional_bool(body.get("stream"), "stream") or False,
        tool_choice=_parse_tool_choice(body.get("tool_choice")),
        thinking=_parse_thinking(body.get("thinking")),
        extra={SOURCE: "anthropic", **{k: v for k, v in body.items() if k not in _CONSUMED}},
    )
    _parse_tools(body.get("tools") or [], req)
    metadata = optional_dict(body.get("metadata"), "metadata") or {}
    req.user = optional_str(metadata.get("user_id"), "metadata.user_id")
    output_config = dict(optional_dict(body.get("output_config"), "output_config") or {})
    if output_config.get("effort") is not None:
        req.reasoning_effort = expect_str(output_config.pop("effort"), "output_config.effort")
    if output_config:
        req.extra["output_config"] = output_config
    return req


def _parse_system(system: Any) -> list[TextPart]:
    if system is None:
        return []
    if isinstance(system, str):
        return [TextPart(system)] if system else []
    return [p for p in parse_content(system, "system") if isinstance(p, TextPart)]


def _parse_message(message: Any, where: str) -> Message:
    message = expect_dict(message, where)
    role = message.get("role")
    if role not in _ROLES:
        raise InvalidRequest(f"{where}.role: expected user, assistant or system, got {role!r}")
    return Message(role=role, content=parse_content(message.get("content", ""), f"{where}.content"))


def tool_count(tools: Any) -> int | None:
    """`common.count_tools` of this dialect: its custom tools (a server tool has no canonical form)."""
    return count_tools(tools, _is_custom)


def _is_custom(tool: dict[str, Any]) -> bool:
    """A tool of another type is a server tool (web_search_..., bash_..., tool_search_...): Anthropic-only."""
    return tool.get("type") in (None, "custom")


def _parse_tools(tools: Any, req: ChatRequest) -> None:
    server_tools: list[dict[str, Any]] = []
    options: dict[str, dict[str, Any]] = {}
    for i, tool in enumerate(expect_list(tools, "tools")):
        tool = expect_dict(tool, f"tools[{i}]")
        if not _is_custom(tool):
            server_tools.append(tool)
            continue
        name = expect_str(tool.get("name"), f"tools[{i}].name")
        schema = expect_dict(
            tool.get("input_schema") or {"type": "object", "properties": {}}, f"tools[{i}].input_schema"
        )
        description = optional_str(tool.get("description"), f"tools[{i}].description")
        req.tools.append(
            Tool(name, description, schema, optional_dict(tool.get("cache_control"), f"tools[{i}].cache_control"))
        )
        extras = {k: v for k, v in tool.items() if k not in _TOOL_FIELDS}
        if extras:
            options[name] = extras
    if server_tools:
        req.extra[ANTHROPIC_SERVER_TOOLS] = server_tools
    if options:
        req.extra[ANTHROPIC_TOOL_OPTIONS] = options


def _parse_tool_choice(choice: Any) -> ToolChoice | None:
    if choice is None:
        return None
    choice = expect_dict(choice, "tool_choice")
    kind = choice.get("type")
    if kind not in ("auto", "any", "none", "tool"):
        raise InvalidRequest(f"tool_choice.type: expected auto, any, tool or none, got {kind!r}")
    name = expect_str(choice.get("name"), "tool_choice.name") if kind == "tool" else None
    disable_parallel = optional_bool(choice.get("disable_parallel_tool_use"), "tool_choice.disable_parallel_tool_use")
    return ToolChoice(kind, name, bool(disable_parallel))


def _parse_thinking(thinking: Any) -> Thinking | None:
    if thinking is None:
        return None
    thinking = expect_dict(thinking, "thinking")
    kind = thinking.get("type")
    if kind not in ("enabled", "adaptive", "disabled"):
        raise InvalidRequest(f"thinking.type: expected enabled, adaptive or disabled, got {kind!r}")
    return Thinking(kind, optional_int(thinking.get("budget_tokens"), "thinking.budget_tokens", minimum=0))


# --- canonical -> Anthropic ------------------------------------------------------------------------


def build_request(req: ChatRequest, *, model: str) -> dict[str, Any]:
    system = list(req.system)
    messages: list[dict[str, Any]] = []
    for message in req.messages:
        if message.role == "system":  # Anthropic has no system turns: hoist their text, in order
            system.extend(p for p in message.content if isinstance(p, TextPart))
            continue
        blocks = [build_block(p) for p in message.content if _sendable(p)]
        if not blocks:
            continue
        if messages and messages[-1]["role"] == message.role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": message.role, "content": blocks})
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS}
    if system:
        body["system"] = [build_block(p) for p in system]
    _put_sampling(req, body)
    _put_tools(req, body)
    # A tool loop in progress that began on a model without Claude thinking cannot be continued with it.
    _put_reasoning(req, body, thinking_allowed=not opens_without_thinking(messages))
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if req.stream:
        body["stream"] = True
    return body


def _sendable(part: Part) -> bool:
    # Thinking another model family produced has no Claude signature and would be rejected.
    if not isinstance(part, ThinkingPart):
        return True
    return part.redacted_data is not None or native("claude", part.signature) is not None


def _put_sampling(req: ChatRequest, body: dict[str, Any]) -> None:
    for key in ("temperature", "top_p", "top_k"):
        value = getattr(req, key)
        if value is not None:
            body[key] = value
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    body.update(wire_extras(req.extra, "anthropic", _PASSTHROUGH))


def _put_tools(req: ChatRequest, body: dict[str, Any]) -> None:
    options: dict[str, dict[str, Any]] = req.extra.get(ANTHROPIC_TOOL_OPTIONS, {})
    tools: list[dict[str, Any]] = []
    for tool in req.tools:
        entry: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            entry["description"] = tool.description
        entry["input_schema"] = tool.parameters
        entry.update(options.get(tool.name, {}))
        if tool.cache_control is not None:
            entry["cache_control"] = tool.cache_control
        tools.append(entry)
    tools.extend(req.extra.get(ANTHROPIC_SERVER_TOOLS, []))
    if tools:
        body["tools"] = tools
    choice = req.tool_choice
    if choice is not None and (tools or choice.type == "none"):
        out: dict[str, Any] = {"type": choice.type}
        if choice.type == "tool":
            out["name"] = choice.name
        if choice.disable_parallel and choice.type != "none":
            out["disable_parallel_tool_use"] = True
        body["tool_choice"] = out


def _put_reasoning(req: ChatRequest, body: dict[str, Any], *, thinking_allowed: bool) -> None:
    from_anthropic = req.extra.get(SOURCE) == "anthropic"
    if req.reasoning_effort is not None and (req.thinking is not None or from_anthropic):
        body["output_config"] = {**body.get("output_config", {}), "effort": req.reasoning_effort}
    if not thinking_allowed:
        return
    if req.thinking is not None:
        thinking: dict[str, Any] = {"type": req.thinking.type}
        if req.thinking.type == "enabled":
            thinking["budget_tokens"] = req.thinking.budget_tokens or min(8192, body["max_tokens"] - 1)
        body["thinking"] = thinking
        return
    budget = budget_from_effort(req.reasoning_effort) if req.reasoning_effort and not from_anthropic else None
    forced_tool = body.get("tool_choice", {}).get("type") in ("any", "tool")
    if budget is None or forced_tool:  # Anthropic refuses thinking together with forced tool use
        return
    budget = min(budget, body["max_tokens"] - 1)  # an OpenAI-style effort becomes a budget below max_tokens
    if budget >= 1024:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        # With thinking Anthropic accepts only the default temperature/top_k and top_p >= 0.95.
        body.pop("temperature", None)
        body.pop("top_k", None)
        if body.get("top_p", 1) < 0.95:
            del body["top_p"]
