"""Anthropic content blocks <-> canonical parts (shared by requests and responses)."""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate.common import (
    PDF,
    anthropic_tool_id,
    arguments_to_object,
    dumps,
    expect_dict,
    expect_list,
    expect_str,
    optional_bool,
    optional_dict,
    optional_str,
)
from bifrostc.runtime.types import ImagePart, Part, TextPart, ThinkingPart, ToolCallPart, ToolResultPart


def parse_content(content: Any, where: str) -> list[Part]:
    """A message's ``content``: a string or a list of blocks."""
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[Part] = []
    for i, block in enumerate(expect_list(content, where)):
        part = parse_block(expect_dict(block, f"{where}[{i}]"), f"{where}[{i}]")
        if part is not None:
            parts.append(part)
    return parts


def parse_block(block: dict[str, Any], where: str) -> Part | None:
    kind = block.get("type")
    cache = optional_dict(block.get("cache_control"), f"{where}.cache_control")
    if kind == "text":
        return TextPart(expect_str(block.get("text"), f"{where}.text"), cache)
    if kind in ("image", "document"):
        return _parse_source(block, where, cache)
    if kind == "thinking":
        signature = optional_str(block.get("signature"), f"{where}.signature")
        return ThinkingPart(expect_str(block.get("thinking", ""), f"{where}.thinking"), signature)
    if kind == "redacted_thinking":
        return ThinkingPart("", redacted_data=expect_str(block.get("data"), f"{where}.data"))
    if kind == "tool_use":
        tool_input = block.get("input") or {}
        return ToolCallPart(
            expect_str(block.get("id"), f"{where}.id"),
            expect_str(block.get("name"), f"{where}.name"),
            dumps(expect_dict(tool_input, f"{where}.input")),
            cache,
        )
    if kind == "tool_result":
        return _parse_tool_result(block, where, cache)
    if isinstance(kind, str):
        # Blocks the canonical model cannot carry (server tools and their results, mcp_tool_use, container_upload,
        # tool_reference...) and unknown ones: dropped (in pairs, which keeps the conversation valid).
        return None
    raise InvalidRequest(f"{where}.type: expected a content block type, got {kind!r}")


def _parse_source(block: dict[str, Any], where: str, cache: dict[str, Any] | None) -> Part | None:
    source = expect_dict(block.get("source"), f"{where}.source")
    kind = source.get("type")
    if kind == "base64":
        return ImagePart(
            media_type=expect_str(source.get("media_type"), f"{where}.source.media_type"),
            data=expect_str(source.get("data"), f"{where}.source.data"),
            cache_control=cache,
        )
    if kind == "url":
        return ImagePart(url=expect_str(source.get("url"), f"{where}.source.url"), cache_control=cache)
    if kind == "text":  # plain-text document
        return TextPart(expect_str(source.get("data"), f"{where}.source.data"), cache)
    if kind in ("file", "content"):
        return None  # Files API references and nested content documents are not translatable
    raise InvalidRequest(f"{where}.source.type: expected base64, url or text, got {kind!r}")


def _parse_tool_result(block: dict[str, Any], where: str, cache: dict[str, Any] | None) -> ToolResultPart:
    content = block.get("content", "")
    items: list[TextPart | ImagePart] = []
    if isinstance(content, str):
        items.extend([TextPart(content)] if content else [])
    else:
        for part in parse_content(content, f"{where}.content"):
            if isinstance(part, TextPart | ImagePart):
                items.append(part)
    return ToolResultPart(
        tool_call_id=expect_str(block.get("tool_use_id"), f"{where}.tool_use_id"),
        content=items,
        is_error=bool(optional_bool(block.get("is_error"), f"{where}.is_error")),
        cache_control=cache,
    )


# --- canonical -> Anthropic ------------------------------------------------------------------------


def build_block(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return _with_cache({"type": "text", "text": part.text}, part.cache_control)
    if isinstance(part, ImagePart):
        return build_image(part)
    if isinstance(part, ThinkingPart):
        if part.redacted_data is not None:
            return {"type": "redacted_thinking", "data": part.redacted_data}
        return {"type": "thinking", "thinking": part.thinking, "signature": part.signature or ""}
    if isinstance(part, ToolCallPart):
        block = {
            "type": "tool_use",
            "id": anthropic_tool_id(part.id),
            "name": part.name,
            "input": arguments_to_object(part.arguments),
        }
        return _with_cache(block, part.cache_control)
    return _build_tool_result(part)


def build_image(part: ImagePart) -> dict[str, Any]:
    if part.url is not None:
        source: dict[str, Any] = {"type": "url", "url": part.url}
    else:
        source = {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data or ""}
    kind = "document" if part.media_type == PDF else "image"
    return _with_cache({"type": kind, "source": source}, part.cache_control)


def _build_tool_result(part: ToolResultPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": anthropic_tool_id(part.tool_call_id)}
    only = part.content[0] if len(part.content) == 1 else None
    if isinstance(only, TextPart) and only.cache_control is None:
        block["content"] = only.text  # the plain form clients send; keeps passthrough byte-faithful
    elif part.content:
        block["content"] = [build_block(item) for item in part.content]
    if part.is_error:
        block["is_error"] = True
    return _with_cache(block, part.cache_control)


def _with_cache(block: dict[str, Any], cache_control: dict[str, Any] | None) -> dict[str, Any]:
    if cache_control is not None:
        block["cache_control"] = cache_control
    return block
