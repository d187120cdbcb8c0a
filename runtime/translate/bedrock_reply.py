"""Canonical stream events -> Bedrock's binary event streams (``translate/eventstream.py`` frames).

ConverseStream: messageStart, contentBlockStart (tool calls only), contentBlockDelta (text, toolUse input,
reasoningContent text/signature/redactedContent), contentBlockStop, messageStop, then metadata (usage) last:
the mirror of ``bedrock_stream.StreamParser``. InvokeModelWithResponseStream (Claude): Anthropic's Messages
stream events, each JSON object base64-encoded in a ``chunk`` event's ``bytes``. A failure after the first
frame is an exception frame, as Bedrock sends it.
"""

from __future__ import annotations

import base64
from typing import Any

from bifrostc.runtime.translate import anthropic
from bifrostc.runtime.translate.bedrock_inbound import stop_reason, stream_exception_name, usage_body
from bifrostc.runtime.translate.common import merged_usage
from bifrostc.runtime.translate.eventstream import event_frame, exception_frame
from bifrostc.runtime.translate.sse import SSEDecoder
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


class ConverseStreamEncoder:
    def __init__(self) -> None:
        self._usage = Usage()
        self._stop: StopReason | None = None
        self._closed = False

    def encode(self, event: StreamEvent) -> bytes:
        if self._closed:
            return b""
        if isinstance(event, MessageStart):
            self._usage = event.usage
            return event_frame("messageStart", {"role": "assistant"})
        if isinstance(event, BlockStart):
            if event.type == "tool_use":
                start = {"toolUse": {"toolUseId": event.id or "", "name": event.name or ""}}
                return event_frame("contentBlockStart", {"contentBlockIndex": event.index, "start": start})
            if event.type == "redacted_thinking" and event.data:
                return self._delta(event.index, {"reasoningContent": {"redactedContent": event.data}})
            return b""
        if isinstance(event, BlockDelta):
            return self._block_delta(event)
        if isinstance(event, BlockStop):
            return event_frame("contentBlockStop", {"contentBlockIndex": event.index})
        if isinstance(event, MessageDelta):
            self._stop = event.stop_reason
            self._usage = merged_usage(self._usage, event.usage)
            return event_frame("messageStop", {"stopReason": stop_reason(event.stop_reason)})
        if isinstance(event, MessageStop):
            self._closed = True
            return event_frame("metadata", {"usage": usage_body(self._usage), "metrics": {"latencyMs": 0}})
        if isinstance(event, StreamError):
            self._closed = True
            return exception_frame(stream_exception_name(event.status), event.message)
        return b""

    def _block_delta(self, event: BlockDelta) -> bytes:
        if event.kind == "text":
            return self._delta(event.index, {"text": event.text})
        if event.kind == "arguments":
            return self._delta(event.index, {"toolUse": {"input": event.text}})
        key = "text" if event.kind == "thinking" else "signature"
        return self._delta(event.index, {"reasoningContent": {key: event.text}})

    @staticmethod
    def _delta(index: int, delta: dict[str, Any]) -> bytes:
        return event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})


class InvokeStreamEncoder:
    """Anthropic's stream (``anthropic.StreamEncoder``), each event's JSON in a ``chunk`` frame."""

    def __init__(self) -> None:
        self._anthropic = anthropic.StreamEncoder()
        self._decoder = SSEDecoder()
        self._closed = False

    def encode(self, event: StreamEvent) -> bytes:
        if self._closed:
            return b""
        if isinstance(event, StreamError):
            self._closed = True
            return exception_frame(stream_exception_name(event.status), event.message)
        frames = b""
        for sse in self._decoder.feed(self._anthropic.encode(event)):
            if sse.data and sse.event != "ping":
                frames += event_frame("chunk", {"bytes": base64.b64encode(sse.data.encode()).decode()})
        self._closed = isinstance(event, MessageStop)
        return frames
