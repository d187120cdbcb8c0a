"""Canonical ChatResponse -> OpenAI Responses API ``response`` object, and the pieces the stream encoder shares.

Output items, in content order: thinking -> ``reasoning`` items (the thinking text as one summary part; an
Anthropic signature or redacted payload travels in ``encrypted_content`` so it comes back on the next turn),
text -> ``message`` items, tool calls -> ``function_call`` items (``custom_tool_call`` items when the request
offered that tool as a ``custom`` one; the inner name and its ``namespace`` for a tool of a ``namespace``: see
responses_tools). Item ids are derived from the response id and
the item's output index, so a streamed answer and its non-streamed form name the same items.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from bifrostc.runtime.translate.responses_request import REDACTED_MARK, SIGNATURE_MARK
from bifrostc.runtime.translate.responses_tools import (
    ClientTool,
    custom_input,
    custom_tool_call_item,
    custom_tool_echo,
    tool_table,
)
from bifrostc.runtime.types import ChatResponse, Part, StopReason, TextPart, ThinkingPart, ToolCallPart, Usage

_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})
_INCOMPLETE: dict[str, str] = {"max_tokens": "max_output_tokens", "refusal": "content_filter"}


def response_id(canonical_id: str) -> str:
    if canonical_id.startswith("resp_"):
        return canonical_id
    safe = _ID_UNSAFE.sub("", canonical_id)
    return "resp_" + (safe or uuid.uuid4().hex[:24])


def item_id(prefix: str, resp_id: str, output_index: int) -> str:
    return f"{prefix}_{resp_id.removeprefix('resp_')}_{output_index}"


def usage_to_responses(usage: Usage) -> dict[str, Any]:
    """OpenAI counts cached prompt tokens inside input_tokens; canonical input_tokens excludes them."""
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": prompt + usage.output_tokens,
    }


def usage_from_responses(raw: Any) -> Usage:
    """The inverse of ``usage_to_responses``: an upstream's ``usage`` (cached tokens counted inside input_tokens)."""
    raw = raw if isinstance(raw, dict) else {}
    details = raw.get("input_tokens_details") if isinstance(raw.get("input_tokens_details"), dict) else {}
    out_details = raw.get("output_tokens_details") if isinstance(raw.get("output_tokens_details"), dict) else {}
    cached, written = _count(details.get("cached_tokens")), _count(details.get("cache_write_tokens"))
    return Usage(
        input_tokens=max(_count(raw.get("input_tokens")) - cached - written, 0),
        output_tokens=_count(raw.get("output_tokens")),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=_count(out_details.get("reasoning_tokens")),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def status_for(stop_reason: StopReason | str | None) -> tuple[str, dict[str, str] | None]:
    """("completed", None), or ("incomplete", {"reason": ...}) for max_tokens and refusals."""
    reason = _INCOMPLETE.get(stop_reason or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


# --- output items ----------------------------------------------------------------------------------


def message_item(item_id_: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [] if status == "in_progress" else [output_text(text)]
    return {"type": "message", "id": item_id_, "role": "assistant", "status": status, "content": content}


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def function_call_item(
    item_id_: str, call_id: str, name: str, arguments: str, status: str = "completed", namespace: str | None = None
) -> dict[str, Any]:
    item = {
        "type": "function_call",
        "id": item_id_,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }
    return item if namespace is None else {**item, "namespace": namespace}


def client_call(name: str, tools: Mapping[str, ClientTool]) -> tuple[str, str | None, bool]:
    """(name, namespace, is_custom) of a call to the canonical tool ``name``, as the client declared that tool."""
    tool = tools.get(name)
    if tool is None:
        return name, None, False
    return tool.client_name, tool.namespace, tool.type == "custom"


def reasoning_item(
    item_id_: str, text: str, *, signature: str | None = None, redacted: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id_,
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if redacted is not None:
        item["encrypted_content"] = REDACTED_MARK + redacted
    elif signature:
        item["encrypted_content"] = SIGNATURE_MARK + signature
    return item


def part_item(
    part: Part, resp_id: str, output_index: int, tools: Mapping[str, ClientTool] | None = None
) -> dict[str, Any] | None:
    """The output item for one content part; ``tools`` is the request's ``tool_table``."""
    if isinstance(part, TextPart):
        return message_item(item_id("msg", resp_id, output_index), part.text)
    if isinstance(part, ToolCallPart):
        name, namespace, custom = client_call(part.name, tools or {})
        if custom:
            ctc_id = item_id("ctc", resp_id, output_index)
            return custom_tool_call_item(ctc_id, part.id, name, custom_input(part.arguments or ""), namespace)
        fc_id = item_id("fc", resp_id, output_index)
        return function_call_item(fc_id, part.id, name, part.arguments or "{}", namespace=namespace)
    if isinstance(part, ThinkingPart):
        rs_id = item_id("rs", resp_id, output_index)
        return reasoning_item(rs_id, part.thinking, signature=part.signature, redacted=part.redacted_data)
    return None  # images and tool results never appear in assistant output


# --- the response object ---------------------------------------------------------------------------


def request_echo(request: dict[str, Any] | None) -> dict[str, Any]:
    """The request settings a response object repeats (normalised to what the API itself would answer)."""
    request = request if isinstance(request, dict) else {}
    echo: dict[str, Any] = {
        "instructions": request.get("instructions") if isinstance(request.get("instructions"), str) else None,
        "max_output_tokens": _int_or_none(request.get("max_output_tokens")),
        "metadata": request.get("metadata") if isinstance(request.get("metadata"), dict) else {},
        "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
        "temperature": _number_or_none(request.get("temperature")),
        "top_p": _number_or_none(request.get("top_p")),
        "tool_choice": _tool_choice_echo(request.get("tool_choice")),
        "tools": [_tool_echo(t) for t in _list(request.get("tools")) if _is_tool(t, "function")]
        + [custom_tool_echo(t) for t in _list(request.get("tools")) if _is_tool(t, "custom")]
        + [_namespace_echo(t) for t in _list(request.get("tools")) if _is_tool(t, "namespace")],
    }
    previous = request.get("previous_response_id")
    echo["previous_response_id"] = previous if isinstance(previous, str) else None
    echo["store"] = request.get("store") is not False
    reasoning = request.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    echo["reasoning"] = {"effort": effort if effort in _EFFORTS else None, "summary": None}
    for key in ("user", "safety_identifier", "prompt_cache_key"):
        if isinstance(request.get(key), str):
            echo[key] = request[key]
    return echo


def response_object(
    *,
    resp_id: str,
    model: str,
    created_at: int,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    echo: dict[str, Any],
    incomplete_details: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete_details,
        "model": model,
        "output": output,
        "usage": usage_to_responses(usage) if usage is not None else None,
        **echo,
    }


def build_response(
    resp: ChatResponse, *, request: dict[str, Any] | None = None, created_at: int | None = None
) -> dict[str, Any]:
    """The ``response`` object for a finished answer; ``request`` is the client's body (for the echoed settings)."""
    resp_id = response_id(resp.id)
    tools = tool_table(request)
    output: list[dict[str, Any]] = []
    for part in resp.content:
        item = part_item(part, resp_id, len(output), tools)
        if item is not None:
            output.append(item)
    status, incomplete = status_for(resp.stop_reason)
    return response_object(
        resp_id=resp_id,
        model=resp.model,
        created_at=created_at if created_at is not None else int(time.time()),
        status=status,
        output=output,
        usage=resp.usage,
        echo=request_echo(request),
        incomplete_details=incomplete,
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number_or_none(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_tool(tool: Any, kind: str) -> bool:
    return isinstance(tool, dict) and tool.get("type") == kind and isinstance(tool.get("name"), str)


def _tool_echo(tool: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "name": tool["name"]}
    description = tool.get("description")
    out["description"] = description if isinstance(description, str) else None
    out["parameters"] = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else None
    out["strict"] = tool.get("strict") if isinstance(tool.get("strict"), bool) else None
    return out


def _namespace_echo(tool: dict[str, Any]) -> dict[str, Any]:
    description = tool.get("description")
    inner = _list(tool.get("tools"))
    return {
        "type": "namespace",
        "name": tool["name"],
        "description": description if isinstance(description, str) else "",
        "tools": [_tool_echo(t) for t in inner if _is_tool(t, "function")]
        + [custom_tool_echo(t) for t in inner if _is_tool(t, "custom")],
    }


def _tool_choice_echo(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        if isinstance(choice.get("name"), str):
            return {"type": choice["type"], "name": choice["name"]}
    return "auto"
