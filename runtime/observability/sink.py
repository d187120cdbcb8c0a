"""A non-blocking request-log sink: the hot path enqueues, a background task batches writes.

``submit`` never awaits and never does I/O: it puts the record on a bounded queue and, when the queue is
full, drops the record and counts it (a slow database must not slow down or fail a user's request).
The writer task takes up to ``batch_size`` records at a time, redacts bodies off the hot path, and hands
the batch to the store. ``aclose`` drains the queue before closing the store.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable

from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.store import LogStore

logger = logging.getLogger(__name__)

# What a failing store may raise; anything else is a bug and should surface.
_STORE_ERRORS: tuple[type[BaseException], ...] = (OSError, sqlite3.Error, RuntimeError, ValueError)
try:  # psycopg is optional
    import psycopg

    _STORE_ERRORS = (*_STORE_ERRORS, psycopg.Error)
except ImportError:  # pragma: no cover - depends on the install
    pass


class LogSink:
    def __init__(
        self,
        store: LogStore,
        *,
        max_queue: int = 10_000,
        batch_size: int = 200,
        log_bodies: bool = True,
        on_written: Callable[[list[RequestRecord]], None] | None = None,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.log_bodies = log_bodies
        self.dropped = 0  # records lost to a full queue
        self.failed = 0  # records lost to store errors
        self.written = 0
        self._queue: asyncio.Queue[RequestRecord] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task[None] | None = None
        self._on_written = on_written
        self._closing = False

    def submit(self, record: RequestRecord) -> bool:
        """Enqueue without waiting. Returns False when the record was dropped."""
        if self._closing:
            self.dropped += 1
            return False
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        await self.store.open()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bifrostc-log-sink")

    async def flush(self) -> None:
        """Wait until every record submitted so far has been written (or given up on)."""
        await self._queue.join()

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
        await self.store.close()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[RequestRecord]) -> None:
        prepared = [(r if self.log_bodies else r.without_bodies()).redacted() for r in batch]
        try:
            await self.store.write_batch(prepared)
        except _STORE_ERRORS:
            self.failed += len(prepared)
            logger.exception("request log: dropped a batch of %d records", len(prepared))
            return
        self.written += len(prepared)
        if self._on_written is not None:
            self._on_written(prepared)
