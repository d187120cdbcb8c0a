"""Keep-alives for client streams: `KeepAlive(items, interval)` yields the items of `items` and `PING` whenever
`interval` seconds pass without one, so a silent upstream (a reasoning model thinking, a slow provider) never
leaves the client's idle watchdog, or a proxy in between, without bytes.

The upstream is read by a task of its own, up to `AHEAD` items ahead, so the wait for the next item can be
interrupted without cancelling the upstream's iterator; the items of one upstream read reach the consumer in one
wake-up (`ready`/`take` let it send them together), not one task switch each. One timer per stream, re-armed
only when it fires (as `dispatch.PrimedStream` does for its read deadline): a stream whose items come faster
than `interval` pays no per-item timer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Final, Generic, TypeVar

T = TypeVar("T")
AHEAD: Final = 64  # items read before the client took them: bounds a stream's buffer, keeps the client's pace


class Ping:
    """The marker `KeepAlive` yields for a silence: the relay sends its dialect's keep-alive frame."""

    __slots__ = ()


PING: Final = Ping()


class KeepAlive(Generic[T]):
    """Items of `source` in order, `PING` after each `interval` s without one; errors of `source` re-raised."""

    def __init__(self, source: AsyncIterator[T], interval: float) -> None:
        self._source = source
        self._interval = interval
        self._ready: deque[tuple[T | None, BaseException | None]] = deque()
        self._ended = False
        self._task: asyncio.Task[None] | None = None
        self._wanted: asyncio.Future[bool] | None = None  # the consumer's wait: True when it is a silence
        self._taken: asyncio.Future[None] | None = None  # the reader's wait for the consumer to take an item
        self._waiting_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def __aiter__(self) -> KeepAlive[T]:
        return self

    async def __anext__(self) -> T | Ping:
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._read())
        if not self._ready and not self._ended:
            self._wanted = loop.create_future()
            self._waiting_since = loop.time()
            if self._timer is None:
                self._timer = loop.call_at(self._waiting_since + self._interval, self._on_timer)
            try:
                silence = await self._wanted
            finally:
                self._wanted = self._waiting_since = None
            if silence:
                return PING
        if not self._ready:
            raise StopAsyncIteration
        item, error = self._ready.popleft()
        if self._taken is not None and not self._taken.done():
            self._taken.set_result(None)
        if error is not None:
            raise error
        return item  # type: ignore[return-value]  # an item, since error is None

    def ready(self) -> bool:
        """Whether an item (not an error) was read and waits: `take` returns it without waiting."""
        return bool(self._ready) and self._ready[0][1] is None

    def take(self) -> T:
        """The next waiting item (only after `ready()` said there is one)."""
        item, _ = self._ready.popleft()
        if self._taken is not None and not self._taken.done():
            self._taken.set_result(None)
        return item  # type: ignore[return-value]  # an item, since ready() saw no error

    def _on_timer(self) -> None:
        self._timer = None
        since = self._waiting_since
        if since is None or self._wanted is None:
            return  # not waiting: the next wait arms a fresh timer
        loop = asyncio.get_running_loop()
        if loop.time() >= since + self._interval:
            if not self._wanted.done():
                self._wanted.set_result(True)
        else:
            self._timer = loop.call_at(since + self._interval, self._on_timer)

    def _wake(self) -> None:
        if self._wanted is not None and not self._wanted.done():
            self._wanted.set_result(False)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for item in self._source:
                self._ready.append((item, None))
                self._wake()
                if len(self._ready) >= AHEAD:  # the client's pace is the upstream's
                    self._taken = loop.create_future()
                    await self._taken
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # re-raised in the consumer, which turns it into the dialect's error event
            self._ready.append((None, exc))
        finally:
            self._ended = True
            self._wake()

    async def aclose(self) -> None:
        """Stop reading (the caller then closes `source` itself); idempotent."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
