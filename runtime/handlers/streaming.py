"""Streaming bodies: canonical events encoded for the client, or upstream bytes relayed unchanged (read and checked
by `transport.passthrough`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.dispatch import PrimedStream
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate import replay
from bifrostc.runtime.translate.sse import SSEDecoder
from bifrostc.runtime.types import ChatResponse, MessageDelta, MessageStart, StreamError, StreamEvent, Usage

log = logging.getLogger("bifrostc.stream")
CLIENT_CLOSED = 499
Done = Callable[[Usage | None, ChatResponse | None], Awaitable[None]]


def merge_usage(total: Usage, part: Usage) -> None:
    """Stream usage arrives in pieces (input at start, output at the end): keep the largest of each."""
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
        setattr(total, name, max(getattr(total, name), getattr(part, name)))


class UsageSniffer:
    """Reads usage out of relayed SSE bytes without touching them (passthrough streams)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.decoder = SSEDecoder()
        self.usage = Usage()

    def feed(self, chunk: bytes) -> None:
        for event in self.decoder.feed(chunk):
            if '"usage"' not in event.data:
                continue
            try:
                data = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                continue
            usage = (data.get("message") or data).get("usage") if isinstance(data, dict) else None
            if isinstance(usage, dict):
                merge_usage(self.usage, _usage_from(self.dialect, usage))


def _usage_from(dialect: str, raw: dict[str, Any]) -> Usage:
    if dialect == "anthropic":
        return Usage(
            input_tokens=int(raw.get("input_tokens") or 0),
            output_tokens=int(raw.get("output_tokens") or 0),
            cache_read_tokens=int(raw.get("cache_read_input_tokens") or 0),
            cache_write_tokens=int(raw.get("cache_creation_input_tokens") or 0),
        )
    cached = int((raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return Usage(
        input_tokens=max(0, int(raw.get("prompt_tokens") or 0) - cached),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cache_read_tokens=cached,
    )


async def event_stream(
    ctx: RequestContext, primed: PrimedStream[Any], encoder: Any, done: Done
) -> AsyncIterator[bytes]:
    """Relay a primed stream; an error after bytes went out closes it with the dialect's error event."""
    usage = Usage()
    sniffer = UsageSniffer(ctx.dialect)
    events: list[StreamEvent] = []
    failed = False
    finished = False
    try:
        async for item in primed:
            if isinstance(item, bytes):
                sniffer.feed(item)
                yield item
                continue
            if isinstance(item, MessageStart):
                item.model = ctx.requested_model
                merge_usage(usage, item.usage)
            elif isinstance(item, MessageDelta):
                merge_usage(usage, item.usage)
            elif isinstance(item, StreamError):
                failed = True
                ctx.status, ctx.error = item.status, item.message
            events.append(item)
            yield encoder.encode(item)
        finished = True
    except GatewayError as exc:
        failed = True
        ctx.status, ctx.error = exc.status, exc.message
        log.warning("request %s: stream failed mid-way: %s", ctx.request_id, exc.message)
        finished = True
        yield encoder.encode(StreamError(type=exc.anthropic_type, message=exc.message, status=exc.status))
    finally:
        if not finished and not failed:
            # The client went away mid-stream (nginx's 499): log it as such, bill what was used, cache nothing.
            failed = True
            ctx.status, ctx.error = CLIENT_CLOSED, "client closed the stream"
        await primed.aclose()
        final_usage = sniffer.usage if ctx.passthrough else usage
        response = None if failed or ctx.passthrough else _assemble(events)
        await done(final_usage, response)


def _assemble(events: list[StreamEvent]) -> ChatResponse | None:
    try:
        return replay.events_to_response(events)
    except (AttributeError, KeyError, ValueError, TypeError, IndexError):
        return None
