"""A non-blocking request-log sink: the hot path enqueues, a background task batches writes.

``submit`` never awaits and never does I/O: it appends the record to a bounded buffer and, when the buffer
is full, drops the record and counts it (a slow database must not slow down or fail a user's request).

Batching. One store write costs about the same whatever its size (SQLite: a thread hop and a transaction,
~200 µs), so the writer does not write as soon as one record arrives: it waits until ``batch_size`` records
are buffered or ``linger_s`` has passed since the first unwritten one, then writes everything buffered, in
chunks of at most ``batch_size``. Bodies are redacted there, off the hot path. ``flush`` cuts the linger short
and returns once every record submitted before it was written, spooled or given up on; ``aclose`` flushes,
then closes the store. Every answer waits for its row that way (``committed``, bounded), so the linger only
batches records nobody waits for; concurrent answers still share one write.

Nothing stops the log. A batch the store refuses is split until the record it refuses is alone; that record
is dropped (logged, counted under ``drops["bad_record"]``) and the rest are written. A store that cannot be
reached (:class:`StoreUnavailable`) loses nothing: records go to the disk spool, in order, and are replayed
before anything newer once a retry (backing off to ``MAX_RETRY_S``) gets through. And should the writer task
die all the same, it is started again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence

from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.spool import LogSpool
from bifrostc.runtime.observability.store import LogStore, StoreUnavailable

logger = logging.getLogger(__name__)

DEFAULT_LINGER_S = 0.025
FIRST_RETRY_S = 0.25
MAX_RETRY_S = 5.0

# What a failing store may raise; anything else is a bug and should surface.
_BASE_STORE_ERRORS: tuple[type[BaseException], ...] = (OSError, sqlite3.Error, RuntimeError, ValueError)

# Why records were lost (the ``reason`` label of bifrostc_log_records_dropped_total).
DROP_REASONS = (
    "queue_full",
    "closed",
    "bad_record",
    "store_unavailable",
    "spool_full",
    "spool_error",
    "writer_error",
)


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
        spool: LogSpool | None = None,
    ) -> None:
        self.store = store
        self.spool = spool
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.log_bodies = log_bodies
        self.drops: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.written = 0
        self.restarts = 0  # writer tasks that died and were started again
        self.available = True  # the last write reached the store
        self._retry_s = FIRST_RETRY_S
        self._next_retry = 0.0
        self._buffer: deque[RequestRecord] = deque()
        self._accepted = 0  # records ever accepted by submit
        self._settled = 0  # records written, spooled or given up on
        self._flush_waiters: list[tuple[int, asyncio.Future[bool]]] = []
        self._pass_started: float | None = None  # when the writer's current pass began (monotonic)
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_written = on_written
        self._closing = False

    @property
    def dropped(self) -> int:
        """Records refused at submit: a full buffer or a closed sink."""
        return self.drops["queue_full"] + self.drops["closed"]

    @property
    def failed(self) -> int:
        """Records accepted and then lost (refused by the store, or no spool to keep them)."""
        return sum(self.drops.values()) - self.dropped

    def drop_counts(self) -> dict[str, int]:
        """Records lost, by reason (for /metrics)."""
        corrupt = self.spool.corrupt if self.spool is not None else 0
        return {**self.drops, "spool_corrupt": corrupt}

    @property
    def unsettled(self) -> int:
        """Records accepted and not yet written, spooled or given up on (a killed process loses these)."""
        return self._accepted - self._settled

    @property
    def spooled(self) -> int:
        """Records on disk waiting for the store."""
        return self.spool.count if self.spool is not None else 0

    def submit(self, record: RequestRecord) -> bool:
        """Buffer without waiting. Returns False when the record was dropped."""
        if self._closing or len(self._buffer) >= self.max_queue:
            self.drops["closed" if self._closing else "queue_full"] += 1
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
        if self.spool is not None:
            await asyncio.to_thread(self.spool.open)
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._spawn()
            if self._buffer or self.spooled:
                self._wake.set()

    def _spawn(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bifrostc-log-sink")
        self._task.add_done_callback(self._writer_done)

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        if self._closing or task.cancelled():
            self._release_waiters()
            return
        self.restarts += 1
        logger.error("request log: the writer stopped (%r); starting it again", task.exception())
        self._spawn()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until every record submitted so far has been written, spooled (or given up on)."""
        waiter = self._waiter()
        if waiter is not None:
            await waiter

    async def committed(self, timeout: float) -> bool:
        """:meth:`flush`, bounded: False when ``timeout`` s passed first (the records are still written later).
        A request's answer awaits this, so a SIGKILL after its last byte cannot lose its row; concurrent
        requests share the write (each pass of the writer takes everything buffered), no fsync involved.
        While one pass has been writing for ``timeout`` s already (a frozen database), it returns at once."""
        if self._pass_started is not None and time.monotonic() - self._pass_started >= timeout:
            return False  # the store hangs on a write already: answers stop waiting until it moves again
        waiter = self._waiter()
        if waiter is None:
            return True
        timer = asyncio.get_running_loop().call_later(timeout, _give_up, waiter)  # cheaper than asyncio.wait
        try:
            return await waiter
        finally:
            timer.cancel()

    def _waiter(self) -> asyncio.Future[bool] | None:
        """A future set to True once every record accepted so far is settled."""
        if self._settled >= self._accepted or self._task is None or self._task.done():
            return None  # nothing left, or no writer (never started, or stopped) that could write it
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._flush_waiters.append((self._accepted, waiter))
        self._wake.set()
        return waiter

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
        if self.spool is not None:
            self.spool.close()
        await self.store.close()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _wait(self) -> None:
        """New records, or (while records wait in the spool) the next retry, whichever comes first."""
        if self.spooled:
            delay = 0.0 if self.available else max(0.0, self._next_retry - time.monotonic())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
        else:
            await self._wake.wait()
        self._wake.clear()
        self._disarm()  # records submitted while this pass writes arm a fresh linger

    async def _run(self) -> None:
        while True:
            await self._wait()
            if self.spooled and (self.available or time.monotonic() >= self._next_retry):
                try:
                    await self._replay()
                except OSError:  # the spool file went away or cannot be read: what it held is lost, not the log
                    assert self.spool is not None
                    self._drop("spool_error", self.spool.count)
                    logger.exception("request log: lost %d spooled records, the spool is unreadable", self.spool.count)
                    await asyncio.to_thread(self.spool.reset)
            taken, self._buffer = self._buffer, deque()
            self._pass_started = time.monotonic()
            try:
                while taken:
                    chunk = [taken.popleft() for _ in range(min(self.batch_size, len(taken)))]
                    try:
                        await self._take(chunk)
                    except Exception:  # a bug in here must cost these records, never the log
                        self._drop("writer_error", len(chunk))
                        logger.exception("request log: lost %d records to a writer error", len(chunk))
                    except asyncio.CancelledError:
                        raise
                    except BaseException:  # kills this task (restarted by _writer_done): the chunk goes with it
                        self._drop("writer_error", len(chunk))
                        raise
                    finally:
                        self._settle(len(chunk))
            finally:
                self._pass_started = None
                self._buffer.extendleft(reversed(taken))  # non-empty only if the task dies: its successor writes

    async def _take(self, chunk: list[RequestRecord]) -> None:
        prepared = [r.scrub(keep_bodies=self.log_bodies) for r in chunk]  # submitted records are the sink's
        if self.spool is not None and (self.spooled or not self.available):
            await self._to_spool(prepared)  # the spool is older than these: keep the order
            return
        done = await self._write(prepared)
        if done < len(prepared):
            await self._to_spool(prepared[done:])

    async def _replay(self) -> None:
        """Write spooled records back, oldest first, until the spool is empty or the store fails again."""
        spool = self.spool
        assert spool is not None
        while spool.count:
            entries = await asyncio.to_thread(spool.peek, self.batch_size)
            if not entries:
                await asyncio.to_thread(spool.commit, spool.count, spool.end())
                return
            done = await self._write([record for record, _ in entries])
            if done:
                await asyncio.to_thread(spool.commit, done, entries[done - 1][1])
            if done < len(entries):
                return
        logger.info("request log: spool replayed, writing to the store again")

    async def _write(self, records: Sequence[RequestRecord]) -> int:
        """Write ``records``, isolating any the store refuses; returns how many from the front were settled
        (written, or dropped as bad). The rest could not be written because the store is unavailable."""
        pending: deque[Sequence[RequestRecord]] = deque([records])
        done = 0
        while pending:
            chunk = pending.popleft()
            try:
                await self.store.write_batch(chunk)
            except StoreUnavailable as exc:
                self._unavailable(exc)
                return done
            except Exception as exc:  # the store refused something in this chunk: find it, keep the others
                if len(chunk) > 1:
                    middle = len(chunk) // 2
                    pending.extendleft((chunk[middle:], chunk[:middle]))
                    continue
                self._drop("bad_record", 1)
                logger.error("request log: dropped record %s, the store refused it: %r", chunk[0].id, exc)
                done += 1
                continue
            self._reachable()
            done += len(chunk)
            self.written += len(chunk)
            if self._on_written is not None:
                self._on_written(list(chunk))
        return done

    async def _to_spool(self, records: list[RequestRecord]) -> None:
        if self.spool is None:
            self._drop("store_unavailable", len(records))
            logger.error("request log: the store is unavailable and there is no spool: lost %d records", len(records))
            return
        try:
            result = await asyncio.to_thread(self.spool.append, records)
        except OSError as exc:  # a full or read-only disk
            self._drop("spool_error", len(records))
            logger.error(
                "request log: the store is unavailable and the spool cannot be written (%s): lost %d records",
                exc,
                len(records),
            )
            return
        for record in result.unencodable:
            self._drop("bad_record", 1)
            logger.error("request log: dropped record %s: it cannot be spooled as JSON", record.id)
        if result.over_limit:
            self._drop("spool_full", result.over_limit)
            logger.error("request log: the spool is full: lost %d records", result.over_limit)

    def _unavailable(self, exc: BaseException) -> None:
        if self.available:
            logger.warning("request log: the store is unavailable, spooling records to disk: %s", exc)
        else:
            self._retry_s = min(self._retry_s * 2, MAX_RETRY_S)
        self.available = False
        self._next_retry = time.monotonic() + self._retry_s

    def _reachable(self) -> None:
        if not self.available:
            logger.info("request log: the store is reachable again")
        self.available = True
        self._retry_s = FIRST_RETRY_S

    def _drop(self, reason: str, count: int) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + count

    def _release_waiters(self) -> None:
        """The writer stopped: nobody will write what is left, so no flush may wait for it."""
        for _, waiter in self._flush_waiters:
            if not waiter.done():
                waiter.set_result(True)
        self._flush_waiters = []

    def _settle(self, count: int) -> None:
        self._settled += count
        if not self._flush_waiters:
            return
        still_waiting = []
        for target, waiter in self._flush_waiters:
            if self._settled >= target:
                if not waiter.done():
                    waiter.set_result(True)
            else:
                still_waiting.append((target, waiter))
        self._flush_waiters = still_waiting


def _give_up(waiter: asyncio.Future[bool]) -> None:
    """``committed``'s timeout: stop waiting (the records are still written later)."""
    if not waiter.done():
        waiter.set_result(False)
