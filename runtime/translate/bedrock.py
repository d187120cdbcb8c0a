"""Canonical <-> Amazon Bedrock Converse (``/model/{modelId}/converse``).

Converse is the one Bedrock API that speaks tools, reasoning, usage and prompt caching uniformly across
model families, so the adapter uses it for every model (Claude included). Anthropic-only knobs (extended
thinking, top_k) go through ``additionalModelRequestFields`` and only for Anthropic model ids.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate.signatures import native
from bifrostc.runtime.types import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    Part,
    StopReason,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

CACHE_POINT = {"cachePoint": {"type": "default"}}
_STOP_REASON: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "max_tokens",
}
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}

# Friendly names -> Bedrock base model ids; an inference-profile prefix (us./eu./apac.) is added per region.
MODEL_IDS: dict[str, str] = {
    "claude-opus-4-5": "anthropic.claude-opus-4-5-20251101-v1:0",
    "claude-opus-4-1": "anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-opus-4": "anthropic.claude-opus-4-20250514-v1:0",
    "claude-sonnet-4-5": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-sonnet-4": "anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-haiku-4-5": "anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-3-7-sonnet": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "claude-3-5-haiku": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "nova-premier": "amazon.nova-premier-v1:0",
    "nova-pro": "amazon.nova-pro-v1:0",
    "nova-lite": "amazon.nova-lite-v1:0",
    "nova-micro": "amazon.nova-micro-v1:0",
}
_DATED_CLAUDE = re.compile(r"^claude-[a-z0-9-]+-\d{8}$")


def resolve_model_id(model: str, region: str) -> str:
    """Map a friendly name to a cross-region inference profile id; full ids and ARNs pass through."""
    if model.startswith("arn:") or "." in model or ":" in model:
        return model
    base = MODEL_IDS.get(model)
    if base is None and _DATED_CLAUDE.match(model):
        base = f"anthropic.{model}-v1:0"
    if base is None:
        return model
    return f"{_geography(region)}.{base}"


def _geography(region: str) -> str:
    if region.startswith("eu-"):
        return "eu"
    if region.startswith("ap-"):
        return "apac"
    return "us"


def is_anthropic(model_id: str) -> bool:
    return "anthropic." in model_id or "claude" in model_id


def supports_cache_points(model_id: str) -> bool:
    return is_anthropic(model_id) or "amazon.nova" in model_id


# --- request -----------------------------------------------------------------------------------------


def build_request(req: ChatRequest, *, model: str) -> dict[str, Any]:
    """Converse body (``modelId`` travels in the URL). ``model`` is the resolved Bedrock model id."""
    caching = supports_cache_points(model)
    body: dict[str, Any] = {"messages": build_messages(req.messages, caching=caching)}
    if req.system:
        body["system"] = _with_cache_points(
            [({"text": part.text}, part.cache_control) for part in req.system if part.text], caching
        )
    inference = {
        "maxTokens": req.max_tokens,
        "temperature": req.temperature,
        "topP": req.top_p,
        "stopSequences": req.stop or None,
    }
    inference = {key: value for key, value in inference.items() if value is not None}
    if inference:
        body["inferenceConfig"] = inference
    if req.tools:
        body["toolConfig"] = _tool_config(req, caching)
    elif _history_tool_names(req.messages):
        # Converse rejects toolUse/toolResult blocks without a toolConfig (agents send tool-less follow-ups,
        # e.g. summaries, over a tool-using history), so declare the tools the history names.
        specs = [_tool_spec(Tool(name)) for name in _history_tool_names(req.messages)]
        body["toolConfig"] = {"tools": specs}
    additional = _additional_fields(req, model)
    if "thinking" in additional and _opens_without_reasoning(body["messages"]):
        del additional["thinking"]  # the tool loop in progress began on a model without Claude thinking
    if additional:
        body["additionalModelRequestFields"] = additional
    return body


def build_messages(messages: list[Message], *, caching: bool) -> list[dict[str, Any]]:
    """Converse needs strictly alternating roles, so consecutive same-role turns are merged."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":
            continue
        blocks = _with_cache_points([pair for part in msg.content for pair in _content_block(part)], caching)
        if not blocks:
            continue
        if out and out[-1]["role"] == msg.role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": msg.role, "content": blocks})
    return out


def _with_cache_points(
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]], caching: bool
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block, cache_control in pairs:
        blocks.append(block)
        if caching and cache_control:
            blocks.append(dict(CACHE_POINT))
    return blocks


def _content_block(part: Part) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    if isinstance(part, TextPart):
        return [({"text": part.text}, part.cache_control)] if part.text else []
    if isinstance(part, ImagePart):
        return [(_image_block(part), part.cache_control)]
    if isinstance(part, ThinkingPart):
        return _reasoning_block(part)
    if isinstance(part, ToolCallPart):
        block = {"toolUse": {"toolUseId": part.id, "name": part.name, "input": _parse_arguments(part.arguments)}}
        return [(block, part.cache_control)]
    if isinstance(part, ToolResultPart):
        return [(_tool_result_block(part), part.cache_control)]
    return []


def _reasoning_block(part: ThinkingPart) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    if part.redacted_data:
        return [({"reasoningContent": {"redactedContent": part.redacted_data}}, None)]
    signature = native("claude", part.signature)
    if signature is None:
        return []  # reasoning another model family produced would be rejected; drop it
    return [({"reasoningContent": {"reasoningText": {"text": part.thinking, "signature": signature}}}, None)]


def _image_block(part: ImagePart) -> dict[str, Any]:
    if part.data is None:
        raise InvalidRequest("Bedrock Converse accepts images only as inline base64 data, not URLs")
    image_format = _IMAGE_FORMATS.get((part.media_type or "image/png").lower(), "png")
    return {"image": {"format": image_format, "source": {"bytes": part.data}}}


def _tool_result_block(part: ToolResultPart) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for item in part.content:
        if isinstance(item, TextPart) and item.text:
            content.append({"text": item.text})
        elif isinstance(item, ImagePart):
            content.append(_image_block(item))
    result: dict[str, Any] = {"toolUseId": part.tool_call_id, "content": content or [{"text": ""}]}
    if part.is_error:
        result["status"] = "error"
    return {"toolResult": result}


def _parse_arguments(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        return {"_raw": arguments}


def _tool_config(req: ChatRequest, caching: bool) -> dict[str, Any]:
    tools = _with_cache_points([(_tool_spec(tool), tool.cache_control) for tool in req.tools], caching)
    config: dict[str, Any] = {"tools": tools}
    choice = req.tool_choice
    if choice is not None and choice.type == "tool" and choice.name:
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice is not None and choice.type in ("auto", "any"):
        config["toolChoice"] = {choice.type: {}}
    return config  # "none" has no Converse equivalent; the tools stay so tool blocks in history remain valid


def _history_tool_names(messages: list[Message]) -> list[str]:
    names = [part.name for msg in messages for part in msg.content if isinstance(part, ToolCallPart)]
    return sorted(set(names))


def _tool_spec(tool: Tool) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
    if tool.description:
        spec["description"] = tool.description
    return {"toolSpec": spec}


def _opens_without_reasoning(messages: list[dict[str, Any]]) -> bool:
    """Claude's rule in Converse terms: the last assistant turn holds toolUse but does not open with reasoning."""
    for message in reversed(messages):
        if message["role"] != "assistant":
            continue
        content = message["content"]
        uses_tools = any("toolUse" in block for block in content)
        return uses_tools and not (content and "reasoningContent" in content[0])
    return False


def _additional_fields(req: ChatRequest, model: str) -> dict[str, Any]:
    if not is_anthropic(model):
        return {}
    fields: dict[str, Any] = {}
    if req.top_k is not None:
        fields["top_k"] = req.top_k
    if req.thinking is not None and req.thinking.type != "disabled":
        if req.thinking.type == "adaptive":
            fields["thinking"] = {"type": "adaptive"}
        else:
            fields["thinking"] = {"type": "enabled", "budget_tokens": req.thinking.budget_tokens or 1024}
    return fields


# --- response ----------------------------------------------------------------------------------------


def parse_response(body: dict[str, Any], *, model: str, response_id: str = "") -> ChatResponse:
    message = (body.get("output") or {}).get("message") or {}
    content = [part for block in message.get("content") or [] if (part := parse_block(block)) is not None]
    extra = body.get("additionalModelResponseFields") or {}
    return ChatResponse(
        id=f"msg_{response_id or 'bedrock'}",
        model=model,
        content=content,
        stop_reason=map_stop_reason(body.get("stopReason")),
        stop_sequence=extra.get("stop_sequence") if isinstance(extra, dict) else None,
        usage=parse_usage(body.get("usage") or {}),
    )


def parse_block(block: dict[str, Any]) -> Part | None:
    if "text" in block:
        return TextPart(text=block["text"])
    if "toolUse" in block:
        tool = block["toolUse"]
        return ToolCallPart(id=tool["toolUseId"], name=tool["name"], arguments=json.dumps(tool.get("input", {})))
    if "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        if "redactedContent" in reasoning:
            return ThinkingPart(thinking="", redacted_data=reasoning["redactedContent"])
        text = reasoning.get("reasoningText") or {}
        return ThinkingPart(thinking=text.get("text", ""), signature=text.get("signature"))
    return None


def map_stop_reason(reason: str | None) -> StopReason | None:
    if reason is None:
        return None
    return _STOP_REASON.get(reason, "end_turn")


def parse_usage(usage: dict[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(usage.get("inputTokens") or 0),
        output_tokens=int(usage.get("outputTokens") or 0),
        cache_read_tokens=int(usage.get("cacheReadInputTokens") or 0),
        cache_write_tokens=int(usage.get("cacheWriteInputTokens") or 0),
    )
