"""OpenAI Chat Completions dialect: requests, responses, streams and errors <-> canonical types. Pure, no I/O."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bifrostc.runtime.errors import GatewayError, InvalidRequest, UpstreamError
from bifrostc.runtime.translate import reasoning_details
from bifrostc.runtime.translate.common import new_tool_id, stop_from_openai, stop_to_openai
from bifrostc.runtime.translate.openai_messages import parse_parts
from bifrostc.runtime.translate.openai_request import build_request, parse_request, tool_count, tool_name_map
from bifrostc.runtime.translate.openai_stream import StreamEncoder, StreamParser
from bifrostc.runtime.translate.openai_usage import chunk_usage, usage_from_openai, usage_to_openai
from bifrostc.runtime.types import ChatResponse, Part, TextPart, ThinkingPart, ToolCallPart

__all__ = [
    "StreamEncoder",
    "StreamParser",
    "build_request",
    "build_response",
    "error_body",
    "parse_request",
    "parse_response",
    "tool_count",
    "tool_name_map",
    "usage_from_openai",
    "usage_to_openai",
    "wants_usage",
]


def parse_response(body: dict[str, Any], *, tool_names: Mapping[str, str] | None = None) -> ChatResponse:
    """An upstream chat.completion; only the first choice is used. Malformed bodies are UpstreamError (502)."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices or not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
        raise UpstreamError("OpenAI upstream returned a completion without choices", status=502)
    message = choices[0]["message"]
    try:
        content = _message_parts(message, tool_names or {})
    except InvalidRequest as exc:
        raise UpstreamError(f"OpenAI upstream returned a malformed message: {exc.message}", status=502) from exc
    stop = stop_from_openai(choices[0].get("finish_reason")) or "end_turn"
    if stop == "end_turn" and any(isinstance(p, ToolCallPart) for p in content):
        stop = "tool_use"  # vLLM/Ollama say "stop" after tool calls; agents need tool_use
    return ChatResponse(
        id=str(body.get("id", "")),
        model=str(body.get("model", "")),
        content=content,
        stop_reason=stop,
        usage=usage_from_openai(chunk_usage(body)),
    )


def _message_parts(message: dict[str, Any], tool_names: Mapping[str, str]) -> list[Part]:
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    details = message.get("reasoning_details")
    if isinstance(details, list) and details:  # OpenRouter: kept whole for the next turn
        text = reasoning if isinstance(reasoning, str) else reasoning_details.text_of(details)
        parts.append(ThinkingPart(text, reasoning_details.to_signature(details)))
    elif isinstance(reasoning, str) and reasoning:
        parts.append(ThinkingPart(reasoning))
    parts.extend(parse_parts(message.get("content"), "message.content"))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        parts.append(TextPart(message["refusal"]))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        name = str(function.get("name", ""))
        call_id = str(call.get("id") or new_tool_id())
        parts.append(ToolCallPart(call_id, tool_names.get(name, name), arguments if isinstance(arguments, str) else ""))
    return parts


def build_response(resp: ChatResponse, *, created: int | None = None) -> dict[str, Any]:
    text = "".join(p.text for p in resp.content if isinstance(p, TextPart))
    reasoning = "".join(p.thinking for p in resp.content if isinstance(p, ThinkingPart))
    calls = [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments or "{}"}}
        for p in resp.content
        if isinstance(p, ToolCallPart)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": resp.id,
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": resp.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": stop_to_openai(resp.stop_reason) or "stop",
            }
        ],
        "usage": usage_to_openai(resp.usage),
    }


def wants_usage(body: dict[str, Any]) -> bool:
    """Whether an OpenAI client asked for the trailing usage chunk (``StreamEncoder(include_usage=...)``)."""
    options = body.get("stream_options") if isinstance(body, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


def error_body(exc: GatewayError) -> dict[str, Any]:
    return {"error": {"message": exc.message, "type": exc.openai_type, "param": None, "code": exc.openai_code}}
