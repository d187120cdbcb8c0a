"""Anthropic Messages streaming: upstream SSE events -> canonical events, canonical events -> client SSE bytes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from bifrostc.runtime.translate.common import anthropic_tool_id, stop_from_anthropic
from bifrostc.runtime.translate.sequencer import BlockSequencer
from bifrostc.runtime.translate.sse import encode_frame
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    StopReason,
    StreamError,
    StreamEvent,
    Usage,
)

_DELTA_KINDS = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
    "input_json_delta": ("arguments", "partial_json"),
}
_BLOCK_TYPES = frozenset({"text", "thinking", "redacted_thinking", "tool_use"})


def usage_from_anthropic(raw: object, base: Usage | None = None) -> Usage:
    """Anthropic usage (absent fields keep ``base``'s values, as message_delta only updates some); a usage that
    is not an object (a compatible host's odd reply) reads as absent."""
    usage = Usage() if base is None else replace(base)
    source = raw if isinstance(raw, dict) else {}
    for field, key in (
        ("input_tokens", "input_tokens"),
        ("output_tokens", "output_tokens"),
        ("cache_read_tokens", "cache_read_input_tokens"),
        ("cache_write_tokens", "cache_creation_input_tokens"),
    ):
        value = source.get(key)
        if isinstance(value, int):
            setattr(usage, field, value)
    return usage


def usage_to_anthropic(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }


class StreamParser:
    """Anthropic upstream events -> canonical events. Blocks the canonical model cannot carry (server tool use
    and results) are skipped and the remaining block indexes renumbered to stay contiguous."""

    def __init__(self) -> None:
        self._index_map: dict[int, int] = {}
        self._open: set[int] = set()
        self._usage = Usage()
        self._stop_reason: StopReason | None = None
        self._delta_sent = False
        self._done = False

    def feed(self, event: str, data: dict[str, Any]) -> list[StreamEvent]:
        kind = data.get("type", event)
        if self._done:
            return []
        handler = getattr(self, f"_on_{kind}", None)
        return handler(data) if handler is not None else []  # ping and unknown future events are ignored

    def finish(self) -> list[StreamEvent]:
        if self._done:
            return []
        events: list[StreamEvent] = [BlockStop(i) for i in sorted(self._open)]
        self._open.clear()
        if not self._delta_sent:
            events.append(MessageDelta(self._stop_reason or "end_turn", usage=self._usage))
        events.append(MessageStop())
        self._done = True
        return events

    def _on_message_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        message = data.get("message") or {}
        self._usage = usage_from_anthropic(message.get("usage"))
        return [MessageStart(str(message.get("id", "")), str(message.get("model", "")), self._usage)]

    def _on_content_block_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind not in _BLOCK_TYPES:
            return []
        index = len(self._index_map)
        self._index_map[data.get("index", index)] = index
        self._open.add(index)
        start = BlockStart(index, kind, id=block.get("id"), name=block.get("name"), data=block.get("data"))
        events: list[StreamEvent] = [start]
        if kind == "text" and block.get("text"):
            events.append(BlockDelta(index, "text", block["text"]))
        return events

    def _on_content_block_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        index = self._index_map.get(data.get("index", -1))
        delta = data.get("delta") or {}
        mapping = _DELTA_KINDS.get(delta.get("type", ""))
        if index is None or mapping is None:
            return []  # citations_delta and deltas of skipped blocks
        kind, key = mapping
        return [BlockDelta(index, kind, str(delta.get(key, "")))]  # type: ignore[arg-type]

    def _on_content_block_stop(self, data: dict[str, Any]) -> list[StreamEvent]:
        index = self._index_map.get(data.get("index", -1))
        if index is None or index not in self._open:
            return []
        self._open.discard(index)
        return [BlockStop(index)]

    def _on_message_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta") or {}
        self._usage = usage_from_anthropic(data.get("usage"), self._usage)
        self._stop_reason = stop_from_anthropic(delta.get("stop_reason"))
        self._delta_sent = True
        return [MessageDelta(self._stop_reason, delta.get("stop_sequence"), self._usage)]

    def _on_message_stop(self, data: dict[str, Any]) -> list[StreamEvent]:
        return self.finish()

    def _on_error(self, data: dict[str, Any]) -> list[StreamEvent]:
        error = data.get("error") or {}
        self._done = True
        status = 529 if error.get("type") == "overloaded_error" else 500
        return [StreamError(str(error.get("type", "api_error")), str(error.get("message", "")), status)]


class StreamEncoder:
    """Canonical events -> Anthropic SSE frames, exactly as the Messages API streams them."""

    def __init__(self) -> None:
        self._model = ""
        self._sequencer = BlockSequencer()

    def encode(self, event: StreamEvent) -> bytes:
        """Frames for one canonical event; interleaved blocks come out one after the other (see sequencer)."""
        if type(event) is BlockDelta and event.index == self._sequencer.live:
            middle = _DELTA_MIDDLES.get(event.kind)
            if middle is not None:  # most of a stream: the live block's deltas, without the general path's dicts
                return _DELTA_HEAD + str(event.index).encode() + middle + orjson.dumps(event.text) + _DELTA_TAIL
        return b"".join(self._encode_one(ev) for ev in self._sequencer.push(event))

    def _encode_one(self, event: StreamEvent) -> bytes:
        if isinstance(event, MessageStart):
            return self._message_start(event) + self.ping()
        if isinstance(event, BlockStart):
            return _frame("content_block_start", {"index": event.index, "content_block": _block_skeleton(event)})
        if isinstance(event, BlockDelta):
            return _frame("content_block_delta", {"index": event.index, "delta": _delta(event)})
        if isinstance(event, BlockStop):
            return _frame("content_block_stop", {"index": event.index})
        if isinstance(event, MessageDelta):
            delta = {"stop_reason": event.stop_reason, "stop_sequence": event.stop_sequence}
            return _frame("message_delta", {"delta": delta, "usage": usage_to_anthropic(event.usage)})
        if isinstance(event, MessageStop):
            return _frame("message_stop", {})
        return _frame("error", {"error": {"type": event.type, "message": event.message}})

    def ping(self) -> bytes:
        return _frame("ping", {})

    def _message_start(self, event: MessageStart) -> bytes:
        message: dict[str, Any] = {
            "id": event.id,
            "type": "message",
            "role": "assistant",
            "model": event.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_anthropic(event.usage),
        }
        return _frame("message_start", {"message": message})


# `_frame("content_block_delta", {"index": i, "delta": _delta(event)})`, byte for byte, in three pieces.
_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_DELTA_MIDDLES = {
    kind: b',"delta":{"type":"' + delta.encode() + b'","' + field.encode() + b'":'
    for kind, delta, field in (
        ("text", "text_delta", "text"),
        ("thinking", "thinking_delta", "thinking"),
        ("signature", "signature_delta", "signature"),
        ("arguments", "input_json_delta", "partial_json"),
    )
}
_DELTA_TAIL = b"}}\n\n"


def _frame(kind: str, payload: dict[str, Any]) -> bytes:
    return encode_frame({"type": kind, **payload}, event=kind)


def _block_skeleton(event: BlockStart) -> dict[str, Any]:
    if event.type == "text":
        return {"type": "text", "text": ""}
    if event.type == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    if event.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": event.data or ""}
    # Ids other providers mint (Kimi's "functions.Read:0") made Anthropic-safe, as build_response does: the client
    # sends them back, maybe to Claude.
    return {"type": "tool_use", "id": anthropic_tool_id(event.id or ""), "name": event.name or "", "input": {}}


def _delta(event: BlockDelta) -> dict[str, Any]:
    if event.kind == "text":
        return {"type": "text_delta", "text": event.text}
    if event.kind == "thinking":
        return {"type": "thinking_delta", "thinking": event.text}
    if event.kind == "signature":
        return {"type": "signature_delta", "signature": event.text}
    return {"type": "input_json_delta", "partial_json": event.text}


__all__ = ["StreamEncoder", "StreamParser", "usage_from_anthropic", "usage_to_anthropic"]
