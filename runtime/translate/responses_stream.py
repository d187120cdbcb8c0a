"""Canonical events -> OpenAI Responses API server-sent events (``event: <type>`` + ``data: <json>``).

response.created, response.in_progress; per output item output_item.added, its content events, output_item.done;
then response.completed (or response.incomplete) carrying the whole response. Blocks are serialised first (see
sequencer), so parallel tool calls become consecutive items with their own output_index and never interleave.
A canonical StreamError becomes an ``error`` event followed by ``response.failed``. A call to one of the request's
``custom`` tools becomes a ``custom_tool_call`` item: its function arguments are held back until the call is whole,
then its text goes out as one ``response.custom_tool_call_input.delta`` and ``.done`` (see responses_tools). A call
to a tool of a ``namespace`` carries the inner name and the ``namespace``, from the first event on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bifrostc.runtime.translate.responses_response import (
    client_call,
    function_call_item,
    item_id,
    message_item,
    output_text,
    reasoning_item,
    request_echo,
    response_id,
    response_object,
    status_for,
)
from bifrostc.runtime.translate.responses_tools import custom_input, custom_tool_call_item, tool_table
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


@dataclass(slots=True)
class _Item:
    output_index: int
    id: str
    type: str  # text | thinking | redacted_thinking | tool_use | custom (a custom tool's call)
    # Text, thinking summary or arguments, and a thinking signature, as their deltas came: joined when the block
    # stops (`+=` on an attribute copies the whole string at every delta).
    pieces: list[str] = field(default_factory=list)
    signature_pieces: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    namespace: str | None = None
    redacted: str | None = None
    summary_open: bool = False


class StreamEncoder:
    """Canonical events -> Responses API SSE frames; ``request`` is the client's body (echoed settings)."""

    def __init__(self, *, request: dict[str, Any] | None = None, created_at: int | None = None) -> None:
        self._echo = request_echo(request)
        self._tools = tool_table(request)
        self._created_at = created_at if created_at is not None else int(time.time())
        self._sequencer = BlockSequencer()
        self._sequence = 0
        self._id = ""
        self._model = ""
        self._started = False
        self._finished = False
        self._blocks: dict[int, _Item] = {}  # canonical block index -> its open output item
        self._done: list[dict[str, Any]] = []  # finished output items, in output_index order
        self._next_output = 0
        self._stop: StopReason | None = None
        self._usage: Usage | None = None
        self.response: dict[str, Any] | None = None  # the terminal event's response, once completed/incomplete

    def encode(self, event: StreamEvent) -> bytes:
        if self._finished:
            return b""
        return b"".join(self._encode_one(ev) for ev in self._sequencer.push(event))

    def _encode_one(self, event: StreamEvent) -> bytes:
        if isinstance(event, MessageStart):
            return self._start(event.id, event.model)
        if isinstance(event, StreamError):
            return self._fail(event)
        if not self._started:
            self._start("", "")
        if isinstance(event, BlockStart):
            return self._block_start(event)
        if isinstance(event, BlockDelta):
            return self._block_delta(event)
        if isinstance(event, BlockStop):
            return self._block_stop(event)
        if isinstance(event, MessageDelta):
            self._stop, self._usage = event.stop_reason, event.usage
            return b""
        if isinstance(event, MessageStop):
            return self._complete()
        return b""

    # --- lifecycle -------------------------------------------------------------------------------

    def _start(self, canonical_id: str, model: str) -> bytes:
        if self._started:
            return b""
        self._started = True
        self._id, self._model = response_id(canonical_id), model
        response = self._response("in_progress", usage=None)
        return self._emit("response.created", response=response) + self._emit("response.in_progress", response=response)

    def _complete(self) -> bytes:
        self._finished = True
        status, incomplete = status_for(self._stop)
        response = self._response(status, usage=self._usage or Usage(), incomplete_details=incomplete)
        self.response = response
        return self._emit(f"response.{status}", response=response)

    def _fail(self, event: StreamError) -> bytes:
        head = b"" if self._started else self._start("", "")
        self._finished = True
        code = "rate_limit_exceeded" if event.status == 429 else "server_error"
        frames = self._emit("error", code=event.type, message=event.message, param=None)
        error = {"code": code, "message": event.message}
        response = self._response("failed", usage=self._usage, error=error)
        return head + frames + self._emit("response.failed", response=response)

    def _response(self, status: str, *, usage: Usage | None, **details: Any) -> dict[str, Any]:
        return response_object(
            resp_id=self._id,
            model=self._model,
            created_at=self._created_at,
            status=status,
            output=list(self._done),
            usage=usage,
            echo=self._echo,
            **details,
        )

    # --- output items ----------------------------------------------------------------------------

    def _block_start(self, event: BlockStart) -> bytes:
        index, self._next_output = self._next_output, self._next_output + 1
        if event.type == "text":
            item = _Item(index, item_id("msg", self._id, index), "text")
            added = message_item(item.id, "", status="in_progress")
            frames = self._added(event.index, item, added)
            return frames + self._emit(
                "response.content_part.added", **self._where(item), content_index=0, part=output_text("")
            )
        if event.type == "tool_use":
            name, namespace, custom = client_call(event.name or "", self._tools)
            kind, prefix = ("custom", "ctc") if custom else ("tool_use", "fc")
            item = _Item(index, item_id(prefix, self._id, index), kind, call_id=event.id or "", name=name)
            item.namespace = namespace
            return self._added(event.index, item, self._call_item(item, "", status="in_progress"))
        redacted = (event.data or "") if event.type == "redacted_thinking" else None
        item = _Item(index, item_id("rs", self._id, index), event.type, redacted=redacted)
        return self._added(event.index, item, reasoning_item(item.id, "", redacted=redacted))

    def _added(self, block_index: int, item: _Item, skeleton: dict[str, Any]) -> bytes:
        self._blocks[block_index] = item
        return self._emit("response.output_item.added", output_index=item.output_index, item=skeleton)

    def _block_delta(self, event: BlockDelta) -> bytes:
        item = self._blocks.get(event.index)
        if item is None or not event.text:
            return b""
        item_type = item.type
        if event.kind == "text" and item_type == "text":
            item.pieces.append(event.text)
            return self._emit(
                "response.output_text.delta", **self._where(item), content_index=0, delta=event.text, logprobs=[]
            )
        if event.kind == "arguments" and item_type == "tool_use":
            item.pieces.append(event.text)
            return self._emit("response.function_call_arguments.delta", **self._where(item), delta=event.text)
        if event.kind == "arguments" and item_type == "custom":
            item.pieces.append(event.text)  # JSON arguments: the text inside is only known once they are whole
            return b""
        if event.kind == "thinking" and item_type == "thinking":
            item.pieces.append(event.text)
            head = b""
            if not item.summary_open:
                item.summary_open = True
                head = self._emit(
                    "response.reasoning_summary_part.added", **self._where(item), summary_index=0, part=_summary("")
                )
            return head + self._emit(
                "response.reasoning_summary_text.delta", **self._where(item), summary_index=0, delta=event.text
            )
        if event.kind == "signature" and item_type == "thinking":
            item.signature_pieces.append(event.text)
        return b""

    def _block_stop(self, event: BlockStop) -> bytes:
        item = self._blocks.get(event.index)
        if item is None:
            return b""
        del self._blocks[event.index]
        text, where = "".join(item.pieces), self._where(item)
        if item.type == "text":
            frames = self._emit("response.output_text.done", **where, content_index=0, text=text, logprobs=[])
            frames += self._emit("response.content_part.done", **where, content_index=0, part=output_text(text))
            return frames + self._item_done(item, message_item(item.id, text))
        if item.type == "custom":
            text = custom_input(text)
            frames = self._emit("response.custom_tool_call_input.delta", **where, delta=text) if text else b""
            frames += self._emit("response.custom_tool_call_input.done", **where, input=text)
            return frames + self._item_done(item, self._call_item(item, text))
        if item.type == "tool_use":
            frames = b""
            if not text:  # a call without arguments: say so in JSON, as the non-streamed form does
                text = "{}"
                frames = self._emit("response.function_call_arguments.delta", **where, delta="{}")
            frames += self._emit("response.function_call_arguments.done", **where, arguments=text)
            return frames + self._item_done(item, self._call_item(item, text))
        frames = b""
        if item.summary_open:
            frames += self._emit("response.reasoning_summary_text.done", **where, summary_index=0, text=text)
            frames += self._emit("response.reasoning_summary_part.done", **where, summary_index=0, part=_summary(text))
        signature = "".join(item.signature_pieces) or None
        done = reasoning_item(item.id, text, signature=signature, redacted=item.redacted)
        return frames + self._item_done(item, done)

    def _item_done(self, item: _Item, final: dict[str, Any]) -> bytes:
        self._done.append(final)
        return self._emit("response.output_item.done", output_index=item.output_index, item=final)

    @staticmethod
    def _call_item(item: _Item, text: str, status: str = "completed") -> dict[str, Any]:
        """A function_call (``text``: its arguments) or custom_tool_call (``text``: its input) item."""
        if item.type == "custom":
            return custom_tool_call_item(item.id, item.call_id, item.name, text, item.namespace)
        return function_call_item(item.id, item.call_id, item.name, text, status, item.namespace)

    # --- plumbing --------------------------------------------------------------------------------

    @staticmethod
    def _where(item: _Item) -> dict[str, Any]:
        return {"item_id": item.id, "output_index": item.output_index}

    def _emit(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return encode_frame(payload, event=kind)


def _summary(text: str) -> dict[str, str]:
    return {"type": "summary_text", "text": text}


__all__ = ["StreamEncoder"]
