"""Canonical ChatRequest -> OpenAI Responses request, and an upstream's ``response`` object -> ChatResponse.

The upstream side of the Responses dialect (the client side is ``translate/responses``). Stateless, as Codex is:
every request carries the whole conversation, ``store: false``, and asks for ``reasoning.encrypted_content``, so
a reasoning item comes back carrying its encrypted reasoning. That travels as the thinking signature
``bfc:openai:<encrypted>`` (``signatures``) and is the only reasoning sent back: thinking without it (another
family's, or none) is dropped, since the API refuses a reasoning item without ``encrypted_content`` under
``store: false``. Items are sent without ids (they are not stored upstream). Calls and results are paired as the
API demands: a call without a result gets a placeholder output, a result without its call becomes user text.
Reading the output reuses the client side's input-item parser (output items are input items).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bifrostc.runtime.errors import InvalidRequest, UpstreamError
from bifrostc.runtime.translate import signatures
from bifrostc.runtime.translate.common import (
    OPENAI_TOOL_STRICT,
    PDF,
    openai_tool_name,
    openai_user,
    wire_extras,
)
from bifrostc.runtime.translate.openai_request import reasoning_effort
from bifrostc.runtime.translate.responses_request import parse_input
from bifrostc.runtime.translate.responses_response import output_text, usage_from_responses
from bifrostc.runtime.types import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    Part,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

INCLUDE = ["reasoning.encrypted_content"]
# Responses fields a Responses client's body keeps when it is served through the canonical types.
_PASSTHROUGH = frozenset({"prompt_cache_key", "safety_identifier", "service_tier", "text", "truncation", "metadata"})
_MISSING_OUTPUT = "(no result: the tool call was interrupted)"
# Codes of the API's error objects (a failed response, an `error` event) -> the HTTP status they stand for.
_STATUS_BY_CODE = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "server_is_overloaded": 529,
    "context_length_exceeded": 400,
    "invalid_prompt": 400,
    "invalid_request_error": 400,
}


def _reasoning_of(part: ThinkingPart) -> dict[str, Any] | None:
    encrypted = signatures.native("openai", part.signature)
    if encrypted is None:
        return None
    summary = [{"type": "summary_text", "text": part.thinking}] if part.thinking else []
    return {"type": "reasoning", "summary": summary, "encrypted_content": encrypted}


def _assistant_items(parts: list[Part]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ThinkingPart):
            reasoning = _reasoning_of(part)
            if reasoning is not None:
                items.append(reasoning)
        elif isinstance(part, TextPart) and part.text:
            last = items[-1] if items else None
            if last is not None and last["type"] == "message":
                last["content"].append(output_text(part.text))
            else:
                items.append({"type": "message", "role": "assistant", "content": [output_text(part.text)]})
        elif isinstance(part, ToolCallPart):
            call = {"type": "function_call", "call_id": part.id, "name": openai_tool_name(part.name)}
            items.append({**call, "arguments": part.arguments or "{}"})
    return items


def _input_part(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if part.url is not None:
        return {"type": "input_image", "image_url": part.url}
    url = f"data:{part.media_type or 'image/png'};base64,{part.data or ''}"
    if part.media_type == PDF:
        return {"type": "input_file", "filename": "document.pdf", "file_data": url}
    return {"type": "input_image", "image_url": url}


def _user_items(parts: list[Part]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ToolResultPart):
            text = "\n".join(p.text for p in part.content if isinstance(p, TextPart))
            items.append({"type": "function_call_output", "call_id": part.tool_call_id, "output": text})
            rest.extend(_input_part(p) for p in part.content if isinstance(p, ImagePart))
        elif isinstance(part, TextPart | ImagePart):
            rest.append(_input_part(part))
    if rest:
        items.append({"type": "message", "role": "user", "content": rest})
    return items


def _paired(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every function_call followed (before the next turn) by its output; an output without its call as text."""
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    for item in items:
        kind = item["type"]
        if kind == "function_call_output":
            if item["call_id"] in pending:
                pending.remove(item["call_id"])
                out.append(item)
            else:
                text = f"[tool result {item['call_id']}]\n{item['output']}"
                out.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
            continue
        if kind == "message" and item["role"] != "assistant":  # the next turn: calls left unanswered end here
            out.extend({"type": "function_call_output", "call_id": i, "output": _MISSING_OUTPUT} for i in pending)
            pending = []
        if kind == "function_call":
            pending.append(item["call_id"])
        out.append(item)
    out.extend({"type": "function_call_output", "call_id": i, "output": _MISSING_OUTPUT} for i in pending)
    return out


def build_input(messages: list[Message]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "assistant":
            items.extend(_assistant_items(message.content))
        elif message.role == "system":
            text = "\n\n".join(p.text for p in message.content if isinstance(p, TextPart))
            items.append({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]})
        else:
            items.extend(_user_items(message.content))
    return _paired(items)


def _put_tools(req: ChatRequest, body: dict[str, Any]) -> None:
    strict: dict[str, bool] = req.extra.get(OPENAI_TOOL_STRICT, {})
    tools = []
    for tool in req.tools:
        parameters = {"type": "object", **{k: v for k, v in tool.parameters.items() if k != "$schema"}}
        # `strict` defaults to true on this API, which refuses most agents' schemas: off unless the client said.
        entry: dict[str, Any] = {"type": "function", "name": openai_tool_name(tool.name), "parameters": parameters}
        entry["strict"] = strict.get(tool.name, False)
        if tool.description is not None:
            entry["description"] = tool.description
        tools.append(entry)
    if not tools:
        return
    body["tools"] = tools
    choice = req.tool_choice
    if choice is None:
        return
    if choice.type == "tool":
        body["tool_choice"] = {"type": "function", "name": openai_tool_name(choice.name or "")}
    else:
        body["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice.disable_parallel:
        body["parallel_tool_calls"] = False


def build_request(req: ChatRequest, *, model: str) -> dict[str, Any]:
    """The Responses body for ``req`` (``stream`` as the request says)."""
    body: dict[str, Any] = {"model": model, "input": build_input(req.messages), "store": False, "include": INCLUDE}
    if req.system:
        body["instructions"] = "\n\n".join(p.text for p in req.system)
    if req.max_tokens is not None:
        body["max_output_tokens"] = req.max_tokens
    for key in ("temperature", "top_p"):
        if getattr(req, key) is not None:
            body[key] = getattr(req, key)
    _put_tools(req, body)
    effort = reasoning_effort(req)
    if effort is not None:
        body["reasoning"] = {"effort": effort, "summary": "auto"}
    if req.user:
        body["user"] = openai_user(req.user)
    text_format = _text_format(req.extra.get("response_format"))
    if text_format is not None:
        body["text"] = {"format": text_format}
    extras = wire_extras(req.extra, "responses", _PASSTHROUGH)
    body.update({k: v for k, v in extras.items() if k in _PASSTHROUGH})  # never store, previous_response_id...
    body["stream"] = req.stream
    return body


def _text_format(response_format: Any) -> dict[str, Any] | None:
    """A Chat Completions client's `response_format` as the Responses `text.format` (the schema's fields flat)."""
    if not isinstance(response_format, dict) or response_format.get("type") not in ("json_object", "json_schema"):
        return None
    if response_format["type"] == "json_object":
        return {"type": "json_object"}
    schema = response_format.get("json_schema")
    return {"type": "json_schema", **schema} if isinstance(schema, dict) else None


def tool_name_map(req: ChatRequest) -> dict[str, str]:
    """Names sent upstream -> the canonical names, for the tools shortened to OpenAI's 64 characters."""
    return {openai_tool_name(t.name): t.name for t in req.tools if openai_tool_name(t.name) != t.name}


def stop_reason(response: Mapping[str, Any], *, calls: bool) -> StopReason:
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if response.get("status") == "incomplete" and reason == "max_output_tokens":
        return "max_tokens"
    if response.get("status") == "incomplete" and reason == "content_filter":
        return "refusal"
    return "tool_use" if calls else "end_turn"


def error_status(error: Mapping[str, Any]) -> int:
    """The HTTP status a Responses error object (``response.error``, an ``error`` event) stands for."""
    return _STATUS_BY_CODE.get(str(error.get("code") or error.get("type") or ""), 502)


def output_parts(output: Any, tool_names: Mapping[str, str]) -> list[Part]:
    """An upstream's output items as canonical parts (reasoning signed ``bfc:openai:``)."""
    messages = parse_input(output if isinstance(output, list) else [], [], sign=_sign)
    parts = [part for message in messages if message.role == "assistant" for part in message.content]
    for part in parts:
        if isinstance(part, ToolCallPart):
            part.name = tool_names.get(part.name, part.name)
    return parts


def _sign(encrypted: str) -> str:
    return signatures.mark("openai", encrypted)


def parse_response(body: dict[str, Any], *, tool_names: Mapping[str, str] | None = None) -> ChatResponse:
    """An upstream ``response`` object; a failed one (or a malformed output) is an UpstreamError."""
    if body.get("object") not in (None, "response") or "output" not in body:
        raise UpstreamError("OpenAI upstream returned a body that is not a response object", status=502)
    error = body.get("error")
    if body.get("status") == "failed" and isinstance(error, dict):
        raise UpstreamError(str(error.get("message") or "the response failed"), status=error_status(error))
    try:
        content = output_parts(body.get("output"), tool_names or {})
    except InvalidRequest as exc:
        raise UpstreamError(f"OpenAI upstream returned a malformed response: {exc.message}", status=502) from exc
    return ChatResponse(
        id=str(body.get("id", "")),
        model=str(body.get("model", "")),
        content=content,
        stop_reason=stop_reason(body, calls=any(isinstance(p, ToolCallPart) for p in content)),
        usage=usage_from_responses(body.get("usage")),
    )
