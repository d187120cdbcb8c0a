"""Anthropic Messages dialect: requests, responses, streams and errors <-> canonical types. Pure, no I/O."""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.errors import GatewayError, InvalidRequest, UpstreamError
from bifrostc.runtime.translate.anthropic_content import build_block, parse_block
from bifrostc.runtime.translate.anthropic_request import build_request, parse_request, tool_count
from bifrostc.runtime.translate.anthropic_stream import (
    StreamEncoder,
    StreamParser,
    usage_from_anthropic,
    usage_to_anthropic,
)
from bifrostc.runtime.translate.common import stop_from_anthropic
from bifrostc.runtime.types import ChatResponse, ImagePart, Part, ToolResultPart

__all__ = [
    "StreamEncoder",
    "StreamParser",
    "build_request",
    "build_response",
    "error_body",
    "parse_request",
    "parse_response",
    "tool_count",
]


def parse_response(body: dict[str, Any]) -> ChatResponse:
    """An upstream Messages response; a body that is not one is an UpstreamError (502)."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise UpstreamError("Anthropic upstream returned a malformed message", status=502)
    content: list[Part] = []
    for i, block in enumerate(body["content"]):
        try:
            part = parse_block(block, f"content[{i}]") if isinstance(block, dict) else None
        except InvalidRequest as exc:
            raise UpstreamError(f"Anthropic upstream returned a malformed block: {exc.message}", status=502) from exc
        if part is not None:
            content.append(part)
    return ChatResponse(
        id=str(body.get("id", "")),
        model=str(body.get("model", "")),
        content=content,
        stop_reason=stop_from_anthropic(body.get("stop_reason")),
        stop_sequence=body.get("stop_sequence"),
        usage=usage_from_anthropic(body.get("usage")),
    )


def build_response(resp: ChatResponse) -> dict[str, Any]:
    return {
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": [_response_block(p) for p in resp.content if not isinstance(p, ImagePart | ToolResultPart)],
        "stop_reason": resp.stop_reason,
        "stop_sequence": resp.stop_sequence,
        "usage": usage_to_anthropic(resp.usage),
    }


def _response_block(part: Part) -> dict[str, Any]:
    block = build_block(part)
    block.pop("cache_control", None)  # request-only field
    return block


def error_body(exc: GatewayError) -> dict[str, Any]:
    if exc.envelope is not None:  # an Anthropic upstream's own error body reaches the client unchanged
        return exc.envelope
    return {"type": "error", "error": {"type": exc.anthropic_type, "message": exc.message}}
