"""Upstream bodies relayed unchanged to a same-dialect client, checked before anything is committed to it.

A 200 whose body is not what the API documents (HTML from a proxy, malformed JSON, the wrong content type) or
that carries an error object (or a stream whose first event is an error) is raised as an `UpstreamError`, so
it is retried, falls back and is logged with its real status like any other upstream failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from bifrostc.runtime.http import UpstreamReply
from bifrostc.runtime.translate.bedrock_stream import EXCEPTION_STATUS
from bifrostc.runtime.translate.sse import ServerSentEvent, SSEDecoder, next_frame_end
from bifrostc.runtime.transport.errors import anthropic_envelope, error_from_transport, malformed, upstream_error

# Anthropic error types (inverse of errors.anthropic_error_type) and OpenAI ones, for errors sent inside a 200.
_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 529,
}


def error_in_body(data: Any) -> tuple[int, str] | None:
    """(status, message) of an error an upstream sent inside a 2xx JSON object or stream event, in any family's
    shape: `{"error": {...}}` (OpenAI family, Google, Cohere), Anthropic's `{"type": "error", "error": {...}}`."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else _STATUS_BY_TYPE.get(str(error.get("type")), 502)
    return status, str(error.get("message") or "an error inside a 200 response")


def _raise_error_in(data: Any, provider: str) -> None:
    found = error_in_body(data)
    if found is not None:
        raise upstream_error(provider, *found, envelope=anthropic_envelope(data))


def check_json(body: bytes, content_type: str, provider: str) -> Any:
    """The parsed JSON object of a 2xx body, or the UpstreamError it stands for."""
    if content_type and "json" not in content_type:
        raise malformed(provider, f"a {content_type.split(';', 1)[0]} body where JSON was expected")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise malformed(provider, f"a body that is not JSON ({body[:40]!r})") from None
    if not isinstance(data, dict):
        raise malformed(provider, "a JSON body that is not an object")
    _raise_error_in(data, provider)
    return data


async def upstream_bytes(response: UpstreamReply, provider: str) -> bytes:
    """A non-stream body, read to the end and checked (see the module docstring)."""
    try:
        body = await response.aread()
    except httpx.TransportError as exc:
        raise error_from_transport(exc, provider) from exc
    finally:
        await response.aclose()
    check_json(body, response.headers.get("content-type", ""), provider)
    return body


async def raw_stream(response: UpstreamReply, provider: str) -> AsyncIterator[bytes]:
    """The upstream body as received (content-encoding undone), cut at SSE frame boundaries so a failure
    mid-frame never leaves half an event before our closing error event; the first frame is checked first."""
    try:
        content_type = response.headers.get("content-type", "")
        if content_type and "event-stream" not in content_type:
            body = await response.aread()
            if "json" in content_type:
                _raise_error_in(_loads(body), provider)
            raise malformed(
                provider, f"a {content_type.split(';', 1)[0] or 'untyped'} body where a stream was expected"
            )
        pending = held = b""  # held: comment-only frames, relayed once the first event passed its check
        checked = False
        async for chunk in response.aiter_bytes():
            pending += chunk
            end = frame_end(pending)
            if end:
                ready, pending = pending[:end], pending[end:]
                if not checked:
                    checked = _check_first_event(held + ready, provider)
                    if not checked:
                        held += ready
                        continue
                    ready, held = held + ready, b""
                yield ready
        if pending or held:
            if not checked and not _check_first_event(held + pending + b"\n\n", provider):
                raise malformed(provider, "no event before the stream ended")
            yield held + pending
    except httpx.TransportError as exc:
        raise error_from_transport(exc, provider) from exc
    finally:
        await response.aclose()


def _loads(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _check_first_event(frames: bytes, provider: str) -> bool:
    """Raise when the first event is an error or unreadable; False while only comments arrived (OpenRouter's
    `: OPENROUTER PROCESSING` keep-alives come before the first event)."""
    decoder, start = SSEDecoder(), 0
    events: list[ServerSentEvent] = []
    while not events and start < len(frames):  # frame by frame: the rest of the read is the relay reader's
        end = next_frame_end(frames, start)
        events, start = decoder.feed(frames[start:end]), end
    if not events:
        return False
    first = events[0]
    data = _loads(first.data)
    _raise_error_in(data, provider)
    if first.event == "error":
        raise malformed(provider, f"an error event before any other event ({first.data[:80]!r})")
    if data is None:
        raise malformed(provider, f"a malformed first stream event ({first.data[:40]!r})")
    return True


def frame_end(buffer: bytes) -> int:
    """Offset just past the last complete SSE frame in `buffer` (0 when there is none)."""
    lf = buffer.rfind(b"\n\n")
    crlf = buffer.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)


async def raw_event_stream(response: UpstreamReply, provider: str) -> AsyncIterator[bytes]:
    """An AWS event stream (Bedrock) as received, cut at frame boundaries; the first frame is checked first (an
    exception frame raises like an error status)."""
    from botocore.eventstream import EventStreamBuffer, ParserError  # type: ignore[import-untyped, unused-ignore]  # bifrostc[aws]

    try:
        content_type = response.headers.get("content-type", "")
        if "eventstream" not in content_type:
            body = await response.aread()
            if "json" in content_type:
                _raise_error_in(_loads(body), provider)
            raise malformed(
                provider, f"a {content_type.split(';', 1)[0] or 'untyped'} body where an event stream was expected"
            )
        pending, checked = b"", False
        async for chunk in response.aiter_bytes():
            pending += chunk
            end = _frames_end(pending)
            if not end:
                continue
            ready, pending = pending[:end], pending[end:]
            if not checked:
                buffer = EventStreamBuffer()
                buffer.add_data(ready)
                try:
                    first = next(iter(buffer))
                except ParserError as exc:
                    raise malformed(provider, f"a corrupt event-stream frame ({exc})") from None
                if first.headers.get(":message-type") != "event":
                    name = str(first.headers.get(":exception-type") or first.headers.get(":error-code") or "error")
                    detail = _loads(first.payload) or {}
                    message = detail.get("message", name) if isinstance(detail, dict) else name
                    raise upstream_error(provider, EXCEPTION_STATUS.get(name, 502), str(message))
                checked = True
            yield ready
        if pending or not checked:
            raise malformed(
                provider, "an event stream that ended inside a frame" if pending else "an empty event stream"
            )
    except httpx.TransportError as exc:
        raise error_from_transport(exc, provider) from exc
    finally:
        await response.aclose()


def _frames_end(buffer: bytes) -> int:
    """Offset just past the last complete event-stream frame in `buffer` (each frame starts with its length)."""
    end = 0
    while len(buffer) - end >= 4:
        total = int.from_bytes(buffer[end : end + 4], "big")
        if total < 16 or len(buffer) - end < total:
            break
        end += total
    return end
