"""The first-event rule, the same for every family.

A stream that fails before its first canonical event RAISES `UpstreamError` (so `dispatch.prime` lets retries,
fallbacks and the breaker treat it like any failed call); once an event went out, a failure becomes the
canonical `StreamError` tail and the stream ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import TypeVar

import httpx

from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.http import UpstreamReply
from bifrostc.runtime.transport.errors import error_from_transport, malformed, upstream_error
from bifrostc.runtime.types import StreamError, StreamEvent

T = TypeVar("T")


async def relay(
    response: UpstreamReply,
    items: AsyncIterator[T],
    feed: Callable[[T], Iterable[StreamEvent]],
    finish: Callable[[], Iterable[StreamEvent]],
    provider: str,
) -> AsyncIterator[StreamEvent]:
    """Feed decoded upstream items to a translator's parser; closes `response` when done, however it ends."""
    started = False
    failure: UpstreamError
    try:
        try:
            async for item in items:
                for event in feed(item):
                    if isinstance(event, StreamError):
                        if not started:
                            raise upstream_error(provider, event.status, event.message)
                        yield event
                        return  # an error event ends the canonical stream; nothing may follow it
                    started = True
                    yield event
            if not started:
                raise malformed(provider, "no event before the stream ended")
            for event in finish():
                yield event
                if isinstance(event, StreamError):
                    return
            return
        except httpx.TransportError as exc:
            failure = error_from_transport(exc, provider)
        except (ValueError, KeyError, TypeError) as exc:  # a frame or event the translator cannot read
            failure = malformed(provider, f"a malformed stream ({exc})")
        if not started:
            raise failure
        yield StreamError(failure.anthropic_type, failure.message, failure.status)
    finally:
        await response.aclose()
