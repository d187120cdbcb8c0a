"""Canonical <-> Gemini ``generateContent`` (Gemini API and Vertex AI share this wire format).

Two mismatches with the canonical model are bridged here:

* Gemini function calls carry no id. We synthesise a stable one (``toolu_gm…``, a hash of response id,
  position, name and arguments) and, on the way back, find a tool result's function name from the call with
  that id earlier in the conversation. Synthetic ids are never sent to Gemini; real ids (when Gemini sends
  one) are passed through.
* ``thoughtSignature`` may sit on any part. A signature on a non-thought part becomes an empty
  ``ThinkingPart`` carrying only the signature, placed just before that part; building a request re-attaches
  it to the following part, so multi-turn tool loops keep Gemini's reasoning state.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from bifrostc.runtime.translate.gemini_schema import clean_schema
from bifrostc.runtime.translate.signatures import GEMINI_SKIP_VALIDATOR, mark, native
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

SYNTHETIC_ID_PREFIX = "toolu_gm"
_GEMINI_GENERATION = re.compile(r"gemini-(\d+)")
_EFFORT_BUDGET = {"low": 1024, "medium": 8192, "high": 24576}
_FINISH_REASON: dict[str, StopReason] = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "refusal",
    "RECITATION": "refusal",
    "BLOCKLIST": "refusal",
    "PROHIBITED_CONTENT": "refusal",
    "SPII": "refusal",
    "IMAGE_SAFETY": "refusal",
}


# --- request -----------------------------------------------------------------------------------------


def build_request(req: ChatRequest, *, model: str = "") -> dict[str, Any]:
    """Build a ``generateContent`` body (the model goes in the URL; ``model`` only selects Gemini 3 rules)."""
    body: dict[str, Any] = {"contents": build_contents(req.messages)}
    if _requires_call_signatures(model):
        _sign_unsigned_calls(body["contents"])
    if req.system:
        body["systemInstruction"] = {"parts": [{"text": part.text} for part in req.system]}
    if req.tools:
        body["tools"] = [{"functionDeclarations": [_function_declaration(tool) for tool in req.tools]}]
    tool_config = _tool_config(req)
    if tool_config:
        body["toolConfig"] = tool_config
    generation = _generation_config(req)
    if generation:
        body["generationConfig"] = generation
    return body


def build_contents(messages: list[Message]) -> list[dict[str, Any]]:
    """Map messages to ``contents``, merging consecutive turns of the same role as Gemini expects."""
    call_names = {part.id: part.name for msg in messages for part in msg.content if isinstance(part, ToolCallPart)}
    contents: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":
            continue
        role = "model" if msg.role == "assistant" else "user"
        parts = _build_parts(msg.content, call_names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def signs_parts(model: str) -> bool:
    """Gemini 3 and later sign parts (calls, and the last text part) and check call signatures."""
    return _requires_call_signatures(model)


def _requires_call_signatures(model: str) -> bool:
    found = _GEMINI_GENERATION.search(model)
    return found is not None and int(found.group(1)) >= 3


def _sign_unsigned_calls(contents: list[dict[str, Any]]) -> None:
    """Gemini 3 refuses a current-turn model turn whose first functionCall has no signature (history another
    model served, or an OpenAI client that cannot carry one); Google documents a sentinel for exactly that."""
    start = 0
    for i, content in enumerate(contents):  # the current turn begins after the last user text turn
        if content["role"] == "user" and not any("functionResponse" in part for part in content["parts"]):
            start = i + 1
    for content in contents[start:]:
        calls = [part for part in content["parts"] if "functionCall" in part] if content["role"] == "model" else []
        if calls and "thoughtSignature" not in calls[0]:
            calls[0]["thoughtSignature"] = GEMINI_SKIP_VALIDATOR


def _build_parts(content: list[Part], call_names: dict[str, str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    pending_signature: str | None = None
    for part in content:
        if isinstance(part, ThinkingPart):
            signature = native("gemini", part.signature)  # another family's signature would be "corrupted"
            if part.thinking:
                built = {"text": part.thinking, "thought": True}
                if signature:
                    built["thoughtSignature"] = signature
                parts.append(built)
            elif signature:
                pending_signature = signature
            continue
        built_parts = _build_part(part, call_names)
        if pending_signature and built_parts:
            built_parts[0]["thoughtSignature"] = pending_signature
            pending_signature = None
        parts.extend(built_parts)
    return parts


def _build_part(part: Part, call_names: dict[str, str]) -> list[dict[str, Any]]:
    if isinstance(part, TextPart):
        return [{"text": part.text}] if part.text else []
    if isinstance(part, ImagePart):
        return [_image_part(part)]
    if isinstance(part, ToolCallPart):
        call: dict[str, Any] = {"name": part.name, "args": _parse_arguments(part.arguments)}
        if not part.id.startswith(SYNTHETIC_ID_PREFIX):
            call["id"] = part.id
        return [{"functionCall": call}]
    if isinstance(part, ToolResultPart):
        return _tool_result_parts(part, call_names)
    return []


def _image_part(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data}}
    return {"fileData": {"mimeType": part.media_type or "image/png", "fileUri": part.url or ""}}


def _tool_result_parts(part: ToolResultPart, call_names: dict[str, str]) -> list[dict[str, Any]]:
    text = "".join(item.text for item in part.content if isinstance(item, TextPart))
    response: dict[str, Any] = {"error": text} if part.is_error else {"output": text}
    function_response: dict[str, Any] = {"name": call_names.get(part.tool_call_id, part.tool_call_id)}
    if not part.tool_call_id.startswith(SYNTHETIC_ID_PREFIX):
        function_response["id"] = part.tool_call_id
    function_response["response"] = response
    images = [_image_part(item) for item in part.content if isinstance(item, ImagePart)]
    return [{"functionResponse": function_response}, *images]


def _parse_arguments(arguments: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _function_declaration(tool: Any) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    schema = clean_schema(tool.parameters)
    if schema.get("properties") or schema.get("type", "object") != "object":
        declaration["parameters"] = schema  # Gemini rejects an OBJECT schema with no properties
    return declaration


def _tool_config(req: ChatRequest) -> dict[str, Any] | None:
    choice = req.tool_choice
    if choice is None or not req.tools:
        return None
    if choice.type == "tool" and choice.name:
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice.name]}}
    mode = {"auto": "AUTO", "any": "ANY", "none": "NONE"}.get(choice.type, "AUTO")
    return {"functionCallingConfig": {"mode": mode}}


def _generation_config(req: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    fields = {
        "maxOutputTokens": req.max_tokens,
        "temperature": req.temperature,
        "topP": req.top_p,
        "topK": req.top_k,
        "stopSequences": req.stop or None,
    }
    config.update({key: value for key, value in fields.items() if value is not None})
    thinking = _thinking_config(req)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _thinking_config(req: ChatRequest) -> dict[str, Any] | None:
    if req.thinking is not None:
        if req.thinking.type == "disabled":
            return {"thinkingBudget": 0}
        if req.thinking.type == "adaptive" or req.thinking.budget_tokens is None:
            return {"thinkingBudget": -1, "includeThoughts": True}  # -1: dynamic budget
        return {"thinkingBudget": req.thinking.budget_tokens, "includeThoughts": True}
    if req.reasoning_effort in _EFFORT_BUDGET:
        return {"thinkingBudget": _EFFORT_BUDGET[req.reasoning_effort], "includeThoughts": True}
    return None


# --- response ----------------------------------------------------------------------------------------


def synthetic_tool_id(response_id: str, position: int, name: str, args: Any) -> str:
    """A stable tool-use id for a Gemini function call (same call, same id, streamed or not)."""
    seed = f"{response_id}\x00{position}\x00{name}\x00{json.dumps(args, sort_keys=True)}"
    return SYNTHETIC_ID_PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:24]


def parse_response(body: dict[str, Any], *, model: str = "") -> ChatResponse:
    candidate = (body.get("candidates") or [{}])[0]
    response_id = body.get("responseId") or "gemini"
    content: list[Part] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        content.extend(parse_part(part, response_id, _count_calls(content)))
    content = _signature_before_text(content)
    has_calls = any(isinstance(part, ToolCallPart) for part in content)
    return ChatResponse(
        id=f"msg_{response_id}",
        model=body.get("modelVersion") or model,
        content=content,
        stop_reason=map_finish_reason(candidate.get("finishReason"), has_calls),
        usage=parse_usage(body.get("usageMetadata") or {}),
    )


def _signature_before_text(content: list[Part]) -> list[Part]:
    """A signature on an empty last part (Gemini 3 signs the answer so) goes before the text run it closes: the
    text stays the last block a client shows, and the request builder hands the signature back on that text."""
    out: list[Part] = []
    for index, part in enumerate(content):
        following = content[index + 1] if index + 1 < len(content) else None
        signs_call = isinstance(following, ToolCallPart)  # a call's signature stays right before the call
        if isinstance(part, ThinkingPart) and not part.thinking and part.signature and out and not signs_call:
            start = len(out)
            while start and isinstance(out[start - 1], TextPart):
                start -= 1
            out.insert(start, part)
            continue
        out.append(part)
    return out


def _count_calls(content: list[Part]) -> int:
    return sum(1 for part in content if isinstance(part, ToolCallPart))


def parse_part(part: dict[str, Any], response_id: str, call_position: int) -> list[Part]:
    """One Gemini part -> canonical parts (a signature on a non-thought part yields a leading ThinkingPart)."""
    signature = part.get("thoughtSignature")
    if signature:
        signature = mark("gemini", signature)  # so no other family is ever sent it (see signatures.py)
    if part.get("thought"):
        return [ThinkingPart(thinking=part.get("text", ""), signature=signature)]
    parsed: list[Part] = [ThinkingPart(thinking="", signature=signature)] if signature else []
    if part.get("text"):
        parsed.append(TextPart(text=part["text"]))
    elif "functionCall" in part:
        call = part["functionCall"]
        args = call.get("args") or {}
        call_id = call.get("id") or synthetic_tool_id(response_id, call_position, call.get("name", ""), args)
        parsed.append(ToolCallPart(id=call_id, name=call.get("name", ""), arguments=json.dumps(args)))
    elif "inlineData" in part:
        inline = part["inlineData"]
        parsed.append(ImagePart(media_type=inline.get("mimeType"), data=inline.get("data")))
    return parsed


def map_finish_reason(reason: str | None, has_tool_calls: bool) -> StopReason | None:
    if reason is None:
        return None
    if has_tool_calls and reason == "STOP":
        return "tool_use"
    return _FINISH_REASON.get(reason, "end_turn")


def parse_usage(meta: dict[str, Any]) -> Usage:
    """``promptTokenCount`` includes cached tokens; thoughts are billed as output, as Anthropic counts them."""
    cached = int(meta.get("cachedContentTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=max(int(meta.get("promptTokenCount") or 0) - cached, 0),
        output_tokens=int(meta.get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )
