"""OpenAI Responses API request JSON -> canonical ChatRequest (stateless: the client sends the whole input).

``input`` items map onto canonical messages: message items by role, ``function_call`` items onto assistant tool
calls (consecutive assistant-side items - reasoning, assistant messages, function calls - share one assistant turn,
as parallel tool calls do), ``function_call_output`` items onto tool results in a user turn, ``reasoning`` items
onto thinking. ``function`` tools map onto canonical tools, and so do ``custom`` (freeform) tools, as functions
taking one ``input`` string (see responses_tools); their ``custom_tool_call``/``custom_tool_call_output`` items
become ordinary tool calls and results. The tools of ``namespace`` tools are offered flat, as
``<namespace>__<name>`` (see responses_tools), and calls carrying a ``namespace`` map onto those names. Hosted tools
(web_search, file_search, computer, local_shell, mcp...) have no canonical form: they are dropped, and so are input
items of those tools' types. Stored state is resolved before this parser runs (``runtime/responses_store``:
``previous_response_id`` chains and ``item_reference`` items become plain input), so ``previous_response_id`` is
only echoed here; ``conversation`` and an unresolved ``item_reference`` are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate.common import (
    OPENAI_TOOL_STRICT,
    SOURCE,
    expect_dict,
    expect_list,
    expect_str,
    optional_bool,
    optional_dict,
    optional_int,
    optional_number,
    optional_str,
)
from bifrostc.runtime.translate.openai_messages import append_tool_result, image_from_url
from bifrostc.runtime.translate.openai_request import parse_tool_choice as openai_tool_choice
from bifrostc.runtime.translate.responses_tools import (
    call_name,
    canonical_tools,
    client_tools,
    custom_call_arguments,
)
from bifrostc.runtime.types import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

# Reasoning items we emit carry the Anthropic signature (or redacted payload) in ``encrypted_content`` behind
# these markers; anything else there (e.g. OpenAI's own encrypted reasoning) is not ours and is never sent on.
SIGNATURE_MARK = "bfc.sig."
REDACTED_MARK = "bfc.redacted."

STATELESS = (
    "{field} is not supported by this gateway; send the whole conversation in `input` (or use "
    "previous_response_id with store: true)"
)
_CONSUMED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "stream",
        "user",
        "previous_response_id",  # resolved by runtime/responses_store before parsing; never sent upstream
    }
)
# Item types of tools that have no canonical form: dropped together with those tools.
_DROPPED_ITEMS = frozenset(
    {
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "web_search_call",
        "file_search_call",
        "computer_call",
        "computer_call_output",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "tool_search_call",
        "tool_search_output",
        "compaction",
    }
)


def parse_request(body: dict[str, Any]) -> ChatRequest:
    body = expect_dict(body, "request body")
    if body.get("conversation") is not None:
        raise InvalidRequest(STATELESS.format(field="`conversation`"))
    if "input" not in body:
        raise InvalidRequest("input: field required (a string or a list of input items)")
    system: list[TextPart] = []
    instructions = body.get("instructions")
    if instructions is not None:
        system.append(TextPart(expect_str(instructions, "instructions")))
    tools = client_tools(body.get("tools"))
    by_client = {(t.namespace, t.client_name): t.name for t in tools if t.namespace is not None}
    messages = parse_input(body["input"], system, by_client)
    reasoning = optional_dict(body.get("reasoning"), "reasoning") or {}
    users = [optional_str(body.get(k), k) for k in ("user", "safety_identifier")]
    req = ChatRequest(
        model=expect_str(body.get("model"), "model"),
        messages=messages,
        system=system,
        max_tokens=optional_int(body.get("max_output_tokens"), "max_output_tokens", minimum=1),
        temperature=optional_number(body.get("temperature"), "temperature"),
        top_p=optional_number(body.get("top_p"), "top_p"),
        stream=optional_bool(body.get("stream"), "stream") or False,
        tool_choice=parse_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"), by_client),
        reasoning_effort=optional_str(reasoning.get("effort"), "reasoning.effort"),
        user=users[0] or users[1],
        extra={SOURCE: "responses", **{k: v for k, v in body.items() if k not in _CONSUMED}},
    )
    req.tools, strict = canonical_tools(tools)
    if strict:
        req.extra[OPENAI_TOOL_STRICT] = strict
    return req


def parse_input(
    raw: Any,
    system: list[TextPart],
    by_client: dict[tuple[str, str], str] | None = None,
    *,
    sign: Callable[[str], str] | None = None,
) -> list[Message]:
    """Input items in order; leading system/developer messages are appended to ``system``. ``by_client`` maps a
    namespaced tool's (namespace, name) to its canonical name (see responses_tools.client_tools). ``sign``: read
    items an upstream produced (its ``output``), whose ``encrypted_content`` is the provider's own and becomes the
    thinking signature ``sign(encrypted)``; without it only the gateway's own markers are read."""
    by_client = by_client or {}
    if isinstance(raw, str):
        return [Message("user", [TextPart(raw)])]
    messages: list[Message] = []
    for i, item in enumerate(expect_list(raw, "input")):
        where = f"input[{i}]"
        item = expect_dict(item, where)
        kind = expect_str(item.get("type", "message"), f"{where}.type")
        if kind == "message":
            _message_item(item, where, system, messages)
        elif kind == "function_call":
            call_id = item.get("call_id") or item.get("id")
            arguments = item.get("arguments")
            arguments = "" if arguments is None else arguments
            part = ToolCallPart(
                expect_str(call_id, f"{where}.call_id"),
                call_name(item, where, by_client),
                expect_str(arguments, f"{where}.arguments"),
            )
            _assistant_turn(messages).append(part)
        elif kind == "custom_tool_call":
            text = expect_str(item.get("input", ""), f"{where}.input")
            part = ToolCallPart(
                expect_str(item.get("call_id") or item.get("id"), f"{where}.call_id"),
                call_name(item, where, by_client),
                custom_call_arguments(text),
            )
            _assistant_turn(messages).append(part)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = expect_str(item.get("call_id"), f"{where}.call_id")
            append_tool_result(messages, ToolResultPart(call_id, _output_parts(item.get("output"), f"{where}.output")))
        elif kind == "reasoning":
            reasoning = _reasoning_part(item, where, sign)
            if reasoning is not None:
                _assistant_turn(messages).append(reasoning)
        elif kind == "item_reference":
            raise InvalidRequest(STATELESS.format(field=f"{where}: `item_reference`"))
        elif kind not in _DROPPED_ITEMS:
            raise InvalidRequest(
                f"{where}.type: {kind!r} is not supported (expected message, function_call, "
                "function_call_output, custom_tool_call, custom_tool_call_output or reasoning)"
            )
    return messages


def split_input(raw: list[Any]) -> tuple[int, list[Any]] | None:
    """A relayed request's input cut where its new turn starts (after the last item `parse_input` places in an
    assistant turn): the count of canonical messages before it, and what to parse instead of the whole, the
    leading system/developer messages (the system prompt) then the new turn's items. Items are placed as
    `parse_input` places them, without building the earlier ones; None when only the whole parse can tell (an
    item it would refuse, nothing before the new turn, a turn that ends in the assistant's, a system message
    inside the new turn)."""
    count, last, start, omitted, system_at = 0, "", 0, 0, -1
    leading: list[Any] = []
    for i, item in enumerate(raw):
        place = _place(item, f"input[{i}]")
        if place is None:
            return None
        if place == "system" and count == 0:
            leading.append(item)
        elif place == "assistant":
            count += last != "assistant"
            start, omitted = i + 1, count
        elif place == "output":  # append_tool_result: consecutive results share one user turn
            count += last != "results"
            place = "results"
        elif place:
            count += 1
            if place == "system":
                system_at = i
        last = place or last
    if start == 0 or start == len(raw) or system_at >= start:
        return None
    return omitted, [*leading, *raw[start:]]


def _place(item: Any, where: str) -> str | None:
    """Which canonical message `parse_input` puts an item in: "system", "user", "results" (a user message of
    tool results only, which a tool output joins), "output" (a tool output), "assistant"; "" for none (a dropped
    item, reasoning without text); None for an item it refuses or reads in a way only it can tell."""
    if not isinstance(item, dict):
        return None
    kind, role = item.get("type", "message"), item.get("role")
    if kind == "message":
        if role == "assistant":
            return "assistant"
        if role in ("system", "developer"):
            return "system"
        if role != "user":
            return None
        try:
            parts = parse_content(item.get("content"), f"{where}.content")
        except InvalidRequest:
            return None
        return "results" if all(isinstance(p, ToolResultPart) for p in parts) else "user"
    if kind in ("function_call", "custom_tool_call"):
        return "assistant"
    if kind in ("function_call_output", "custom_tool_call_output"):
        return "output"
    if kind == "reasoning":
        try:
            return "" if _reasoning_part(item, where, None) is None else "assistant"
        except InvalidRequest:
            return None
    return "" if isinstance(kind, str) and kind in _DROPPED_ITEMS else None


def _message_item(item: dict[str, Any], where: str, system: list[TextPart], messages: list[Message]) -> None:
    role = item.get("role")
    parts = parse_content(item.get("content"), f"{where}.content")
    if role in ("system", "developer"):
        texts = [p for p in parts if isinstance(p, TextPart)]
        if not messages:
            system.extend(texts)
        else:
            messages.append(Message("system", list(texts)))
    elif role == "user":
        messages.append(Message("user", parts))
    elif role == "assistant":
        _assistant_turn(messages).extend(parts)
    else:
        raise InvalidRequest(f"{where}.role: expected user, assistant, system or developer, got {role!r}")


def _assistant_turn(messages: list[Message]) -> list[Part]:
    if not messages or messages[-1].role != "assistant":
        messages.append(Message("assistant", []))
    return messages[-1].content


def parse_content(content: Any, where: str) -> list[Part]:
    """A message's content: a string, or input_text/output_text/refusal/input_image/input_file parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[Part] = []
    for i, item in enumerate(expect_list(content, where)):
        item = expect_dict(item, f"{where}[{i}]")
        kind = item.get("type")
        if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            parts.append(TextPart(expect_str(item.get("text"), f"{where}[{i}].text")))
        elif kind == "refusal":
            parts.append(TextPart(expect_str(item.get("refusal", ""), f"{where}[{i}].refusal")))
        elif kind == "input_image":
            url = item.get("image_url")
            if isinstance(url, str):
                parts.append(image_from_url(url))
            elif item.get("file_id") is not None:
                raise InvalidRequest(f"{where}[{i}].file_id: uploaded files are not supported; send image_url")
        elif kind == "input_file":
            data = item.get("file_data")
            if isinstance(data, str):
                parts.append(_file_part(data))
            elif item.get("file_id") is not None:
                raise InvalidRequest(f"{where}[{i}].file_id: uploaded files are not supported; send file_data")
        # input_audio and unknown part types: not translatable, dropped
    return parts


def _file_part(data: str) -> ImagePart:
    """``file_data`` is a data URL, or bare base64 (a PDF, the only file kind providers take inline)."""
    if data.startswith("data:"):
        return image_from_url(data)
    return ImagePart(media_type="application/pdf", data=data)


def _output_parts(output: Any, where: str) -> list[TextPart | ImagePart]:
    if isinstance(output, str):
        return [TextPart(output)] if output else []
    return [p for p in parse_content(output, where) if isinstance(p, TextPart | ImagePart)]


def _reasoning_part(item: dict[str, Any], where: str, sign: Callable[[str], str] | None) -> ThinkingPart | None:
    texts = [
        expect_str(s.get("text"), f"{where}.summary[{j}].text")
        for j, s in enumerate(expect_list(item.get("summary") or [], f"{where}.summary"))
        if isinstance(s, dict)
    ]
    if not texts:
        texts = [
            expect_str(c.get("text", ""), f"{where}.content[{j}].text")
            for j, c in enumerate(expect_list(item.get("content") or [], f"{where}.content"))
            if isinstance(c, dict)
        ]
    text = "\n\n".join(texts)
    encrypted = item.get("encrypted_content")
    if sign is not None:  # an upstream's own item
        own = sign(encrypted) if isinstance(encrypted, str) and encrypted else None
        return ThinkingPart(text, own) if text or own else None
    if isinstance(encrypted, str) and encrypted.startswith(REDACTED_MARK):
        return ThinkingPart("", redacted_data=encrypted.removeprefix(REDACTED_MARK))
    signature = encrypted.removeprefix(SIGNATURE_MARK) if isinstance(encrypted, str) else ""
    if not isinstance(encrypted, str) or not encrypted.startswith(SIGNATURE_MARK):
        signature = ""  # another provider's encrypted reasoning: opaque to us, never forwarded
    if not text and not signature:
        return None
    return ThinkingPart(text, signature or None)


def parse_tool_choice(
    choice: Any, parallel: Any, by_client: dict[tuple[str, str], str] | None = None
) -> ToolChoice | None:
    return openai_tool_choice(choice, parallel, partial(_responses_tool_choice, by_client=by_client or {}))


def _responses_tool_choice(
    choice: dict[str, Any], disable_parallel: bool, *, by_client: dict[tuple[str, str], str]
) -> ToolChoice:
    if choice.get("type") in ("function", "custom"):
        # The SDK's choice types have no ``namespace``; one given as on call items still names the flat tool.
        return ToolChoice("tool", call_name(choice, "tool_choice", by_client), disable_parallel)
    # allowed_tools, hosted tool types: the closest canonical choice is to let the model decide
    return ToolChoice("auto", disable_parallel=disable_parallel)
