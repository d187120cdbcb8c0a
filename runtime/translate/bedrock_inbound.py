"""A Bedrock client's request (Converse, or InvokeModel with a Claude body) -> canonical, and the answers back.

Converse is the mirror of ``bedrock.build_request`` / ``parse_response`` (the provider side). InvokeModel for
Claude carries an Anthropic Messages body (``anthropic_version``, betas in ``anthropic_beta``, no model or
stream: the URL says them), so it is read with the Anthropic translators. Errors have Bedrock's shape: a
``message`` with the exception name in ``__type`` (botocore reads it there) for statuses botocore maps.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from bifrostc.runtime.errors import GatewayError, InvalidRequest
from bifrostc.runtime.translate import anthropic
from bifrostc.runtime.translate.common import (
    SOURCE,
    expect_dict,
    expect_list,
    expect_str,
    optional_dict,
    optional_int,
    optional_number,
    optional_str,
)
from bifrostc.runtime.types import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    Part,
    StopReason,
    TextPart,
    Thinking,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

EPHEMERAL = {"type": "ephemeral"}
_STOP: dict[str, str] = {"refusal": "content_filtered", "pause_turn": "end_turn"}
EXCEPTIONS = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    415: "ValidationException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    503: "ServiceUnavailableException",
    529: "ServiceUnavailableException",
}
STREAM_EXCEPTIONS = {  # a failure after the stream began, as ConverseStream / InvokeModelWithResponseStream send it
    400: "validationException",
    424: "modelStreamErrorException",
    429: "throttlingException",
    503: "serviceUnavailableException",
    529: "serviceUnavailableException",
}


def exception_name(status: int) -> str:
    return EXCEPTIONS.get(status, "InternalServerException" if status >= 500 else "ValidationException")


def stream_exception_name(status: int) -> str:
    return STREAM_EXCEPTIONS.get(status, "internalServerException")


def error_body(exc: GatewayError) -> dict[str, Any]:
    return {"message": exc.message, "__type": exception_name(exc.status)}


# --- InvokeModel (Claude's Messages body) ----------------------------------------------------------


def parse_invoke(body: dict[str, Any], *, model: str, stream: bool) -> ChatRequest:
    messages_body = {k: v for k, v in body.items() if k not in ("anthropic_version", "anthropic_beta")}
    return anthropic.parse_request({**messages_body, "model": model, "stream": stream})


# --- Converse ------------------------------------------------------------------------------------


def parse_converse(body: dict[str, Any], *, model: str, stream: bool) -> ChatRequest:
    inference = optional_dict(body.get("inferenceConfig"), "inferenceConfig") or {}
    stops = expect_list(inference.get("stopSequences", []), "inferenceConfig.stopSequences")
    request = ChatRequest(
        model=model,
        messages=[_message(m, f"messages[{i}]") for i, m in enumerate(expect_list(body.get("messages"), "messages"))],
        system=_system(body.get("system")),
        max_tokens=optional_int(inference.get("maxTokens"), "inferenceConfig.maxTokens", minimum=1),
        temperature=optional_number(inference.get("temperature"), "inferenceConfig.temperature"),
        top_p=optional_number(inference.get("topP"), "inferenceConfig.topP"),
        stop=[expect_str(s, f"inferenceConfig.stopSequences[{i}]") for i, s in enumerate(stops)],
        stream=stream,
        extra={SOURCE: "bedrock"},
    )
    _tool_config(request, optional_dict(body.get("toolConfig"), "toolConfig"))
    extra = optional_dict(body.get("additionalModelRequestFields"), "additionalModelRequestFields") or {}
    request.top_k = optional_int(extra.get("top_k"), "additionalModelRequestFields.top_k", minimum=1)
    thinking = optional_dict(extra.get("thinking"), "additionalModelRequestFields.thinking")
    if thinking is not None:
        kind = optional_str(thinking.get("type"), "additionalModelRequestFields.thinking.type") or "enabled"
        if kind not in ("enabled", "adaptive", "disabled"):
            raise InvalidRequest(f"additionalModelRequestFields.thinking.type: unknown type {kind!r}")
        budget = optional_int(thinking.get("budget_tokens"), "additionalModelRequestFields.thinking.budget_tokens")
        request.thinking = Thinking(type=kind, budget_tokens=budget)  # type: ignore[arg-type]
    return request


def _system(value: Any) -> list[TextPart]:
    system: list[TextPart] = []
    for i, raw in enumerate(expect_list(value or [], "system")):
        block = expect_dict(raw, f"system[{i}]")
        if "cachePoint" in block and system:
            system[-1].cache_control = dict(EPHEMERAL)
        elif "text" in block:
            system.append(TextPart(text=expect_str(block["text"], f"system[{i}].text")))
    return system


def _message(raw: Any, where: str) -> Message:
    message = expect_dict(raw, where)
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise InvalidRequest(f"{where}.role: expected 'user' or 'assistant', got {role!r}")
    parts: list[Part] = []
    for i, block in enumerate(expect_list(message.get("content"), f"{where}.content")):
        at = f"{where}.content[{i}]"
        block = expect_dict(block, at)
        if "cachePoint" in block:
            last = parts[-1] if parts else None
            if isinstance(last, TextPart | ImagePart | ToolCallPart | ToolResultPart):
                last.cache_control = dict(EPHEMERAL)
            continue
        part = _block(block, at)
        if part is not None:
            parts.append(part)
    return Message(role=role, content=parts)


def _block(block: dict[str, Any], at: str) -> Part | None:
    if "text" in block:
        return TextPart(text=expect_str(block["text"], f"{at}.text"))
    if "image" in block:
        return _image(expect_dict(block["image"], f"{at}.image"), f"{at}.image")
    if "toolUse" in block:
        use = expect_dict(block["toolUse"], f"{at}.toolUse")
        arguments = json.dumps(use.get("input", {}))
        name = expect_str(use.get("name"), f"{at}.toolUse.name")
        return ToolCallPart(
            id=expect_str(use.get("toolUseId"), f"{at}.toolUse.toolUseId"), name=name, arguments=arguments
        )
    if "toolResult" in block:
        result = expect_dict(block["toolResult"], f"{at}.toolResult")
        content: list[TextPart | ImagePart] = []
        for j, item in enumerate(expect_list(result.get("content", []), f"{at}.toolResult.content")):
            item = expect_dict(item, f"{at}.toolResult.content[{j}]")
            if "text" in item:
                content.append(TextPart(text=expect_str(item["text"], f"{at}.toolResult.content[{j}].text")))
            elif "json" in item:
                content.append(TextPart(text=json.dumps(item["json"])))
            elif "image" in item:
                content.append(_image(expect_dict(item["image"], f"{at}.toolResult.content[{j}].image"), at))
        call_id = expect_str(result.get("toolUseId"), f"{at}.toolResult.toolUseId")
        return ToolResultPart(tool_call_id=call_id, content=content, is_error=result.get("status") == "error")
    if "reasoningContent" in block:
        reasoning = expect_dict(block["reasoningContent"], f"{at}.reasoningContent")
        if "redactedContent" in reasoning:
            data = expect_str(reasoning["redactedContent"], f"{at}.reasoningContent.redactedContent")
            return ThinkingPart(thinking="", redacted_data=data)
        text = optional_dict(reasoning.get("reasoningText"), f"{at}.reasoningContent.reasoningText") or {}
        signature = optional_str(text.get("signature"), f"{at}.reasoningContent.reasoningText.signature")
        thinking = optional_str(text.get("text"), f"{at}.reasoningContent.reasoningText.text") or ""
        return ThinkingPart(thinking=thinking, signature=signature)
    return None  # documents, videos, guard content: no canonical form


def _image(image: dict[str, Any], at: str) -> ImagePart:
    source = expect_dict(image.get("source"), f"{at}.source")
    data = expect_str(source.get("bytes"), f"{at}.source.bytes")
    image_format = optional_str(image.get("format"), f"{at}.format") or "png"
    return ImagePart(media_type=f"image/{image_format}", data=data)


def _tool_config(request: ChatRequest, config: dict[str, Any] | None) -> None:
    if config is None:
        return
    for i, raw in enumerate(expect_list(config.get("tools", []), "toolConfig.tools")):
        entry = expect_dict(raw, f"toolConfig.tools[{i}]")
        if "cachePoint" in entry and request.tools:
            request.tools[-1].cache_control = dict(EPHEMERAL)
            continue
        spec = expect_dict(entry.get("toolSpec"), f"toolConfig.tools[{i}].toolSpec")
        schema = optional_dict(spec.get("inputSchema"), f"toolConfig.tools[{i}].toolSpec.inputSchema") or {}
        parameters = optional_dict(schema.get("json"), f"toolConfig.tools[{i}].toolSpec.inputSchema.json")
        request.tools.append(
            Tool(
                name=expect_str(spec.get("name"), f"toolConfig.tools[{i}].toolSpec.name"),
                description=optional_str(spec.get("description"), f"toolConfig.tools[{i}].toolSpec.description"),
                parameters=parameters or {"type": "object", "properties": {}},
            )
        )
    choice = optional_dict(config.get("toolChoice"), "toolConfig.toolChoice")
    if choice:
        kind: Literal["auto", "any", "tool"] = "tool" if "tool" in choice else "any" if "any" in choice else "auto"
        name = optional_str((optional_dict(choice.get("tool"), "toolConfig.toolChoice.tool") or {}).get("name"), "name")
        request.tool_choice = ToolChoice(type=kind, name=name)


def stop_reason(stop: StopReason | None) -> str:
    return _STOP.get(stop or "end_turn", stop or "end_turn")


def usage_body(usage: Usage) -> dict[str, int]:
    body = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
    }
    if usage.cache_read_tokens:
        body["cacheReadInputTokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        body["cacheWriteInputTokens"] = usage.cache_write_tokens
    return body


def content_block(part: Part) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ToolCallPart):
        try:
            arguments = json.loads(part.arguments) if part.arguments.strip() else {}
        except json.JSONDecodeError:
            arguments = {}
        return {"toolUse": {"toolUseId": part.id, "name": part.name, "input": arguments}}
    if isinstance(part, ThinkingPart):
        if part.redacted_data:
            return {"reasoningContent": {"redactedContent": part.redacted_data}}
        text: dict[str, Any] = {"text": part.thinking}
        if part.signature:
            text["signature"] = part.signature
        return {"reasoningContent": {"reasoningText": text}}
    return None


def build_converse_response(response: ChatResponse) -> dict[str, Any]:
    content = [block for part in response.content if (block := content_block(part)) is not None]
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(response.stop_reason),
        "usage": usage_body(response.usage),
        "metrics": {"latencyMs": 0},
    }
    if response.stop_sequence:
        body["additionalModelResponseFields"] = {"stop_sequence": response.stop_sequence}
    return body
