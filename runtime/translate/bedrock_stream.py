"""Bedrock ConverseStream events -> canonical stream events.

Events arrive as (``:event-type``, JSON payload) pairs decoded from the event stream. Text and reasoning
blocks have no ``contentBlockStart``: the first delta opens them. ``messageStop`` carries the stop reason and
the trailing ``metadata`` event the usage, so the closing MessageDelta waits for metadata (or the end).
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.translate.bedrock import map_stop_reason, parse_usage
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

# Exception event types Bedrock can send mid-stream, with the HTTP status each stands for.
EXCEPTION_STATUS = {
    "internalServerException": 500,
    "modelStreamErrorException": 424,
    "validationException": 400,
    "throttlingException": 429,
    "serviceUnavailableException": 503,
    "modelTimeoutException": 408,
}
_ERROR_TYPE = {400: "invalid_request_error", 429: "rate_limit_error", 503: "overloaded_error"}


class StreamParser:
    def __init__(self, *, model: str, response_id: str = "bedrock") -> None:
        self._model = model
        self._response_id = response_id
        self._open: set[int] = set()
        self._stop_reason: StopReason | None = None
        self._stop_sequence: str | None = None
        self._stopped = False
        self._done = False
        self._started = False

    def feed(self, event_type: str, payload: dict[str, Any]) -> list[StreamEvent]:
        if self._done:
            return []
        if event_type in EXCEPTION_STATUS:
            return self._error(event_type, payload)
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(MessageStart(id=f"msg_{self._response_id}", model=self._model))
        if event_type == "contentBlockStart":
            events.extend(self._block_start(payload))
        elif event_type == "contentBlockDelta":
            events.extend(self._block_delta(payload))
        elif event_type == "contentBlockStop":
            index = int(payload.get("contentBlockIndex", 0))
            if index in self._open:
                self._open.discard(index)
                events.append(BlockStop(index))
        elif event_type == "messageStop":
            self._stopped = True
            self._stop_reason = map_stop_reason(payload.get("stopReason"))
            extra = payload.get("additionalModelResponseFields")
            self._stop_sequence = extra.get("stop_sequence") if isinstance(extra, dict) else None
        elif event_type == "metadata":
            events.extend(self._close(parse_usage(payload.get("usage") or {})))
        return events

    def finish(self) -> list[StreamEvent]:
        if self._done:
            return []
        if not self._stopped:
            self._done = True
            return [StreamError(type="api_error", message="Bedrock stream ended before messageStop", status=502)]
        return self._close(Usage())

    def _close(self, usage: Usage) -> list[StreamEvent]:
        events: list[StreamEvent] = [BlockStop(index) for index in sorted(self._open)]
        self._open.clear()
        self._done = True
        events.append(MessageDelta(stop_reason=self._stop_reason, stop_sequence=self._stop_sequence, usage=usage))
        events.append(MessageStop())
        return events

    def _block_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = int(payload.get("contentBlockIndex", 0))
        tool = (payload.get("start") or {}).get("toolUse")
        if tool is None:
            return []
        self._open.add(index)
        return [BlockStart(index, "tool_use", id=tool.get("toolUseId"), name=tool.get("name"))]

    def _block_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = int(payload.get("contentBlockIndex", 0))
        delta = payload.get("delta") or {}
        if "text" in delta:
            return [*self._ensure_open(index, "text"), BlockDelta(index, "text", delta["text"])]
        if "toolUse" in delta:
            return [BlockDelta(index, "arguments", (delta["toolUse"] or {}).get("input", ""))]
        reasoning = delta.get("reasoningContent")
        if not isinstance(reasoning, dict):
            return []
        if "redactedContent" in reasoning:
            return self._ensure_open(index, "redacted_thinking", data=reasoning["redactedContent"])
        events = self._ensure_open(index, "thinking")
        if "text" in reasoning:
            events.append(BlockDelta(index, "thinking", reasoning["text"]))
        if "signature" in reasoning:
            events.append(BlockDelta(index, "signature", reasoning["signature"]))
        return events

    def _ensure_open(self, index: int, block_type: Any, data: str | None = None) -> list[StreamEvent]:
        if index in self._open:
            return []
        self._open.add(index)
        return [BlockStart(index, block_type, data=data)]

    def _error(self, event_type: str, payload: dict[str, Any]) -> list[StreamEvent]:
        self._done = True
        status = EXCEPTION_STATUS[event_type]
        message = str(payload.get("message") or payload.get("Message") or event_type)
        return [StreamError(type=_ERROR_TYPE.get(status, "api_error"), message=message, status=status)]
