"""Gemini API ``GenerateContentRequest`` (a Gemini client: the Gemini CLI, google-genai) -> canonical request.

The mirror of ``gemini.build_request`` (the provider side). What the wire lacks is made up the same way:

* Function calls need no id. A call without one gets ``gemini.synthetic_tool_id`` of its place in the
  conversation, and a ``functionResponse`` without one answers the oldest unanswered call of its name (Gemini
  pairs them by order and name), so every canonical tool result names its call.
* ``thoughtSignature`` may sit on any part; a client hands back what the gateway sent it (see ``signatures``
  below), so Gemini's own go back to Gemini and Claude's to Claude.
* Function parameters come as Gemini's OpenAPI subset (``type: OBJECT``, ``nullable``) or as JSON Schema
  (``parametersJsonSchema``); both become JSON Schema with lower-case types.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict, deque
from typing import Any

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate.common import (
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
from bifrostc.runtime.translate.gemini import synthetic_tool_id
from bifrostc.runtime.translate.signatures import FOREIGN_MARK, mark, native
from bifrostc.runtime.types import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    TextPart,
    Thinking,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

DIALECT = "gemini"
_FOREIGN = b"bfc:"  # a non-Gemini signature sent to a Gemini client: base64 of this + the canonical signature
_REDACTED = b"bfr:"  # Claude's redacted thinking, carried the same way on an empty thought part
_MODES = {"AUTO": "auto", "ANY": "any", "VALIDATED": "auto", "NONE": "none", "MODE_UNSPECIFIED": "auto"}
_EFFORT_BY_LEVEL = {"MINIMAL": "low", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}


# --- signatures ------------------------------------------------------------------------------------


def signature_to_client(signature: str | None) -> str | None:
    """A canonical signature as a Gemini client carries it: Gemini's own as Gemini issued it, any other family's
    wrapped in base64 (clients such as google-genai decode ``thoughtSignature`` as base64 bytes)."""
    if not signature:
        return None
    own = native("gemini", signature)
    if own is not None:
        return own
    if signature.startswith(f"{FOREIGN_MARK}gemini:"):
        return None  # an empty Gemini mark: nothing to hand back
    return base64.b64encode(_FOREIGN + signature.encode()).decode()


def redacted_to_client(data: str) -> str:
    return base64.b64encode(_REDACTED + data.encode()).decode()


def redacted_from_client(value: str | None) -> str | None:
    """The redacted-thinking payload a thought part's signature carries, if it is one."""
    raw = _b64(value)
    return raw[len(_REDACTED) :].decode(errors="replace") if raw.startswith(_REDACTED) else None


def _b64(value: str | None) -> bytes:
    try:
        return base64.b64decode(value or "", validate=True)
    except (binascii.Error, ValueError):
        return b""


def signature_from_client(value: str | None) -> str | None:
    """The inverse of ``signature_to_client``: a wrapped signature is unwrapped, anything else is Gemini's."""
    if not value:
        return None
    raw = _b64(value)
    if raw.startswith(_FOREIGN):
        try:
            return raw[len(_FOREIGN) :].decode() or None
        except UnicodeDecodeError:
            return None
    return mark("gemini", value)


# --- request ---------------------------------------------------------------------------------------


def parse_request(body: dict[str, Any], *, model: str, stream: bool) -> ChatRequest:
    """A ``generateContent`` body; ``model`` and ``stream`` come from the URL."""
    contents = expect_list(body.get("contents", []), "contents")
    config = optional_dict(body.get("generationConfig"), "generationConfig") or {}
    request = ChatRequest(
        model=model,
        messages=_messages(contents),
        system=_system(body.get("systemInstruction")),
        stream=stream,
        extra={SOURCE: DIALECT},
    )
    _apply_generation(request, config)
    request.tools = _tools(body.get("tools"))
    request.tool_choice = _tool_choice(body.get("toolConfig"), bool(request.tools))
    return request


def _system(value: Any) -> list[TextPart]:
    if value is None:
        return []
    if isinstance(value, str):
        return [TextPart(text=value)] if value else []
    content = expect_dict(value, "systemInstruction")
    parts = expect_list(content.get("parts", []), "systemInstruction.parts")
    texts = [
        optional_str(expect_dict(p, f"systemInstruction.parts[{i}]").get("text"), "text") for i, p in enumerate(parts)
    ]
    return [TextPart(text=t) for t in texts if t]


class _CallLedger:
    """Ids for the calls of a conversation, and which of them each functionResponse answers."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self._open: dict[str, deque[str]] = defaultdict(deque)
        self._order: deque[str] = deque()

    def call(self, call_id: str, name: str) -> None:
        self.names[call_id] = name
        self._open[name].append(call_id)
        self._order.append(call_id)

    def answer(self, given: str | None, name: str, where: str) -> str:
        if given and given in self.names:
            chosen = given
        elif self._open[name]:
            chosen = self._open[name][0]
        elif given:
            return given
        else:
            raise InvalidRequest(f"{where}: a functionResponse for {name!r} answers no functionCall before it")
        if chosen in self._open[self.names[chosen]]:
            self._open[self.names[chosen]].remove(chosen)
        return chosen


def _messages(contents: list[Any]) -> list[Message]:
    ledger = _CallLedger()
    messages: list[Message] = []
    for turn, raw in enumerate(contents):
        where = f"contents[{turn}]"
        content = expect_dict(raw, where)
        role = optional_str(content.get("role"), f"{where}.role") or "user"
        if role not in ("user", "model", "function"):
            raise InvalidRequest(f"{where}.role: expected 'user' or 'model', got {role!r}")
        parts = expect_list(content.get("parts", []), f"{where}.parts")
        if role == "model":
            parsed = _model_parts(parts, turn, ledger, where)
        else:
            parsed = _user_parts(parts, ledger, where)
        if parsed:
            messages.append(Message(role="assistant" if role == "model" else "user", content=parsed))
    return messages


def _model_parts(parts: list[Any], turn: int, ledger: _CallLedger, where: str) -> list[Part]:
    out: list[Part] = []
    for i, raw in enumerate(parts):
        part = expect_dict(raw, f"{where}.parts[{i}]")
        at = f"{where}.parts[{i}]"
        carried = optional_str(part.get("thoughtSignature"), f"{at}.thoughtSignature")
        redacted = redacted_from_client(carried)
        if redacted is not None:
            out.append(ThinkingPart(thinking="", redacted_data=redacted))
            continue
        signature = signature_from_client(carried)
        if optional_bool(part.get("thought"), f"{at}.thought"):
            _add_thinking(out, optional_str(part.get("text"), f"{at}.text") or "", signature)
            continue
        if signature:
            out.append(ThinkingPart(thinking="", signature=signature))
        if "functionCall" in part:
            call = expect_dict(part["functionCall"], f"{at}.functionCall")
            name = expect_str(call.get("name"), f"{at}.functionCall.name")
            args = optional_dict(call.get("args"), f"{at}.functionCall.args") or {}
            call_id = optional_str(call.get("id"), f"{at}.functionCall.id") or synthetic_tool_id(
                f"turn{turn}", i, name, args
            )
            ledger.call(call_id, name)
            out.append(ToolCallPart(id=call_id, name=name, arguments=json.dumps(args)))
        else:
            out.extend(_plain_part(part, at))
    return out


def _add_thinking(out: list[Part], text: str, signature: str | None) -> None:
    """Streamed thought parts come back one per chunk: consecutive ones are one thinking block again (Claude
    checks its signature against the whole text)."""
    last = out[-1] if out else None
    if isinstance(last, ThinkingPart) and last.signature is None and last.redacted_data is None:
        last.thinking += text
        last.signature = signature
        return
    out.append(ThinkingPart(thinking=text, signature=signature))


def _user_parts(parts: list[Any], ledger: _CallLedger, where: str) -> list[Part]:
    results: list[Part] = []
    rest: list[Part] = []
    for i, raw in enumerate(parts):
        at = f"{where}.parts[{i}]"
        part = expect_dict(raw, at)
        if "functionResponse" in part:
            results.append(_tool_result(expect_dict(part["functionResponse"], f"{at}.functionResponse"), ledger, at))
        elif not part.get("thought"):
            rest.extend(_plain_part(part, at))
    return [*results, *rest]  # tool results first, as Claude requires


def _tool_result(response: dict[str, Any], ledger: _CallLedger, at: str) -> ToolResultPart:
    name = expect_str(response.get("name"), f"{at}.functionResponse.name")
    given = optional_str(response.get("id"), f"{at}.functionResponse.id")
    payload = optional_dict(response.get("response"), f"{at}.functionResponse.response") or {}
    is_error = "error" in payload and "output" not in payload
    value = payload.get("error" if is_error else "output", payload) if len(payload) == 1 else payload
    text = value if isinstance(value, str) else json.dumps(value)
    content: list[TextPart | ImagePart] = [TextPart(text=text)]
    for j, extra in enumerate(expect_list(response.get("parts", []), f"{at}.functionResponse.parts")):
        for item in _plain_part(expect_dict(extra, f"{at}.functionResponse.parts[{j}]"), at):
            if isinstance(item, TextPart | ImagePart):
                content.append(item)
    return ToolResultPart(tool_call_id=ledger.answer(given, name, at), content=content, is_error=is_error)


def _plain_part(part: dict[str, Any], at: str) -> list[Part]:
    if "text" in part:
        text = expect_str(part["text"], f"{at}.text")
        return [TextPart(text=text)] if text else []
    if "inlineData" in part:
        blob = expect_dict(part["inlineData"], f"{at}.inlineData")
        data = expect_str(blob.get("data"), f"{at}.inlineData.data")
        return [ImagePart(media_type=optional_str(blob.get("mimeType"), f"{at}.inlineData.mimeType"), data=data)]
    if "fileData" in part:
        file = expect_dict(part["fileData"], f"{at}.fileData")
        uri = expect_str(file.get("fileUri"), f"{at}.fileData.fileUri")
        return [ImagePart(media_type=optional_str(file.get("mimeType"), f"{at}.fileData.mimeType"), url=uri)]
    if "executableCode" in part:
        code = expect_dict(part["executableCode"], f"{at}.executableCode")
        return [TextPart(text=str(code.get("code", "")))]
    if "codeExecutionResult" in part:
        result = expect_dict(part["codeExecutionResult"], f"{at}.codeExecutionResult")
        return [TextPart(text=str(result.get("output", "")))]
    return []


def _apply_generation(request: ChatRequest, config: dict[str, Any]) -> None:
    where = "generationConfig"
    request.max_tokens = optional_int(config.get("maxOutputTokens"), f"{where}.maxOutputTokens", minimum=1)
    request.temperature = optional_number(config.get("temperature"), f"{where}.temperature")
    request.top_p = optional_number(config.get("topP"), f"{where}.topP")
    top_k = optional_number(config.get("topK"), f"{where}.topK")
    request.top_k = int(top_k) if top_k is not None else None
    stops = expect_list(config.get("stopSequences", []), f"{where}.stopSequences")
    request.stop = [expect_str(s, f"{where}.stopSequences[{i}]") for i, s in enumerate(stops)]
    candidates = optional_int(config.get("candidateCount"), f"{where}.candidateCount", minimum=1)
    if candidates is not None and candidates > 1:
        raise InvalidRequest(f"{where}.candidateCount: only 1 candidate is supported, got {candidates}")
    thinking = optional_dict(config.get("thinkingConfig"), f"{where}.thinkingConfig")
    if thinking is not None:
        _apply_thinking(request, thinking, f"{where}.thinkingConfig")
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    mime = optional_str(config.get("responseMimeType"), f"{where}.responseMimeType")
    if mime == "application/json":  # other families have no such switch: ask for it in the system prompt
        shape = f" matching this JSON schema: {json.dumps(schema)}" if schema else ""
        request.system.append(TextPart(text=f"Respond with a single JSON value only, no prose{shape}."))


def _apply_thinking(request: ChatRequest, thinking: dict[str, Any], where: str) -> None:
    budget = optional_int(thinking.get("thinkingBudget"), f"{where}.thinkingBudget", minimum=-1)
    level = optional_str(thinking.get("thinkingLevel"), f"{where}.thinkingLevel")
    if budget == 0:
        request.thinking = Thinking(type="disabled")
    elif budget is not None and budget > 0:
        request.thinking = Thinking(type="enabled", budget_tokens=budget)
    elif budget == -1:
        request.thinking = Thinking(type="adaptive")
    if level:
        request.reasoning_effort = _EFFORT_BY_LEVEL.get(level.upper(), "medium")


def _tools(value: Any) -> list[Tool]:
    tools: list[Tool] = []
    for i, raw in enumerate(expect_list(value or [], "tools")):
        entry = expect_dict(raw, f"tools[{i}]")
        declarations = entry.get("functionDeclarations") or entry.get("function_declarations") or []
        for j, decl in enumerate(expect_list(declarations, f"tools[{i}].functionDeclarations")):
            at = f"tools[{i}].functionDeclarations[{j}]"
            declaration = expect_dict(decl, at)
            schema = declaration.get("parametersJsonSchema")
            if schema is None:
                schema = to_json_schema(optional_dict(declaration.get("parameters"), f"{at}.parameters") or {})
            parameters = expect_dict(schema, f"{at}.parametersJsonSchema") if schema else {}
            tools.append(
                Tool(
                    name=expect_str(declaration.get("name"), f"{at}.name"),
                    description=optional_str(declaration.get("description"), f"{at}.description"),
                    parameters={"type": "object", "properties": {}, **parameters},
                )
            )
    return tools  # googleSearch, codeExecution and the other built-in tools have no canonical form: dropped


def to_json_schema(node: Any) -> Any:
    """Gemini's OpenAPI-3 schema subset -> JSON Schema: lower-case types, ``nullable`` as a null type."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: to_json_schema(sub) for name, sub in node["properties"].items()}
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = kind.lower() if kind.upper() != "TYPE_UNSPECIFIED" else "object"
        if node.get("nullable") is True:
            out["type"] = [out["type"], "null"]
    return out


def _tool_choice(value: Any, has_tools: bool) -> ToolChoice | None:
    config = optional_dict(value, "toolConfig")
    calling = optional_dict((config or {}).get("functionCallingConfig"), "toolConfig.functionCallingConfig")
    if calling is None or not has_tools:
        return None
    mode = (optional_str(calling.get("mode"), "toolConfig.functionCallingConfig.mode") or "AUTO").upper()
    if mode not in _MODES:
        raise InvalidRequest(f"toolConfig.functionCallingConfig.mode: unknown mode {mode!r}")
    allowed = expect_list(
        calling.get("allowedFunctionNames", []), "toolConfig.functionCallingConfig.allowedFunctionNames"
    )
    if mode == "ANY" and len(allowed) == 1:
        return ToolChoice(type="tool", name=expect_str(allowed[0], "allowedFunctionNames[0]"))
    return ToolChoice(type=_MODES[mode])  # type: ignore[arg-type]
