"""The one SSE reader and the one AWS event-stream reader over an upstream body.

Both read `aiter_bytes()` of an `UpstreamReply` (aiohttp fast path or httpx) and yield decoded items; a frame
that cannot be decoded raises ValueError, which `relay` maps to a 502 like any other malformed upstream body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from bifrostc.runtime.http import UpstreamReply
from bifrostc.runtime.translate.sse import aiter_sse

Frame = tuple[str, dict[str, Any]]  # (event name, JSON object)


async def sse_json(response: UpstreamReply) -> AsyncIterator[Frame]:
    """(event name, JSON object) per SSE event, up to OpenAI's `data: [DONE]`; non-object data is skipped."""
    async for event in aiter_sse(response.aiter_bytes()):  # WHATWG framing (translate.sse.SSEDecoder)
        data = event.data
        if data == "[DONE]":
            return
        if not data:
            continue
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"malformed stream event: {data[:80]!r}") from exc
        if isinstance(parsed, dict):
            yield event.event, parsed


async def event_stream_frames(response: UpstreamReply) -> AsyncIterator[Frame]:
    """`application/vnd.amazon.eventstream` bytes -> (event or exception type, JSON payload) (Bedrock)."""
    from botocore.eventstream import EventStreamBuffer, ParserError  # type: ignore[import-untyped, unused-ignore]  # bifrostc[aws]

    buffer = EventStreamBuffer()
    async for chunk in response.aiter_bytes():
        buffer.add_data(chunk)
        try:
            messages = list(buffer)
        except ParserError as exc:
            raise ValueError(f"corrupt event-stream frame: {exc}") from exc
        for message in messages:
            headers = message.headers
            kind = headers.get(":message-type", "event")
            if kind == "event":
                name = headers.get(":event-type", "")
            elif kind == "exception":
                name = headers.get(":exception-type", "")
            else:
                name = "internalServerException"
            if kind == "error":
                payload: Any = {"message": headers.get(":error-message", headers.get(":error-code", "error"))}
            else:
                try:
                    payload = orjson.loads(message.payload) if message.payload else {}
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"malformed event-stream payload: {exc}") from exc
            yield name, payload if isinstance(payload, dict) else {}
