"""Whole responses <-> canonical event streams: replay a cached or non-streamed answer as a stream, and
aggregate a stream into a response (for caching, logging and non-streaming clients of streaming upstreams)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    DeltaKind,
    MessageDelta,
    MessageStart,
    MessageStop,
    Part,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)


def response_to_events(resp: ChatResponse) -> list[StreamEvent]:
    start_usage = replace(resp.usage, output_tokens=0, reasoning_tokens=0)
    events: list[StreamEvent] = [MessageStart(resp.id, resp.model, start_usage)]
    index = 0
    for part in resp.content:
        block = _part_events(part, index)
        if block:
            events.extend(block)
            index += 1
    events.append(MessageDelta(resp.stop_reason, resp.stop_sequence, replace(resp.usage)))
    events.append(MessageStop())
    return events


def _part_events(part: Part, index: int) -> list[StreamEvent]:
    if isinstance(part, TextPart):
        return [BlockStart(index, "text"), BlockDelta(index, "text", part.text), BlockStop(index)]
    if isinstance(part, ThinkingPart):
        if part.redacted_data is not None:
            return [BlockStart(index, "redacted_thinking", data=part.redacted_data), BlockStop(index)]
        events: list[StreamEvent] = [BlockStart(index, "thinking"), BlockDelta(index, "thinking", part.thinking)]
        if part.signature:
            events.append(BlockDelta(index, "signature", part.signature))
        return [*events, BlockStop(index)]
    if isinstance(part, ToolCallPart):
        events = [BlockStart(index, "tool_use", id=part.id, name=part.name)]
        if part.arguments:
            events.append(BlockDelta(index, "arguments", part.arguments))
        return [*events, BlockStop(index)]
    return []  # images and tool results never appear in assistant output


class StreamAccumulator:
    """Builds a ChatResponse from canonical events as they pass by; raises UpstreamError on a StreamError.

    A block's deltas are kept as pieces and joined once in `result` (a string grown by `+=` on an attribute is
    copied whole at every delta: a 100 KB tool call in 10,000 deltas copied ~0.5 GB)."""

    def __init__(self) -> None:
        self.response = ChatResponse(id="", model="", content=[], stop_reason=None)
        self._parts: dict[int, Part] = {}
        self._pieces: dict[tuple[int, DeltaKind], list[str]] = {}

    def add(self, event: StreamEvent) -> None:
        if isinstance(event, MessageStart):
            self.response.id, self.response.model = event.id, event.model
            self.response.usage = replace(event.usage)
        elif isinstance(event, BlockStart):
            self._parts[event.index] = _empty_part(event)
        elif isinstance(event, BlockDelta):
            if _takes(self._parts.get(event.index), event.kind):
                self._pieces.setdefault((event.index, event.kind), []).append(event.text)
        elif isinstance(event, MessageDelta):
            self.response.stop_reason, self.response.stop_sequence = event.stop_reason, event.stop_sequence
            self.response.usage = replace(event.usage)
        elif isinstance(event, StreamError):
            raise UpstreamError(event.message, status=event.status)

    def result(self) -> ChatResponse:
        for (index, kind), pieces in self._pieces.items():
            _append(self._parts[index], kind, "".join(pieces))
        self._pieces.clear()
        self.response.content = [self._parts[i] for i in sorted(self._parts)]
        return self.response


def _empty_part(event: BlockStart) -> Part:
    if event.type == "text":
        return TextPart("")
    if event.type == "thinking":
        return ThinkingPart("")
    if event.type == "redacted_thinking":
        return ThinkingPart("", redacted_data=event.data or "")
    return ToolCallPart(event.id or "", event.name or "", "")


def _takes(part: Part | None, kind: DeltaKind) -> bool:
    """Whether a delta of `kind` belongs to `part` (any other is dropped, as a mismatched block's)."""
    if isinstance(part, TextPart):
        return kind == "text"
    if isinstance(part, ThinkingPart):
        return kind in ("thinking", "signature")
    return isinstance(part, ToolCallPart) and kind == "arguments"


def _append(part: Part, kind: DeltaKind, text: str) -> None:
    if isinstance(part, TextPart):
        part.text += text
    elif isinstance(part, ThinkingPart) and kind == "thinking":
        part.thinking += text
    elif isinstance(part, ThinkingPart):
        part.signature = (part.signature or "") + text
    elif isinstance(part, ToolCallPart):
        part.arguments += text


def events_to_response(events: Iterable[StreamEvent]) -> ChatResponse:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    return accumulator.result()


__all__ = ["StreamAccumulator", "events_to_response", "response_to_events"]
