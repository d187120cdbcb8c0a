"""Helpers to drive parsers and encoders over whole streams."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bifrostc.runtime.translate import anthropic, openai
from bifrostc.runtime.types import StreamEvent


def parse_openai_chunks(chunks: Iterable[dict[str, Any]]) -> list[StreamEvent]:
    parser = openai.StreamParser()
    events: list[StreamEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events + parser.finish()


def parse_anthropic_events(frames: Iterable[dict[str, Any]]) -> list[StreamEvent]:
    parser = anthropic.StreamParser()
    events: list[StreamEvent] = []
    for frame in frames:
        events.extend(parser.feed(frame["type"], frame))
    return events + parser.finish()


def encode_anthropic(events: Iterable[StreamEvent]) -> bytes:
    encoder = anthropic.StreamEncoder()
    return b"".join(encoder.encode(e) for e in events)


def encode_openai(events: Iterable[StreamEvent], **options: Any) -> bytes:
    encoder = openai.StreamEncoder(created=1_700_000_000, **options)
    return b"".join(encoder.encode(e) for e in events)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    """An OpenAI chat.completion.chunk as upstreams send it."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-9x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-5",
        "choices": choices,
        **fields,
    }


def tool_delta(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        call.update(id=call_id, type="function")
        call["function"]["name"] = name
    return {"tool_calls": [call]}
