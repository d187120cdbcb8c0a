"""Gemini ``streamGenerateContent?alt=sse`` chunks -> canonical stream events.

Each SSE ``data:`` line is a whole ``GenerateContentResponse`` holding new parts only. Text and thought
parts arrive in pieces; a function call arrives whole, so it becomes one tool_use block with a single
arguments delta. ``usageMetadata`` is repeated (cumulative) and ``finishReason`` is on the last chunk, so
the closing MessageDelta is emitted by :meth:`StreamParser.finish`.

Gemini 3 signs the answer's last text chunk (or an empty part after it). A signature must precede the text it
belongs to (a signature-only thinking block, which the request builder re-attaches to the following text) and
the answer must stay one text block, the last one a client shows: so on a Gemini 3 stream answer text is held
until its signature arrives (then thinking block, then the text block, live from there on), a call or other
block starts, or the stream ends.
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.translate.gemini import map_finish_reason, parse_part, parse_usage, signs_parts
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    BlockType,
    ImagePart,
    MessageDelta,
    MessageStart,
    MessageStop,
    Part,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)


class StreamParser:
    def __init__(self, *, model: str = "") -> None:
        self._model = model
        self._started = False
        self._open_type: BlockType | None = None
        self._next_index = 0
        self._calls = 0
        self._finish_reason: str | None = None
        self._usage = Usage()
        self._response_id = "gemini"
        self._signs_text = signs_parts(model)
        self._held: list[str] = []  # answer text waiting for its signature (Gemini 3)

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            self._response_id = chunk.get("responseId") or self._response_id
            model = chunk.get("modelVersion") or self._model
            events.append(MessageStart(id=f"msg_{self._response_id}", model=model))
        if chunk.get("usageMetadata"):
            self._usage = parse_usage(chunk["usageMetadata"])
        candidate = (chunk.get("candidates") or [{}])[0]
        for raw in (candidate.get("content") or {}).get("parts") or []:
            parts = parse_part(raw, self._response_id, self._calls)
            head = parts[0] if parts else None
            if (
                self._signs_text
                and isinstance(head, ThinkingPart)
                and not head.thinking
                and head.signature
                and all(isinstance(p, TextPart) for p in parts[1:])
            ):
                events.extend(self._signed_text(head.signature, [p.text for p in parts[1:] if isinstance(p, TextPart)]))
                continue
            for part in parts:
                events.extend(self._part_events(part))
        if candidate.get("finishReason"):
            self._finish_reason = candidate["finishReason"]
        return events

    def finish(self) -> list[StreamEvent]:
        events: list[StreamEvent] = [*self._flush_held(), *self._close_block()]
        if self._finish_reason is None:
            events.append(StreamError(type="api_error", message="Gemini stream ended without a finishReason"))
            return events
        stop = map_finish_reason(self._finish_reason, self._calls > 0)
        events.append(MessageDelta(stop_reason=stop, usage=self._usage))
        events.append(MessageStop())
        return events

    def _part_events(self, part: Part) -> list[StreamEvent]:
        if isinstance(part, TextPart):
            if self._signs_text and self._open_type != "text":
                self._held.append(part.text)
                return self._close_block()  # the thoughts before the answer are done
            return [*self._ensure_open("text"), BlockDelta(self._next_index - 1, "text", part.text)]
        if isinstance(part, ThinkingPart):
            return [*self._flush_held(), *self._thinking_events(part)]
        if isinstance(part, ToolCallPart):
            self._calls += 1
            events = [*self._flush_held(), *self._close_block()]
            index = self._next_index
            self._next_index += 1
            return [
                *events,
                BlockStart(index, "tool_use", id=part.id, name=part.name),
                BlockDelta(index, "arguments", part.arguments),
                BlockStop(index),
            ]
        if isinstance(part, ImagePart):
            return []  # canonical streams carry no image blocks; Gemini text models do not emit them
        return []

    def _signed_text(self, signature: str, texts: list[str]) -> list[StreamEvent]:
        """The signature of the answer text held so far (plus ``texts``, the signed chunk's own): a signature-only
        thinking block, then one text block with all of it, which stays open for what follows."""
        held, self._held = "".join([*self._held, *texts]), []
        events = self._close_block()
        index = self._next_index
        self._next_index += 1
        events += [BlockStart(index, "thinking"), BlockDelta(index, "signature", signature), BlockStop(index)]
        if held:
            events += [*self._ensure_open("text"), BlockDelta(self._next_index - 1, "text", held)]
        return events

    def _flush_held(self) -> list[StreamEvent]:
        """Answer text that got no signature: one text block, as it would have streamed."""
        if not self._held:
            return []
        held, self._held = "".join(self._held), []
        return [*self._ensure_open("text"), BlockDelta(self._next_index - 1, "text", held)]

    def _thinking_events(self, part: ThinkingPart) -> list[StreamEvent]:
        if not part.thinking and part.signature:
            # A signature Gemini put on a call or text part: a block of its own right before that part, so the
            # request builder hands it back on the same part (Gemini 3 checks it there), never merged into the
            # thought text streamed before it.
            events = self._close_block()
            index = self._next_index
            self._next_index += 1
            return [
                *events,
                BlockStart(index, "thinking"),
                BlockDelta(index, "signature", part.signature),
                BlockStop(index),
            ]
        events = self._ensure_open("thinking")
        index = self._next_index - 1
        if part.thinking:
            events.append(BlockDelta(index, "thinking", part.thinking))
        if part.signature:
            events.append(BlockDelta(index, "signature", part.signature))
            events.extend(self._close_block())  # a signature ends its thinking block
        return events

    def _ensure_open(self, block_type: BlockType) -> list[StreamEvent]:
        if self._open_type == block_type:
            return []
        events = self._close_block()
        events.append(BlockStart(self._next_index, block_type))
        self._open_type = block_type
        self._next_index += 1
        return events

    def _close_block(self) -> list[StreamEvent]:
        if self._open_type is None:
            return []
        self._open_type = None
        return [BlockStop(self._next_index - 1)]
