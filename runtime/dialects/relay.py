"""What a stream relayed: usage reported, output sent, whether the terminal frame went out; and the bill.

Both stream paths keep one `Tally`: the canonical path adds the events it encodes, passthrough feeds the relayed
bytes to its dialect's `SSERelayReader`. When the upstream's closing usage never came (the client went away, or
the upstream does not report it), the bill counts what was relayed and says it is an estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from bifrostc.runtime.dialects import tokenizer
from bifrostc.runtime.translate.sse import SSEDecoder, next_frame_end
from bifrostc.runtime.types import (
    BlockDelta,
    ChatRequest,
    ChatResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)

CHARS_PER_TOKEN = 4  # the usual rough ratio for English text and code
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


def estimate_tokens(value: object) -> int:
    """A rough token count of a JSON-able value (its serialised length / CHARS_PER_TOKEN), at least 1."""
    try:
        size = len(orjson.dumps(value, default=str))
    except orjson.JSONEncodeError:  # a relayed body nested deeper than orjson writes (relay_parse.py)
        size = _text_size(value)
    return max(1, size // CHARS_PER_TOKEN)


def _text_size(value: object) -> int:
    """The characters of a JSON-like value's strings, plus one per item: walked without recursion."""
    size, stack = 0, [value]
    while stack:
        item = stack.pop()
        size += len(item) if isinstance(item, str) else 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return size


def prompt_estimate(body: Mapping[str, Any]) -> int:
    """The estimated input tokens of a request body (system or instructions, messages or a Responses input,
    tools): what count_tokens answers without an upstream, and what routing rules read as ``input_tokens``.
    Counted by `tokenizer.count` (cl100k_base when installed; `tokenizer.source()` says which)."""
    pieces: list[Any] = []
    for key in ("system", "instructions", "messages", "input", "tools"):
        value = body.get(key)
        if key in ("messages", "input") and isinstance(value, list):
            pieces.extend(value)  # one piece a turn: a conversation's next request adds only its new turns
        elif value is not None:
            pieces.append(value)  # the system prompt and the tool list, each one piece (they rarely change)
    return tokenizer.count(pieces)


def request_estimate(chat: ChatRequest) -> int:
    """`prompt_estimate` of a canonical request (the context_window check, before any upstream call)."""
    return tokenizer.count([chat.system, *chat.messages, chat.tools])


def merge_usage(total: Usage, part: Usage) -> None:
    """Stream usage arrives in pieces (input at start, output at the end): keep the largest of each."""
    for name in _USAGE_FIELDS:
        setattr(total, name, max(getattr(total, name), getattr(part, name)))


@dataclass(slots=True)
class Tally:
    usage: Usage = field(default_factory=Usage)
    output_chars: int = 0  # text, thinking and tool-argument characters relayed
    output_events: int = 0  # events that carried some of them (the inter-token latency counts their gaps)
    final_usage: bool = False  # the upstream's closing usage arrived (message_delta, OpenAI's usage chunk)
    terminal: bool = False  # the dialect's terminal frame was relayed ([DONE], message_stop, ...)
    stop_reason: str | None = None  # canonical (Anthropic) stop reason, on both paths

    @classmethod
    def of_response(cls, response: ChatResponse) -> Tally:
        """What a whole (non-streamed) response relays: its usage as final, its output characters."""
        chars = 0
        for part in response.content:
            if isinstance(part, TextPart):
                chars += len(part.text)
            elif isinstance(part, ThinkingPart):
                chars += len(part.thinking)
            elif isinstance(part, ToolCallPart):
                chars += len(part.arguments)
        return cls(usage=response.usage, output_chars=chars, final_usage=True, stop_reason=response.stop_reason)

    def add(self, event: StreamEvent) -> None:
        """A canonical event on its way to the client."""
        if isinstance(event, BlockDelta):
            if event.kind != "signature" and event.text:
                self.output_chars += len(event.text)
                self.output_events += 1
        elif isinstance(event, MessageStart):
            merge_usage(self.usage, event.usage)
        elif isinstance(event, MessageDelta):
            merge_usage(self.usage, event.usage)
            self.final_usage = True
            self.stop_reason = event.stop_reason or self.stop_reason
        elif isinstance(event, MessageStop):
            self.terminal = True

    def billed(self, prompt: object) -> tuple[Usage, bool]:
        """The usage to bill and whether it is estimated. Without the closing usage (or with an output count of
        0 for output that was sent), output is counted from the characters relayed and a missing prompt count is
        estimated from `prompt` (the client's request body)."""
        usage = Usage(**{name: getattr(self.usage, name) for name in _USAGE_FIELDS})
        if self.final_usage and (usage.output_tokens or not self.output_chars):
            return usage, False
        estimated = False
        counted = math.ceil(self.output_chars / CHARS_PER_TOKEN)
        if counted > usage.output_tokens:
            usage.output_tokens, estimated = counted, True
        if not (usage.input_tokens or usage.cache_read_tokens or usage.cache_write_tokens):
            usage.input_tokens, estimated = estimate_tokens(prompt), True
        return usage, estimated


class RelayReader(Protocol):
    tally: Tally

    def feed(self, chunk: bytes) -> bytes:
        """Relayed bytes (whole frames, as the upstream sent them) in; the bytes to send the client out: the
        same, or the same minus frames the gateway asked for on its own account (`SSERelayReader`'s `drop`)."""
        ...


# How one dialect reads a relayed event: its name ("message" when the frame names none) and its data, parsed as
# JSON, or the data's text when it is not JSON (OpenAI's `[DONE]`).
ReadEvent = Callable[[str, Any, Tally], None]
# Whether a relayed event is one the client did not ask for (it is read, then left out of what is sent).
DropEvent = Callable[[Any], bool]


class SSERelayReader:
    """Reads relayed SSE bytes and hands each event to the dialect's `read` (usage, output, terminal).

    With `drop`, a frame whose event it matches is read and not sent: an OpenAI client that did not ask for the
    usage chunk gets none, although the gateway asked the upstream for it to bill the stream (openai_chat.py).

    Every relayed event is read, so this is a stream's per-event cost: the frames every SSE upstream sends
    (`data: …` and `event: …` + `data: …`, LF line ends) are read off the bytes, their JSON parsed without a
    decode to text; any other frame, a read with a CR in it and the rest of a frame begun in the last read go
    through `SSEDecoder` (the SSE rules' one home), a frame at a time, to the same events.
    """

    def __init__(self, read: ReadEvent, drop: DropEvent | None = None) -> None:
        self._read = read
        self._drop = drop
        self._decoder = SSEDecoder()
        self.tally = Tally()

    def feed(self, chunk: bytes) -> bytes:
        read, tally = self._read, self.tally
        left_out: list[tuple[int, int]] = []  # the frames `drop` matched, by offset
        start, size = 0, len(chunk)
        if chunk.find(b"\r") >= 0 or not self._decoder.idle:  # find, not `in` (translate/sse.py says why)
            while start < size:  # CRLF frames, or a frame begun in the last read: all through the decoder
                after = next_frame_end(chunk, start)
                if self._decoded(chunk[start:after]):
                    left_out.append((start, after))
                start = after
            return _cut(chunk, left_out) if left_out else chunk
        drop = self._drop
        while start < size:
            end = chunk.find(b"\n\n", start)
            if end < 0:
                self._decoded(chunk[start:])  # an unfinished frame (a stream's last read): held by the decoder
                break
            after = end + 2
            line_end = chunk.find(b"\n", start, end)
            if line_end < 0 and chunk.startswith(b"data: ", start):
                data = _json_bytes(chunk[start + 6 : end])
                read("message", data, tally)
            elif (
                line_end >= 0
                and chunk.startswith(b"event: ", start)
                and chunk.startswith(b"data: ", line_end + 1)
                and chunk.find(b"\n", line_end + 1, end) < 0
            ):
                data = _json_bytes(chunk[line_end + 7 : end])
                read(chunk[start + 7 : line_end].decode("utf-8", errors="replace"), data, tally)
            else:  # a comment, a multi-line data, another field: the decoder's rules (its state is empty here)
                if self._decoded(chunk[start:after]):
                    left_out.append((start, after))
                start = after
                continue
            if drop is not None and drop(data):
                left_out.append((start, after))
            start = after
        return _cut(chunk, left_out) if left_out else chunk

    def _decoded(self, piece: bytes) -> bool:
        """Read the events `piece` completes through the decoder; whether `drop` matched one of them."""
        matched = False
        for event in self._decoder.feed(piece):
            data = _json(event.data)
            self._read(event.event, data, self.tally)
            matched = matched or (self._drop is not None and self._drop(data))
        return matched


def _cut(chunk: bytes, ranges: list[tuple[int, int]]) -> bytes:
    """`chunk` minus these (ordered, disjoint) ranges."""
    kept, at = [], 0
    for start, end in ranges:
        kept.append(chunk[at:start])
        at = end
    kept.append(chunk[at:])
    return b"".join(kept)


def _json(data: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data


def _json_bytes(data: bytes) -> Any:
    """`_json` of the data's text, without decoding it first (bytes that are not UTF-8 are decoded as the decoder
    does, replaced)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _json(data.decode("utf-8", errors="replace"))


class NoRelay:
    """For a dialect no adapter speaks: nothing is ever relayed to it."""

    def __init__(self) -> None:
        self.tally = Tally()

    def feed(self, chunk: bytes) -> bytes:
        raise AssertionError("this dialect is never served by passthrough")
