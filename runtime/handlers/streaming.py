"""Streaming bodies: canonical events encoded for the client, or upstream bytes relayed unchanged (read and checked
by `transport.passthrough`), with the dialect's keep-alive frame during upstream silences; settled once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.dialects.base import EventEncoder
from bifrostc.runtime.dialects.relay import RelayReader, Tally
from bifrostc.runtime.disconnect import signal_of
from bifrostc.runtime.dispatch import PrimedStream
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.handlers.keepalive import KeepAlive, Ping
from bifrostc.runtime.translate import replay
from bifrostc.runtime.types import ChatResponse, MessageStart, StreamError, StreamEvent, Usage

log = logging.getLogger("bifrostc.stream")
CLIENT_CLOSED = 499
Done = Callable[[Usage | None, ChatResponse | None], Awaitable[None]]
_settling: set[asyncio.Task[None]] = set()  # settle tasks in flight: the loop keeps only weak references


class LazyEncoder:
    """The dialect's encoder, built at its first event: a relayed stream needs one only to end in an error event,
    and building one is not free (the Responses encoder indexes the request's tools and echoes its settings:
    ~6% of a Codex turn, bench/RESULTS.md)."""

    def __init__(self, build: Callable[[], EventEncoder]) -> None:
        self._build = build
        self._inner: EventEncoder | None = None

    def encode(self, event: StreamEvent) -> bytes:
        if self._inner is None:
            self._inner = self._build()
        return self._inner.encode(event)


class StreamRelay:
    """One client stream: relays a primed upstream stream, then settles it (closes the upstream, bills, caches,
    logs) exactly once.

    Settling runs in its own task and is awaited through `asyncio.shield`: when the client goes away, Starlette
    cancels the body iterator, and anything awaited in its `finally` would be cancelled with it (the stream was
    then neither logged nor billed). A stream whose terminal frame was sent is complete, even if the client
    closes before the upstream's EOF (the openai SDK closes right after `data: [DONE]`).
    """

    def __init__(
        self,
        ctx: RequestContext,
        upstream: PrimedStream[Any] | asyncio.Future[PrimedStream[Any]],
        encoder: EventEncoder,
        relay_reader: Callable[[], RelayReader],
        prompt: object,
        done: Done,
        *,
        keepalive: bytes,
        ping_seconds: float,
        on_frame: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`upstream` is the primed stream, or the dispatch still waiting for one (its retries and fallbacks then
        run behind the keep-alives); `relay_reader` makes the reader of relayed bytes (passthrough); `prompt` is
        the client's body, for an estimate of the prompt's tokens when the upstream never counted them;
        `keepalive` is sent after each `ping_seconds` without an upstream item (the dialect's ping or comment);
        `on_frame` is awaited once the frames of a send are encoded, before they go (a stored Responses turn keeps its
        response there, so the client's next turn, sent once it read the terminal frame, finds it)."""
        self.ctx, self.encoder, self.done, self.prompt = ctx, encoder, done, prompt
        self.on_frame = on_frame
        self.keepalive = keepalive
        self._relay_reader = relay_reader
        self.reader: RelayReader | None = None
        self.tally = Tally()
        self.primed: PrimedStream[Any] | None = None
        self._pending: asyncio.Future[PrimedStream[Any]] | None = None
        self._late_items: AsyncGenerator[Any, None] | None = None  # reads a late dispatch's stream
        if isinstance(upstream, PrimedStream):
            self._bind(upstream)
            self.paced: KeepAlive[Any] = KeepAlive(upstream, ping_seconds)
        else:
            self._pending = upstream
            self._late_items = self._late(upstream)
            self.paced = KeepAlive(self._late_items, ping_seconds)
        self.events: list[StreamEvent] = []
        self.failed = False
        self.finished = False
        self._settling: asyncio.Task[None] | None = None
        self._first_output: float | None = None  # when output was first and last relayed (monotonic)
        self._last_output = 0.0

    def _timed(self, events_before: int) -> None:
        """Note the time when the item just relayed carried output (text, thinking or tool arguments)."""
        if self.tally.output_events > events_before:
            self._last_output = time.monotonic()
            if self._first_output is None:
                self._first_output = self._last_output

    def _bind(self, primed: PrimedStream[Any]) -> None:
        self.primed = primed
        self.ctx.passthrough = isinstance(primed.first, bytes)
        if self.ctx.passthrough:
            self.reader = self._relay_reader()
            self.tally = self.reader.tally

    async def _late(self, pending: asyncio.Future[PrimedStream[Any]]) -> AsyncGenerator[Any, None]:
        primed = await pending  # a GatewayError here reaches the client as the dialect's error event
        self._bind(primed)
        async for item in primed:
            yield item

    async def body(self) -> AsyncIterator[bytes]:
        """The client's body; an error after bytes went out closes it with the dialect's error event."""
        ctx, paced = self.ctx, self.paced
        try:
            async for item in paced:
                if isinstance(item, Ping):
                    if not self.finished:  # nothing after the terminal frame
                        yield self.keepalive  # between two frames: the relay only ever sends whole ones
                    continue
                out, late = self._render(item), None
                if paced.ready():  # the rest of the same upstream read: one send for all of it
                    parts = [out]
                    while paced.ready():
                        try:
                            parts.append(self._render(paced.take()))
                        except GatewayError as exc:  # after the frames before it went out, as one by one
                            late = exc
                            break
                    out = b"".join(parts)
                if self.on_frame is not None:  # after the frames were encoded, before they are sent
                    await self.on_frame()
                if out:  # empty when the relay reader left a whole read out (a usage chunk nobody asked for)
                    yield out
                self.finished = self.tally.terminal  # resumed: the frames were sent
                if late is not None:
                    raise late
            self.finished = True
        except GatewayError as exc:
            self.failed = self.finished = True
            ctx.status, ctx.error = exc.status, exc.message
            log.warning("request %s: stream failed mid-way: %s", ctx.request_id, exc.message)
            yield self.encoder.encode(StreamError(type=exc.anthropic_type, message=exc.message, status=exc.status))
        finally:
            await self.settle()

    def _render(self, item: Any) -> bytes:
        """One upstream item as the client's bytes, counted (relayed bytes as they came, events encoded)."""
        tally = self.tally  # bound once the upstream answered (a late one: after the first keep-alives)
        before = tally.output_events
        if isinstance(item, bytes):
            assert self.reader is not None, "relayed bytes come only from a passthrough stream"
            sent = self.reader.feed(item)
            self._timed(before)
            return sent
        if isinstance(item, MessageStart):
            item.model = self.ctx.requested_model
        elif isinstance(item, StreamError):
            self.failed = True
            self.ctx.status, self.ctx.error = item.status, item.message
        tally.add(item)
        self._timed(before)
        self.events.append(item)
        return self.encoder.encode(item)

    async def settle(self) -> None:
        """Idempotent; survives the cancellation of whoever awaits it."""
        if self._settling is None:
            if not self.finished and not self.failed:
                # The client went away mid-stream (nginx's 499): log it as such, bill what was relayed, cache nothing.
                self.failed = True
                self.ctx.status, self.ctx.error = CLIENT_CLOSED, "client closed the stream"
            self._settling = asyncio.create_task(self._settle())
            _settling.add(self._settling)
            self._settling.add_done_callback(_settling.discard)
        await asyncio.shield(self._settling)

    async def _settle(self) -> None:
        try:
            await self.paced.aclose()  # the reader task first: the upstream iterator must not be running
            if self._late_items is not None:
                await self._late_items.aclose()  # leaves the stream it read to the lines below
            primed = self.primed or await _abandon(self._pending)
            if primed is not None:
                await primed.aclose()
        except (GatewayError, OSError, httpx.HTTPError, RuntimeError) as exc:
            log.warning("request %s: closing the upstream stream failed: %s", self.ctx.request_id, exc)
        if self.primed is None:  # no upstream ever answered: nothing to bill
            await self.done(None, None)
            return
        usage, self.ctx.usage_estimated = self.tally.billed(self.prompt)
        self.ctx.finish_reason = self.tally.stop_reason
        if self._first_output is not None:
            self.ctx.time_to_first_token_s = self._first_output - self.ctx.started
            if self.tally.output_events > 1:  # events relayed in one read share a time: their gap is 0
                gaps = self.tally.output_events - 1
                self.ctx.inter_token_latency_s = (self._last_output - self._first_output) / gaps
        response = None if self.failed or self.ctx.passthrough else _assemble(self.events)
        await self.done(usage, response)


class RelayResponse(StreamingResponse):
    """A StreamingResponse that settles its relay even when the body was never iterated (an early disconnect),
    and stops the stream when the client goes away: on the server's `DisconnectSignal` where it gives one
    (`bifrostc serve`, runtime/disconnect.py), else with one plain task waiting on `receive()`. Starlette's own
    (for servers below ASGI 2.4, uvicorn included) runs the body in an anyio task group beside a listener, ~7% of
    a short stream's CPU."""

    def __init__(self, relay: StreamRelay, headers: Mapping[str, str]) -> None:
        super().__init__(relay.body(), media_type="text/event-stream", headers=headers)
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        leaving = _Leaving(task)
        signal = signal_of(scope)
        watcher = None
        if signal is None:
            watcher = asyncio.create_task(_watch_disconnect(receive, leaving))
        else:
            signal.add(leaving)
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not leaving.gone or task.uncancel() > 0:  # not (only) the client's leaving: pass it on
                raise
        except OSError:  # an ASGI 2.4 server says so by failing the send
            pass
        finally:
            if watcher is not None:
                watcher.cancel()
            elif signal is not None:
                signal.discard(leaving)
            await self.relay.settle()


class _Leaving:
    """What a client's disconnect does to its stream: the stream's task is cancelled, and knows why."""

    __slots__ = ("gone", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task, self.gone = task, False

    def __call__(self) -> None:
        self.gone = True
        self.task.cancel()


async def _watch_disconnect(receive: Receive, leaving: _Leaving) -> None:
    """Wait for the client's disconnect (the body was read already: nothing else arrives)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    leaving()


async def _abandon(pending: asyncio.Future[PrimedStream[Any]] | None) -> PrimedStream[Any] | None:
    """A dispatch nobody waits for any more: cancelled, or its stream handed back to be closed."""
    if pending is None:
        return None
    if not pending.done():
        pending.cancel()
        await asyncio.wait({pending})
    if pending.cancelled() or pending.exception() is not None:
        return None
    return pending.result()


def _assemble(events: list[StreamEvent]) -> ChatResponse | None:
    try:
        return replay.events_to_response(events)
    except (AttributeError, KeyError, ValueError, TypeError, IndexError):
        return None
