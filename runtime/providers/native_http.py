"""HTTP plumbing shared by the native adapters (Bedrock, Vertex, Gemini, Cohere).

Turns error responses and transport failures into ``UpstreamError`` with the upstream status and
retry-after kept, and reads SSE bodies as JSON events.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.types import StreamError, StreamEvent

T = TypeVar("T")


def request_timeout(network: config.Network) -> httpx.Timeout:
    return httpx.Timeout(network.read_timeout, connect=network.connect_timeout)


@contextlib.contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Map httpx failures to 504 (timeout) or 502 (anything else on the wire)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UpstreamError(f"{provider}: upstream timed out ({exc!r})", status=504, provider=provider) from exc
    except httpx.TransportError as exc:
        raise UpstreamError(f"{provider}: upstream unreachable ({exc!r})", status=502, provider=provider) from exc


async def raise_for_status(response: httpx.Response, provider: str, *, retry_after: float | None = None) -> None:
    """Raise ``UpstreamError`` for a non-2xx response (reads the body, so call it before streaming)."""
    if response.is_success:
        return
    body = await response.aread()
    message = error_message(body) or response.reason_phrase
    raise UpstreamError(
        f"{provider}: {message}",
        status=response.status_code,
        provider=provider,
        retry_after=retry_after if retry_after is not None else parse_retry_after(response.headers),
        body=body,
    )


def error_message(body: bytes) -> str:
    """Best-effort message from the error JSON shapes our providers use."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body[:500].decode("utf-8", "replace").strip()
    if isinstance(data, list) and data:
        data = data[0]  # Google sometimes wraps the error object in a list
    if not isinstance(data, dict):
        return str(data)[:500]
    error = data.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    for key in ("message", "Message", "error"):
        if data.get(key):
            return str(data[key])
    return json.dumps(data)[:500]


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """``retry-after-ms``, ``retry-after`` in seconds, or an HTTP date."""
    if "retry-after-ms" in headers:
        with contextlib.suppress(ValueError):
            return float(headers["retry-after-ms"]) / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


async def iter_sse(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Yield ``(event name, JSON data)`` per SSE event; data lines of one event are joined with newlines."""
    event, data_lines = "", []
    async for line in response.aiter_lines():
        if not line:
            if data_lines:
                parsed = _parse_data("\n".join(data_lines))
                if parsed is not None:
                    yield event, parsed
            event, data_lines = "", []
        elif line.startswith("data:"):
            data_lines.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
    if data_lines:
        parsed = _parse_data("\n".join(data_lines))
        if parsed is not None:
            yield event, parsed


def _parse_data(data: str) -> dict[str, Any] | None:
    if data.strip() == "[DONE]":
        return None
    parsed = json.loads(data)
    return parsed if isinstance(parsed, dict) else None


async def relay_events(
    source: AsyncIterator[T],
    feed: Callable[[T], list[StreamEvent]],
    finish: Callable[[], list[StreamEvent]],
    provider: str,
) -> AsyncIterator[StreamEvent]:
    """Feed upstream items to a parser; a failure after the response started becomes a StreamError tail."""
    try:
        async for item in source:
            for event in feed(item):
                yield event
                if isinstance(event, StreamError):
                    return  # an error event ends the canonical stream; nothing may follow it
    except httpx.TimeoutException as exc:
        yield StreamError(type="api_error", message=f"{provider}: stream timed out ({exc!r})", status=504)
        return
    except httpx.TransportError as exc:
        yield StreamError(type="api_error", message=f"{provider}: stream broke ({exc!r})", status=502)
        return
    except (json.JSONDecodeError, ValueError) as exc:
        yield StreamError(type="api_error", message=f"{provider}: malformed stream data ({exc})", status=502)
        return
    for event in finish():
        yield event
