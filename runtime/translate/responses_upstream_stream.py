"""An upstream's Responses stream (``response.*`` server-sent events) -> canonical stream events.

The reader of what ``responses_stream.StreamEncoder`` writes. Each output item becomes one canonical block, keyed
by its ``output_index`` (so parallel calls may interleave): ``message`` -> text, ``reasoning`` -> thinking (summary
parts joined by a blank line; the item's ``encrypted_content`` from ``output_item.done`` as a signature delta
``bfc:openai:...``), ``function_call`` -> tool_use (argument deltas as they come; the item's whole arguments when
none came), ``custom_tool_call`` -> tool_use whose input text is sent whole at the end as ``{"input": ...}``.
``response.completed`` / ``response.incomplete`` end the message with the final usage; ``response.failed`` and
``error`` events become a StreamError (``transport.relay`` raises it instead when nothing was sent yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bifrostc.runtime.errors import anthropic_error_type
from bifrostc.runtime.translate import signatures
from bifrostc.runtime.translate.common import new_message_id, new_tool_id
from bifrostc.runtime.translate.responses_response import usage_from_responses
from bifrostc.runtime.translate.responses_tools import custom_call_arguments
from bifrostc.runtime.translate.responses_upstream import error_status, stop_reason
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

_BLOCKS = {"message": "text", "reasoning": "thinking", "function_call": "tool_use", "custom_tool_call": "tool_use"}
_TEXT_DELTAS = {
    "response.output_text.delta": "text",
    "response.refusal.delta": "text",
    "response.reasoning_summary_text.delta": "thinking",
    "response.reasoning_text.delta": "thinking",
    "response.function_call_arguments.delta": "arguments",
    "response.custom_tool_call_input.delta": "custom",
}


@dataclass(slots=True)
class _Block:
    index: int  # canonical block index
    kind: str  # the item type
    sent: bool = False  # a delta went out (text, thinking or arguments)
    custom_input: list[str] = field(default_factory=list)  # a custom tool's input deltas, joined at its end
    parts: int = 0  # reasoning summary parts seen


class StreamParser:
    def __init__(self, *, tool_names: Mapping[str, str] | None = None) -> None:
        self._tool_names = tool_names or {}
        self._blocks: dict[int, _Block] = {}
        self._next = 0
        self._started = False
        self._done = False
        self._calls = False
        self._id = ""
        self._model = ""

    def feed(self, data: dict[str, Any]) -> list[StreamEvent]:
        """One event's canonical events. The message starts with the first output (or the end), not with
        `response.created`: a response that fails before any output is an error first, which `transport.relay`
        raises, so it is retried and falls back like an error status."""
        if self._done:
            return []
        kind = str(data.get("type", ""))
        response = _obj(data.get("response"))
        if kind in ("response.created", "response.in_progress", "response.queued"):
            self._id = str(response.get("id") or self._id)
            self._model = str(response.get("model") or self._model)
            return []
        events = self._events(kind, data)
        if events and not self._started and not isinstance(events[0], StreamError):
            self._started = True
            events.insert(0, MessageStart(self._id or new_message_id(), self._model))
        return events

    def _events(self, kind: str, data: dict[str, Any]) -> list[StreamEvent]:
        if kind == "response.output_item.added":
            return self._added(data)
        if kind in _TEXT_DELTAS:
            return self._delta(data, _TEXT_DELTAS[kind])
        if kind == "response.reasoning_summary_part.added":
            block = self._blocks.get(_int(data.get("output_index")))
            if block is not None:
                block.parts += 1
                if block.parts > 1 and block.sent:
                    return [BlockDelta(block.index, "thinking", "\n\n")]
            return []
        if kind == "response.output_item.done":
            return self._item_done(data)
        if kind in ("response.completed", "response.incomplete"):
            return self._end(data.get("response"))
        if kind in ("response.failed", "error"):
            return [self._error(data)]
        return []

    def _added(self, data: dict[str, Any]) -> list[StreamEvent]:
        item = _obj(data.get("item"))
        block_type = _BLOCKS.get(str(item.get("type")))
        position = _int(data.get("output_index"))
        if block_type is None or position in self._blocks:
            return []  # hosted tools' items have no canonical form
        block = _Block(self._next, str(item["type"]))
        self._blocks[position] = block
        self._next += 1
        if block_type != "tool_use":
            return [BlockStart(block.index, block_type)]  # type: ignore[arg-type]
        self._calls = True
        name = str(item.get("name") or "")
        call_id = str(item.get("call_id") or item.get("id") or new_tool_id())
        return [BlockStart(block.index, "tool_use", id=call_id, name=self._tool_names.get(name, name))]

    def _delta(self, data: dict[str, Any], kind: str) -> list[StreamEvent]:
        block = self._blocks.get(_int(data.get("output_index")))
        delta = data.get("delta")
        if block is None or not isinstance(delta, str) or not delta:
            return []
        if kind == "custom":
            block.custom_input.append(delta)  # sent whole at the end: canonical arguments are JSON
            return []
        block.sent = True
        return [BlockDelta(block.index, kind, delta)]  # type: ignore[arg-type]

    def _item_done(self, data: dict[str, Any]) -> list[StreamEvent]:
        item = _obj(data.get("item"))
        block = self._blocks.get(_int(data.get("output_index")))
        if block is None:
            return []
        events: list[StreamEvent] = []
        if block.kind == "reasoning":
            if not block.sent:
                text = "\n\n".join(s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict))
                if text:
                    events.append(BlockDelta(block.index, "thinking", text))
            encrypted = item.get("encrypted_content")
            if isinstance(encrypted, str) and encrypted:
                events.append(BlockDelta(block.index, "signature", signatures.mark("openai", encrypted)))
        elif block.kind == "function_call" and not block.sent and isinstance(item.get("arguments"), str):
            events.append(BlockDelta(block.index, "arguments", item["arguments"]))
        elif block.kind == "custom_tool_call":
            given = item.get("input")
            text = given if isinstance(given, str) else "".join(block.custom_input)
            events.append(BlockDelta(block.index, "arguments", custom_call_arguments(text)))
        elif block.kind == "message" and not block.sent:
            text = "".join(c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict))
            if text:
                events.append(BlockDelta(block.index, "text", text))
        del self._blocks[_int(data.get("output_index"))]
        return [*events, BlockStop(block.index)]

    def _close_open(self) -> list[StreamEvent]:
        events: list[StreamEvent] = [BlockStop(b.index) for b in self._blocks.values()]
        self._blocks.clear()
        return events

    def _end(self, response: Any) -> list[StreamEvent]:
        response = response if isinstance(response, dict) else {}
        self._done = True
        usage = usage_from_responses(response.get("usage"))
        stop = stop_reason(response, calls=self._calls)
        return [*self._close_open(), MessageDelta(stop, usage=usage), MessageStop()]

    def _error(self, data: dict[str, Any]) -> StreamError:
        self._done = True
        response = _obj(data.get("response"))
        error = _obj(response.get("error")) or data
        status = error_status(error)
        message = str(error.get("message") or "the upstream response failed")
        return StreamError(anthropic_error_type(status), message, status)

    def finish(self) -> list[StreamEvent]:
        """The stream ended without a terminal event: cut short, an error (the client must not take it as whole)."""
        if self._done:
            return []
        self._done = True
        return [StreamError("api_error", "the upstream Responses stream ended before response.completed", 502)]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
