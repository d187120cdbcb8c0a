"""Cohere v2 chat stream events -> canonical stream events.

Cohere numbers content blocks and tool calls separately (both from 0) and streams the tool plan without an
index; each gets its own canonical block index, in arrival order.
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.translate.cohere import map_finish_reason, parse_usage
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamError,
    StreamEvent,
)


class StreamParser:
    def __init__(self, *, model: str) -> None:
        self._model = model
        self._indexes: dict[tuple[str, int], int] = {}  # (kind, cohere index) -> canonical index
        self._open: set[int] = set()
        self._plan_index: int | None = None
        self._calls = 0
        self._started = False
        self._done = False

    def feed(self, data: dict[str, Any]) -> list[StreamEvent]:
        kind = str(data.get("type", ""))
        if self._done:
            return []
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(MessageStart(id=str(data.get("id") or "cohere"), model=self._model))
        handler = getattr(self, "_on_" + kind.replace("-", "_"), None)
        if handler is not None:
            events.extend(handler(data))
        return events

    def finish(self) -> list[StreamEvent]:
        if self._done:
            return []
        self._done = True
        return [StreamError(type="api_error", message="Cohere stream ended without message-end", status=502)]

    def _message(self, data: dict[str, Any]) -> dict[str, Any]:
        return ((data.get("delta") or {}).get("message")) or {}

    def _open_block(self, key: tuple[str, int], block: BlockStart) -> list[StreamEvent]:
        block.index = len(self._indexes) + (self._plan_index is not None)
        self._indexes[key] = block.index
        self._open.add(block.index)
        return [*self._close_plan(), block]

    def _close(self, key: tuple[str, int]) -> list[StreamEvent]:
        index = self._indexes.get(key)
        if index is None or index not in self._open:
            return []
        self._open.discard(index)
        return [BlockStop(index)]

    def _close_plan(self) -> list[StreamEvent]:
        if self._plan_index is None or self._plan_index not in self._open:
            return []
        self._open.discard(self._plan_index)
        return [BlockStop(self._plan_index)]

    def _on_content_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        content = self._message(data).get("content") or {}
        if content.get("type") == "thinking":
            return self._open_block(("content", int(data.get("index", 0))), BlockStart(0, "thinking"))
        return self._open_block(("content", int(data.get("index", 0))), BlockStart(0, "text"))

    def _on_content_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        content = self._message(data).get("content") or {}
        index = self._indexes.get(("content", int(data.get("index", 0))))
        if index is None:
            return []
        if content.get("thinking"):
            return [BlockDelta(index, "thinking", content["thinking"])]
        return [BlockDelta(index, "text", content.get("text", ""))] if content.get("text") else []

    def _on_content_end(self, data: dict[str, Any]) -> list[StreamEvent]:
        return self._close(("content", int(data.get("index", 0))))

    def _on_tool_plan_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        text = self._message(data).get("tool_plan") or ""
        events: list[StreamEvent] = []
        if self._plan_index is None:
            self._plan_index = len(self._indexes)
            self._open.add(self._plan_index)
            events.append(BlockStart(self._plan_index, "text"))
        if text:
            events.append(BlockDelta(self._plan_index, "text", text))
        return events

    def _on_tool_call_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        call = self._message(data).get("tool_calls") or {}
        function = call.get("function") or {}
        self._calls += 1
        start = BlockStart(0, "tool_use", id=call.get("id"), name=function.get("name"))
        events = self._open_block(("tool", int(data.get("index", 0))), start)
        if function.get("arguments"):
            events.append(BlockDelta(start.index, "arguments", function["arguments"]))
        return events

    def _on_tool_call_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        function = (self._message(data).get("tool_calls") or {}).get("function") or {}
        index = self._indexes.get(("tool", int(data.get("index", 0))))
        if index is None or not function.get("arguments"):
            return []
        return [BlockDelta(index, "arguments", function["arguments"])]

    def _on_tool_call_end(self, data: dict[str, Any]) -> list[StreamEvent]:
        return self._close(("tool", int(data.get("index", 0))))

    def _on_message_end(self, data: dict[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta") or {}
        self._done = True
        events: list[StreamEvent] = [*self._close_plan(), *(BlockStop(i) for i in sorted(self._open))]
        self._open.clear()
        reason = delta.get("finish_reason")
        if reason in ("ERROR", "TIMEOUT") or delta.get("error"):
            message = str(delta.get("error") or f"Cohere finished with {reason}")
            return [*events, StreamError(type="api_error", message=message, status=502)]
        stop = map_finish_reason(reason, self._calls > 0)
        return [*events, MessageDelta(stop_reason=stop, usage=parse_usage(delta.get("usage") or {})), MessageStop()]
