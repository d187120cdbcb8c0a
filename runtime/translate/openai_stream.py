"""OpenAI Chat Completions streaming: upstream chunks -> canonical events, canonical events -> client SSE bytes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.translate import reasoning_details
from bifrostc.runtime.translate.common import (
    new_message_id,
    new_tool_id,
    openai_error_type,
    stop_from_openai,
    stop_to_openai,
)
from bifrostc.runtime.translate.openai_usage import chunk_usage, usage_from_openai, usage_to_openai
from bifrostc.runtime.translate.sse import DONE, encode_frame
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


@dataclass(slots=True)
class _ToolBlock:
    index: int  # canonical block index
    id: str


_PLAIN_DELTA = frozenset(("content", "role"))  # a delta with these keys only: text, nothing else to read


class StreamParser:
    """OpenAI chunks -> canonical events.

    Reasoning deltas (``reasoning_content``, or ``reasoning`` from OpenRouter/vLLM) open a thinking block, text
    a text block (closing thinking first); each ``tool_calls[i].index`` opens its own tool_use block, left open
    so parallel calls may interleave. MessageDelta is held until usage arrives (a trailing chunk with empty
    ``choices``) or ``finish()``.
    """

    def __init__(self, *, tool_names: Mapping[str, str] | None = None) -> None:
        self._tool_names = tool_names or {}  # upstream name -> client name (see openai.tool_name_map)
        self._started = False
        self._next_index = 0
        self._open_kind: str | None = None  # "text" or "thinking": at most one such block is open
        self._open_index = -1
        self._tools: dict[int, _ToolBlock] = {}
        self._stop: StopReason | None = None
        self._usage: Usage | None = None
        self._done = False
        self._details: list[dict[str, Any]] = []  # OpenRouter reasoning_details of the open thinking block

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        if self._done:
            return []
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(MessageStart(str(chunk.get("id") or new_message_id()), str(chunk.get("model", ""))))
        if isinstance(chunk.get("error"), dict):
            self._done = True
            return [*events, _stream_error(chunk["error"])]
        choices = chunk.get("choices") or []
        if choices and isinstance(choices[0], dict):
            events.extend(self._choice(choices[0]))
        usage = chunk_usage(chunk)
        if usage is not None:
            self._usage = usage_from_openai(usage)
            if self._stop is not None:  # final usage: trailing chunk, or in the finish_reason chunk itself
                events.extend(self._end())
        return events

    def finish(self) -> list[StreamEvent]:
        if self._done:
            return []
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(MessageStart(new_message_id(), ""))
        return events + self._end()

    def _choice(self, choice: dict[str, Any]) -> list[StreamEvent]:
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if self._open_kind == "text" and type(content) is str and content and not choice.get("finish_reason"):
            if delta.keys() <= _PLAIN_DELTA:  # most chunks: more text for the open block (the path below, shorter)
                return [BlockDelta(self._open_index, "text", content)]
        events: list[StreamEvent] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.extend(self._text("thinking", reasoning))
        if isinstance(delta.get("reasoning_details"), list) and delta["reasoning_details"]:
            if self._open_kind != "thinking":  # details without text (encrypted reasoning) still need a block
                events.extend(self._text("thinking", ""))
            reasoning_details.merge(self._details, delta["reasoning_details"])
        for key in ("content", "refusal"):
            if isinstance(delta.get(key), str) and delta[key]:
                events.extend(self._text("text", delta[key]))
        for position, call in enumerate(delta.get("tool_calls") or []):
            events.extend(self._tool_call(call, position))
        if choice.get("finish_reason"):
            self._stop = stop_from_openai(choice["finish_reason"])
            if self._stop == "end_turn" and self._tools:
                self._stop = "tool_use"  # vLLM/Ollama say "stop" after tool calls; agents need tool_use
            events.extend(self._close_all())
        return events

    def _text(self, kind: str, text: str) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if self._open_kind != kind:
            events.extend(self._close_text())
            self._open_kind, self._open_index = kind, self._allocate()
            events.append(BlockStart(self._open_index, kind))  # type: ignore[arg-type]
        events.append(BlockDelta(self._open_index, kind, text))  # type: ignore[arg-type]
        return events

    def _tool_call(self, call: dict[str, Any], position: int) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        slot = call.get("index", position)
        function = call.get("function") or {}
        block = self._tools.get(slot)
        call_id = call.get("id")
        # A new id at a known index: providers that send each complete call at index 0.
        if block is None or (call_id and call_id != block.id):
            events.extend(self._close_text())
            if block is not None:
                events.append(BlockStop(block.index))
            block = _ToolBlock(self._allocate(), call_id or new_tool_id())
            self._tools[slot] = block
            name = str(function.get("name") or "")
            events.append(BlockStart(block.index, "tool_use", id=block.id, name=self._tool_names.get(name, name)))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(BlockDelta(block.index, "arguments", arguments))
        return events

    def _allocate(self) -> int:
        index, self._next_index = self._next_index, self._next_index + 1
        return index

    def _close_text(self) -> list[StreamEvent]:
        if self._open_kind is None:
            return []
        events: list[StreamEvent] = []
        if self._open_kind == "thinking" and self._details:  # OpenRouter's details travel as the signature
            events.append(BlockDelta(self._open_index, "signature", reasoning_details.to_signature(self._details)))
            self._details = []
        self._open_kind = None
        return [*events, BlockStop(self._open_index)]

    def _close_all(self) -> list[StreamEvent]:
        events = self._close_text()
        events.extend(BlockStop(b.index) for b in sorted(self._tools.values(), key=lambda b: b.index))
        self._tools.clear()
        return events

    def _end(self) -> list[StreamEvent]:
        self._done = True
        stop = self._stop or ("tool_use" if self._tools else "end_turn")
        events = self._close_all()
        return [*events, MessageDelta(stop, usage=self._usage or Usage()), MessageStop()]


def _stream_error(error: dict[str, Any]) -> StreamError:
    """An error object sent mid-stream (OpenRouter, vLLM); a numeric ``code`` is taken as the HTTP status."""
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else 502
    kind = UpstreamError("", status=status).anthropic_type
    return StreamError(kind, str(error.get("message") or "upstream stream error"), status)


class StreamEncoder:
    """Canonical events -> ``data: <chat.completion.chunk>`` frames, ending with ``data: [DONE]``."""

    def __init__(self, *, include_usage: bool = True, created: int | None = None) -> None:
        self._include_usage = include_usage
        self._created = created if created is not None else int(time.time())
        self._id = ""
        self._model = ""
        self._tool_slots: dict[int, int] = {}  # canonical block index -> tool_calls[].index

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, MessageStart):
            self._id, self._model = event.id, event.model
            return self._chunk({"role": "assistant", "content": ""})
        if isinstance(event, BlockStart):
            return self._block_start(event)
        if isinstance(event, BlockDelta):
            return self._block_delta(event)
        if isinstance(event, MessageDelta):
            frame = self._chunk({}, finish_reason=stop_to_openai(event.stop_reason) or "stop")
            if self._include_usage:
                frame += self._frame([], usage_to_openai(event.usage))
            return frame
        if isinstance(event, MessageStop):
            return DONE
        if isinstance(event, StreamError):
            error = {
                "message": event.message,
                "type": openai_error_type(event.status),
                "param": None,
                "code": event.type,
            }
            return encode_frame({"error": error})
        return b""  # BlockStop: OpenAI has no block boundaries

    def _block_start(self, event: BlockStart) -> bytes:
        if event.type != "tool_use":
            return b""
        slot = self._tool_slots[event.index] = len(self._tool_slots)
        call = {"index": slot, "id": event.id, "type": "function", "function": {"name": event.name, "arguments": ""}}
        return self._chunk({"tool_calls": [call]})

    def _block_delta(self, event: BlockDelta) -> bytes:
        if not event.text:
            return b""
        if event.kind == "text":
            return self._chunk({"content": event.text})
        if event.kind == "thinking":
            return self._chunk({"reasoning_content": event.text})
        if event.kind == "arguments" and event.index in self._tool_slots:
            call = {"index": self._tool_slots[event.index], "function": {"arguments": event.text}}
            return self._chunk({"tool_calls": [call]})
        return b""  # signatures have no OpenAI form

    def _chunk(self, delta: dict[str, Any], *, finish_reason: str | None = None) -> bytes:
        return self._frame([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def _frame(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
        if usage is not None:
            chunk["usage"] = usage
        return encode_frame(chunk)
