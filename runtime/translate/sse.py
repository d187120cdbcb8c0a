"""Server-sent events: framing for what we send, incremental parsing for what upstreams send.

Parsing follows the WHATWG event-stream rules that matter for LLM APIs: ``event:``/``data:`` fields, multi-line
data joined with newlines, comments (``:``) ignored, an empty line dispatches, CRLF/CR/LF line endings.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def encode_frame(payload: dict[str, Any] | bytes, *, event: str | None = None) -> bytes:
    """One SSE frame; ``payload`` is JSON-encoded unless already bytes."""
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + b"\n\n"


def next_frame_end(buffer: bytes, start: int = 0) -> int:
    """Offset just past the first complete SSE frame at or after `start` (the buffer's end when there is none)."""
    lf = buffer.find(b"\n\n", start)
    limit = len(buffer) if lf < 0 else lf + 2  # a CRLF end counts only before it: each search stays in one frame
    crlf = buffer.find(b"\r\n\r\n", start, limit)
    if crlf >= 0:
        return crlf + 4
    return limit


@dataclass(slots=True)
class ServerSentEvent:
    event: str
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


class SSEDecoder:
    """Feed raw bytes as they arrive; get complete events back. Call ``flush()`` at end of stream."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    @property
    def idle(self) -> bool:
        """Nothing held: the next byte fed starts a line of a new frame."""
        return not (self._buffer or self._data or self._event)

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        data = self._buffer + chunk if self._buffer else chunk
        # find, not `in`: on 3.11 `in` first tries the operand as an int, raising and clearing a TypeError
        if data.find(b"\r") >= 0:
            hold = b""
            if data.endswith(b"\r"):
                data, hold = data[:-1], b"\r"  # a CR at the end may be the first half of CRLF
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            end = data.rfind(b"\n")
            self._buffer = data[end + 1 :] + hold
        else:
            end = data.rfind(b"\n")
            self._buffer = data[end + 1 :]
        if end < 0:
            return []
        events: list[ServerSentEvent] = []
        # One decode and one split per chunk (complete lines only, so a split UTF-8 sequence waits in the buffer).
        for line in data[:end].decode("utf-8", errors="replace").split("\n"):
            if line.startswith("data:"):  # most lines: `_field`'s data branch, inline
                self._data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line:
                self._field(line)
            elif self._data or self._event:
                events.append(ServerSentEvent(self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
        return events

    def flush(self) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        if self._buffer:
            rest, self._buffer = self._buffer.rstrip(b"\r"), b""
            event = self._line(rest.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    def _field(self, line: str) -> None:
        if line[0] == ":":
            return
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value[:1] == " " else value)
        elif name == "event":
            self._event = value[1:] if value[:1] == " " else value

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = ServerSentEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Events from a byte stream, e.g. ``aiter_sse(response.aiter_bytes())`` on an httpx streaming response."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event
