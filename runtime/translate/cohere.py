"""Canonical <-> Cohere v2 chat (``POST /v2/chat``).

Cohere puts the text an assistant writes before its tool calls in ``tool_plan``, not ``content``; we map
that plan to an ordinary text part and back. Reasoning history is not sent back (Cohere keeps no
signatures), and tool results travel as text documents.
"""

from __future__ import annotations

import json
from typing import Any

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
    Usage,
)

_FINISH_REASON: dict[str, StopReason] = {
    "COMPLETE": "end_turn",
    "STOP_SEQUENCE": "stop_sequence",
    "MAX_TOKENS": "max_tokens",
    "TOOL_CALL": "tool_use",
}


def build_request(req: ChatRequest, *, model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = "\n\n".join(part.text for part in req.system if part.text)
    if system:
        messages.append({"role": "system", "content": system})
    for msg in req.messages:
        messages.extend(_build_message(msg))
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": req.stream}
    optional = {
        "max_tokens": req.max_tokens,
        "temperature": req.temperature,
        "p": req.top_p,
        "k": req.top_k,
        "stop_sequences": req.stop or None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description or "", "parameters": t.parameters},
            }
            for t in req.tools
        ]
        choice = req.tool_choice.type if req.tool_choice else "auto"
        if choice in ("any", "tool"):
            body["tool_choice"] = "REQUIRED"
        elif choice == "none":
            body["tool_choice"] = "NONE"
    if req.thinking is not None and "reasoning" in model:  # other Cohere models reject the field
        thinking: dict[str, Any] = {"type": "disabled" if req.thinking.type == "disabled" else "enabled"}
        if req.thinking.budget_tokens and req.thinking.type == "enabled":
            thinking["token_budget"] = req.thinking.budget_tokens
        body["thinking"] = thinking
    return body


def _build_message(msg: Message) -> list[dict[str, Any]]:
    if msg.role == "system":
        return [{"role": "system", "content": _joined_text(msg.content)}]
    if msg.role == "assistant":
        return [_assistant_message(msg.content)]
    results = [_tool_message(part) for part in msg.content if isinstance(part, ToolResultPart)]
    content = [_user_item(part) for part in msg.content if isinstance(part, TextPart | ImagePart)]
    content = [item for item in content if item is not None]
    return results + ([{"role": "user", "content": content}] if content else [])


def _assistant_message(content: list[Part]) -> dict[str, Any]:
    text = _joined_text(content)
    calls = [
        {"id": part.id, "type": "function", "function": {"name": part.name, "arguments": part.arguments or "{}"}}
        for part in content
        if isinstance(part, ToolCallPart)
    ]
    if not calls:
        return {"role": "assistant", "content": [{"type": "text", "text": text}]}
    message: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
    if text:
        message["tool_plan"] = text
    return message


def _tool_message(part: ToolResultPart) -> dict[str, Any]:
    text = "".join(item.text for item in part.content if isinstance(item, TextPart))
    if part.is_error:
        text = json.dumps({"error": text})
    return {"role": "tool", "tool_call_id": part.tool_call_id, "content": [{"type": "text", "text": text}]}


def _user_item(part: TextPart | ImagePart) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    url = part.url or f"data:{part.media_type or 'image/png'};base64,{part.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _joined_text(content: list[Part]) -> str:
    return "".join(part.text for part in content if isinstance(part, TextPart))


# --- response ----------------------------------------------------------------------------------------


def parse_response(body: dict[str, Any], *, model: str) -> ChatResponse:
    message = body.get("message") or {}
    content: list[Part] = []
    for item in message.get("content") or []:
        if item.get("type") == "thinking" and item.get("thinking"):
            content.append(ThinkingPart(thinking=item["thinking"]))
        elif item.get("type") == "text" and item.get("text"):
            content.append(TextPart(text=item["text"]))
    if message.get("tool_plan"):
        content.append(TextPart(text=message["tool_plan"]))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            ToolCallPart(id=call["id"], name=function.get("name", ""), arguments=function.get("arguments") or "{}")
        )
    has_calls = any(isinstance(part, ToolCallPart) for part in content)
    return ChatResponse(
        id=str(body.get("id") or "cohere"),
        model=model,
        content=content,
        stop_reason=map_finish_reason(body.get("finish_reason"), has_calls),
        usage=parse_usage(body.get("usage") or {}),
    )


def map_finish_reason(reason: str | None, has_tool_calls: bool) -> StopReason | None:
    if reason is None:
        return None
    if has_tool_calls and reason in ("COMPLETE", "TOOL_CALL"):
        return "tool_use"
    return _FINISH_REASON.get(reason, "end_turn")


def parse_usage(usage: dict[str, Any]) -> Usage:
    """Prefer ``tokens`` (what the model processed) over ``billed_units``."""
    counts = usage.get("tokens") or usage.get("billed_units") or {}
    return Usage(
        input_tokens=int(counts.get("input_tokens") or 0),
        output_tokens=int(counts.get("output_tokens") or 0),
        cache_read_tokens=int(usage.get("cached_tokens") or 0),
    )
