"""ChatResponse <-> bytes with orjson. Parts carry a ``type`` tag so the union decodes back exactly."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from bifrostc.runtime.types import (
    ChatResponse,
    ImagePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

_PART_TYPES: dict[str, type] = {
    "text": TextPart,
    "image": ImagePart,
    "thinking": ThinkingPart,
    "tool_call": ToolCallPart,
    "tool_result": ToolResultPart,
}
_TAGS = {cls: tag for tag, cls in _PART_TYPES.items()}


def _encode_part(part: Part) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _TAGS[type(part)]}
    for f in dataclasses.fields(part):
        value = getattr(part, f.name)
        if isinstance(part, ToolResultPart) and f.name == "content":
            value = [_encode_part(item) for item in part.content]
        out[f.name] = value
    return out


def _decode_part(data: dict[str, Any]) -> Part:
    fields = dict(data)
    cls = _PART_TYPES[fields.pop("type")]
    if cls is ToolResultPart:
        fields["content"] = [_decode_part(item) for item in fields["content"]]
    part: Part = cls(**fields)
    return part


def encode_response(resp: ChatResponse) -> bytes:
    return orjson.dumps(
        {
            "id": resp.id,
            "model": resp.model,
            "content": [_encode_part(p) for p in resp.content],
            "stop_reason": resp.stop_reason,
            "stop_sequence": resp.stop_sequence,
            "usage": dataclasses.asdict(resp.usage),
        }
    )


def decode_response(raw: bytes) -> ChatResponse:
    data = orjson.loads(raw)
    return ChatResponse(
        id=data["id"],
        model=data["model"],
        content=[_decode_part(p) for p in data["content"]],
        stop_reason=data["stop_reason"],
        stop_sequence=data["stop_sequence"],
        usage=Usage(**data["usage"]),
    )
