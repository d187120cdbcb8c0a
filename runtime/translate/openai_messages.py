"""OpenAI Chat Completions messages <-> canonical messages.

Tool results live in canonical *user* messages (Anthropic's model); OpenAI wants one ``role: tool`` message per
result right after the assistant turn, so a user message splits into tool messages first, then a user message
with whatever text or images accompanied the results.
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import reasoning_details
from bifrostc.runtime.translate.common import (
    PDF,
    dumps,
    expect_dict,
    expect_list,
    expect_str,
    new_tool_id,
    openai_tool_name,
    optional_str,
)
from bifrostc.runtime.types import ImagePart, Message, Part, TextPart, ThinkingPart, ToolCallPart, ToolResultPart


def parse_messages(raw: Any) -> tuple[list[TextPart], list[Message]]:
    """Leading system/developer messages become the system prompt; later ones stay in place."""
    system: list[TextPart] = []
    messages: list[Message] = []
    for i, message in enumerate(expect_list(raw, "messages")):
        where = f"messages[{i}]"
        message = expect_dict(message, where)
        role = message.get("role")
        if role in ("system", "developer"):
            parts = [p for p in parse_parts(message.get("content"), f"{where}.content") if isinstance(p, TextPart)]
            (system if not messages else _append(messages, "system")).extend(parts)
        elif role == "user":
            messages.append(Message("user", parse_parts(message.get("content"), f"{where}.content")))
        elif role == "assistant":
            messages.append(Message("assistant", _parse_assistant(message, where)))
        elif role in ("tool", "function"):
            _append_tool_result(messages, message, where)
        else:
            raise InvalidRequest(f"{where}.role: expected system, developer, user, assistant or tool, got {role!r}")
    return system, messages


def _append(messages: list[Message], role: str) -> list[Part]:
    messages.append(Message(role, []))  # type: ignore[arg-type]
    return messages[-1].content


def _append_tool_result(messages: list[Message], message: dict[str, Any], where: str) -> None:
    tool_id = message.get("tool_call_id") or message.get("name")
    content = [
        p for p in parse_parts(message.get("content"), f"{where}.content") if isinstance(p, TextPart | ImagePart)
    ]
    append_tool_result(messages, ToolResultPart(expect_str(tool_id, f"{where}.tool_call_id"), content))


def append_tool_result(messages: list[Message], part: ToolResultPart) -> None:
    """Consecutive tool results (parallel calls) share one user turn, as Anthropic requires."""
    last = messages[-1] if messages else None
    if last is not None and last.role == "user" and all(isinstance(p, ToolResultPart) for p in last.content):
        last.content.append(part)
    else:
        messages.append(Message("user", [part]))


def parse_parts(content: Any, where: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[Part] = []
    for i, item in enumerate(expect_list(content, where)):
        item = expect_dict(item, f"{where}[{i}]")
        kind = item.get("type")
        if kind in ("text", "input_text"):
            parts.append(TextPart(expect_str(item.get("text"), f"{where}[{i}].text")))
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append(image_from_url(expect_str(url, f"{where}[{i}].image_url.url")))
        elif kind == "file":
            data = expect_dict(item.get("file"), f"{where}[{i}].file").get("file_data")
            if isinstance(data, str):
                parts.append(image_from_url(data))
        elif kind == "refusal":
            parts.append(TextPart(expect_str(item.get("refusal", ""), f"{where}[{i}].refusal")))
        # input_audio and unknown part types: not translatable, dropped
    return parts


def image_from_url(url: str) -> ImagePart:
    if url.startswith("data:") and ";base64," in url:
        head, _, data = url.partition(";base64,")
        return ImagePart(media_type=head.removeprefix("data:"), data=data)
    return ImagePart(url=url)


def _parse_assistant(message: dict[str, Any], where: str) -> list[Part]:
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    details = message.get("reasoning_details")
    if isinstance(details, list) and details:  # an OpenAI-dialect client handing OpenRouter's details back
        signature = reasoning_details.to_signature(details)
        parts.append(ThinkingPart(reasoning if isinstance(reasoning, str) else "", signature))
    elif isinstance(reasoning, str) and reasoning:
        parts.append(ThinkingPart(reasoning))
    parts.extend(parse_parts(message.get("content"), f"{where}.content"))
    for j, call in enumerate(expect_list(message.get("tool_calls") or [], f"{where}.tool_calls")):
        call = expect_dict(call, f"{where}.tool_calls[{j}]")
        function = expect_dict(call.get("function"), f"{where}.tool_calls[{j}].function")
        arguments = function.get("arguments") or ""
        if isinstance(arguments, dict):  # some clients send the object itself
            arguments = dumps(arguments)
        parts.append(
            ToolCallPart(
                optional_str(call.get("id"), f"{where}.tool_calls[{j}].id") or new_tool_id(),
                expect_str(function.get("name"), f"{where}.tool_calls[{j}].function.name"),
                expect_str(arguments, f"{where}.tool_calls[{j}].function.arguments"),
            )
        )
    return parts


# --- canonical -> OpenAI ---------------------------------------------------------------------------


def build_messages(
    system: list[TextPart], messages: list[Message], *, reasoning_back: str = "none"
) -> list[dict[str, Any]]:
    """``reasoning_back``: how assistant reasoning goes back (``providers.rules.ReasoningBack``): not at all,
    as DeepSeek's ``reasoning_content`` or as OpenRouter's ``reasoning_details``."""
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": "\n\n".join(p.text for p in system)})
    for message in messages:
        if message.role == "system":
            out.append({"role": "system", "content": "\n\n".join(_texts(message.content))})
        elif message.role == "assistant":
            assistant = _build_assistant(message.content, reasoning_back)
            if assistant is not None:
                out.append(assistant)
        else:
            out.extend(_build_user(message.content))
    return _pair_tool_messages(out)


_MISSING_RESULT = "(no result: the tool call was interrupted)"


def _pair_tool_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI rejects a tool call without a tool message after it, and a tool message without its call.
    Interrupted calls get a placeholder result; orphan results become user text."""
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    for message in messages:
        if message["role"] == "tool":
            if message["tool_call_id"] in pending:
                pending.remove(message["tool_call_id"])
                out.append(message)
            else:
                out.append(
                    {"role": "user", "content": f"[tool result {message['tool_call_id']}]\n{message['content']}"}
                )
            continue
        out.extend({"role": "tool", "tool_call_id": i, "content": _MISSING_RESULT} for i in pending)
        pending = [c["id"] for c in message.get("tool_calls", [])]
        out.append(message)
    return out


def _texts(parts: list[Part]) -> list[str]:
    return [p.text for p in parts if isinstance(p, TextPart)]


def _build_assistant(parts: list[Part], reasoning_back: str = "none") -> dict[str, Any] | None:
    text = "".join(_texts(parts))
    calls = [
        {
            "id": p.id,
            "type": "function",
            "function": {"name": openai_tool_name(p.name), "arguments": p.arguments or "{}"},
        }
        for p in parts
        if isinstance(p, ToolCallPart)
    ]
    if not text and not calls:
        return None  # e.g. a thinking-only turn: thinking goes back only beside what it led to
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    thinking = [p for p in parts if isinstance(p, ThinkingPart) and p.thinking]
    if reasoning_back == "reasoning_content" and (thinking or calls):
        # DeepSeek: a tool-call turn in thinking mode must carry it (an empty one for history from elsewhere).
        message["reasoning_content"] = "".join(p.thinking for p in thinking)
    elif reasoning_back == "reasoning_details":
        details = _reasoning_details(parts)
        if details:
            message["reasoning_details"] = details
    return message


def _reasoning_details(parts: list[Part]) -> list[Any]:
    """OpenRouter's details as it sent them; reasoning from elsewhere as unsigned reasoning.text details."""
    details: list[Any] = []
    for part in parts:
        if not isinstance(part, ThinkingPart):
            continue
        issued = reasoning_details.from_signature(part.signature)
        if issued is not None:
            details.extend(issued)
        elif part.thinking:
            details.append({"type": "reasoning.text", "text": part.thinking, "index": len(details)})
    return details


def _build_user(parts: list[Part]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ToolResultPart):
            text = "\n".join(_texts(list(part.content)))
            out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": text})
            rest.extend(build_part(p) for p in part.content if isinstance(p, ImagePart))  # tools can't carry images
        elif isinstance(part, TextPart | ImagePart):
            rest.append(build_part(part))
    if rest:
        only_text = len(rest) == 1 and rest[0]["type"] == "text"
        out.append({"role": "user", "content": rest[0]["text"] if only_text else rest})
    return out


def build_part(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if part.url is not None:
        return {"type": "image_url", "image_url": {"url": part.url}}
    url = f"data:{part.media_type or 'image/png'};base64,{part.data or ''}"
    if part.media_type == PDF:
        return {"type": "file", "file": {"filename": "document.pdf", "file_data": url}}
    return {"type": "image_url", "image_url": {"url": url}}
