"""A non-blocking request-log sink: the hot path enqueues, a background task batches writes.

``submit`` never awaits and never does I/O: it appends the record to a bounded buffer and, when the buffer
is full, drops the record and counts it (a slow database must not slow down or fail a user's request).

Batching. One store write costs about the same whatever its size (SQLite: a thread hop and a transaction,
~200 µs), so the writer does not write as soon as one record arrives: it waits until ``batch_size`` records
are buffered or ``linger_s`` has passed since the first unwritten one, then writes everything buffered, in
chunks of at most ``batch_size``. Bodies are redacted there, off the hot path. ``flush`` cuts the linger short
and returns once every record submitted before it was written (or given up on); ``aclose`` flushes, then
closes the store.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from collections import deque
from collections.abc import Callable

from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.store import LogStore

logger = logging.getLogger(__name__)

DEFAULT_LINGER_S = 0.025

# What a failing store may raise; anything else is a bug and should surface.
_BASE_STORE_ERRORS: tuple[type[BaseException], ...] = (OSError, sqlite3.Error, RuntimeError, ValueError)


def store_errors() -> tuple[type[BaseException], ...]:
    """Also psycopg's errors once it is loaded (the postgres store imports it when it opens); importing it
    here would cost every gateway ~90 ms and ~10 MB at start-up."""
    psycopg = sys.modules.get("psycopg")
    error = getattr(psycopg, "Error", None) if psycopg is not None else None
    return (*_BASE_STORE_ERRORS, error) if isinstance(error, type) else _BASE_STORE_ERRORS


class LogSink:
    def __init__(
        self,
        store: LogStore,
        *,
        max_queue: int = 10_000,
        batch_size: int = 200,
        linger_s: float = DEFAULT_LINGER_S,
        log_bodies: bool = True,
        on_written: Callable[[list[RequestRecord]], None] | None = None,
    ) -> None:
        self.store = store
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.log_bodies = log_bodies
        self.dropped = 0  # records lost to a full buffer or a closed sink
        self.failed = 0  # records lost to store errors
        self.written = 0
        self._buffer: deque[RequestRecord] = deque()
        self._accepted = 0  # records ever accepted by submit
        self._settled = 0  # records written or given up on
        self._flush_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_written = on_written
        self._errors = _BASE_STORE_ERRORS
        self._closing = False

    def submit(self, record: RequestRecord) -> bool:
        """Buffer without waiting. Returns False when the record was dropped."""
        if self._closing or len(self._buffer) >= self.max_queue:
            self.dropped += 1
            return False
        self._buffer.append(record)
        self._accepted += 1
        if len(self._buffer) >= self.batch_size:
            self._wake.set()
        elif self._timer is None and self._loop is not None:
            self._timer = self._loop.call_later(self.linger_s, self._wake.set)
        return True

    @property
    def pending(self) -> int:
        """Records buffered and not yet taken by the writer."""
        return len(self._buffer)

    async def start(self) -> None:
        await self.store.open()
        self._errors = store_errors()
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self._run(), name="bifrostc-log-sink")
            self._task.add_done_callback(self._release_waiters)
            if self._buffer:
                self._wake.set()

    async def flush(self) -> None:
        """Wait until every record submitted so far has been written (or given up on)."""
        if self._settled >= self._accepted or self._task is None or self._task.done():
            return  # nothing left, or no writer (never started, or stopped) that could write it
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flush_waiters.append((self._accepted, waiter))
        self._wake.set()
        await waiter

    async def aclose(self) -> None:
        self._closing = True
        if self._task is not None:
            await self.flush()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._disarm()
        await self.store.close()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._disarm()  # records submitted while this pass writes arm a fresh linger
            taken, self._buffer = self._buffer, deque()
            try:
                while taken:
                    batch = [taken.popleft() for _ in range(min(self.batch_size, len(taken)))]
                    try:
                        await self._write(batch)
                    finally:
                        self._settle(len(batch))
            finally:
                self._settle(len(taken))  # nonzero only when the writer is cancelled or hits a bug

    def _release_waiters(self, _task: asyncio.Task[None]) -> None:
        """The writer stopped: nobody will write what is left, so no flush may wait for it."""
        for _, waiter in self._flush_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._flush_waiters = []

    def _settle(self, count: int) -> None:
        self._settled += count
        if not self._flush_waiters:
            return
        still_waiting = []
        for target, waiter in self._flush_waiters:
            if self._settled >= target:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                still_waiting.append((target, waiter))
        self._flush_waiters = still_waiting

    async def _write(self, batch: list[RequestRecord]) -> None:
        prepared = [r.scrub(keep_bodies=self.log_bodies) for r in batch]  # submitted records are the sink's
        try:
            await self.store.write_batch(prepared)
        except self._errors:
            self.failed += len(prepared)
            logger.exception("request log: dropped a batch of %d records", len(prepared))
            return
        self.written += len(prepared)
        if self._on_written is not None:
            self._on_written(prepared)
