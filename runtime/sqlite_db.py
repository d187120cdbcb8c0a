"""One SQLite connection for the embedded stores (governance counters, sign-in state, stored responses, the log).

The connection is shared across threads and serialised by a lock (sqlite3 is not re-entrant); `run` hands its
calls to the database's own long-lived thread, so a busy file never blocks the event loop. (`asyncio.to_thread`
did the same at ~2x the CPU per call: an executor work item, two chained futures and a context copy each time;
the request log pays one hop per batch, bench/RESULTS.md.) A file database runs in WAL mode, so readers never
block the writer, and every write is a ``BEGIN IMMEDIATE`` transaction: it takes the write lock before reading,
so a check-then-write is atomic against other tasks of this process and against another process (a worker, a
replica on the same disk) sharing the file. The request log (``observability/store_sqlite.py``) opens one
lazily, with a shorter busy timeout (a locked file makes it spool), and batches its writes in its own transactions.

A store of short indexed statements (governance counters, stored responses; the log's small batches) opens with
``loop_first``: `run` tries the body on the caller's loop first, when the lock is free, and never waits there:
SQLite's busy timeout is 0 on that connection, so a file locked by another process sends the body to the thread,
which retries until ``busy_timeout_s``. A put of a stored response costs ~60 µs of CPU on the loop and ~300 µs on
the thread under load (the GIL handed back and forth around every statement: bench/RESULTS.md). Such a file does
not checkpoint inside a commit (an fsync on the loop): the thread checkpoints after each call it ran, and every
`CHECKPOINT_EVERY` calls on the loop (which wait for it meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import pathlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

T = TypeVar("T")
MEMORY = ":memory:"
CHECKPOINT_EVERY: Final = 128  # loop calls between a loop-first file's checkpoints (~1,000 WAL pages, as SQLite's)
_BUSY_CODES: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]  # work, whose loop and future


def _null(value: None) -> None:
    return None


def _blob(value: bytes) -> bytes:
    return value


# sqlite3 (3.11) "adapts" every parameter that is not exactly an int, float, str or bytearray; for None and
# bytes, with no adapter of their own, that is a failed lookup of `__adapt__` and `__conform__` per value
# (~0.25 µs a None, ~0.4 µs a bytes; a request-log row has 40 columns, a dozen of them NULL: 86k -> 57k
# instructions per insert with these, bench/RESULTS.md). Registered as themselves, both are bound as before.
sqlite3.register_adapter(type(None), _null)
sqlite3.register_adapter(bytes, _blob)


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite failed because another connection holds the lock it needs (extended codes included)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


def sibling_path(db_path: str | None, name: str) -> str:
    """A database file next to ``db_path`` (``bifrostc.db`` -> ``bifrostc.<name>.db``); in memory for memory."""
    if not db_path or db_path == MEMORY:
        return MEMORY
    path = pathlib.Path(db_path)
    return str(path.with_name(f"{path.stem}.{name}.db"))


class SqliteDb:
    """``conn`` for statements inside ``transaction``/``run`` bodies; ``schema`` is run once (executescript)."""

    def __init__(
        self,
        path: str = MEMORY,
        *,
        schema: str = "",
        synchronous_normal: bool = True,
        busy_timeout_s: float = 30.0,
        loop_first: bool = False,
    ) -> None:
        """`busy_timeout_s`: how long a statement waits for another connection's lock before it fails;
        `loop_first`: `run` tries short bodies on the caller's loop first (the module's docstring)."""
        if path != MEMORY:
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self.loop_first = loop_first
        self._patient = loop_first and path != MEMORY  # a file other processes may lock: the thread retries
        self._loop_calls = 0
        self._handed: asyncio.Future[Any] | None = None  # the last call (or checkpoint) handed to the thread
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
        self.lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()  # two loops (threads) starting the worker at once
        with self.lock:
            if path != MEMORY:
                self.conn.execute("PRAGMA journal_mode=WAL")
                if synchronous_normal:
                    self.conn.execute("PRAGMA synchronous=NORMAL")
            if schema:
                self.conn.executescript(schema)
            if self._patient:
                self.conn.execute("PRAGMA wal_autocheckpoint=0")
                self.conn.execute("PRAGMA busy_timeout=0")

    def transaction(self, body: Callable[[], T]) -> T:
        """``body`` in one BEGIN IMMEDIATE transaction (rolled back when it raises). Call with ``lock`` held."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            result = body()
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return result

    def locked(self, body: Callable[[], T], *, write: bool = True) -> T:
        """``body`` under the lock (a write in one transaction), waiting for another connection's lock up to
        `busy_timeout_s`: a loop-first file retries, since its SQLite busy timeout is 0, and checkpoints after
        (what SQLite's own checkpoint after a large commit would do, here off the loop)."""
        with self.lock:
            if not self._patient:
                return self._once(body, write)
            deadline, pause = time.monotonic() + self.busy_timeout_s, 0.001
            while True:
                try:
                    result = self._once(body, write)
                    break
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc) or time.monotonic() >= deadline:
                        raise
                time.sleep(pause)  # as SQLite's own busy handler does, under the lock it would hold too
                pause = min(pause * 2, 0.05)
            self._checkpoint_held()
            return result

    def _once(self, body: Callable[[], T], write: bool) -> T:
        return self.transaction(body) if write else body()

    def _checkpoint(self) -> None:
        """Under the lock, so no commit of this process lands meanwhile and the next one starts the WAL from its
        beginning (a checkpoint beside a steady stream of commits never catches up: the WAL would grow)."""
        with self.lock:
            self._checkpoint_held()

    def _checkpoint_held(self) -> None:
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # never waits: it copies what no reader still needs

    async def run(self, body: Callable[[], T], *, write: bool = True, on_loop: bool = True) -> T:
        """``body`` in the database's thread, under the lock; a write runs in one transaction. As with
        ``asyncio.to_thread``, a cancelled caller stops waiting, not the body, and the body sees the caller's
        context variables. A loop-first database runs it here when the lock is free and no other connection
        holds the file's (then it goes to the thread); once the thread has work of its callers (or a
        checkpoint), the next ones wait for it to finish that work before trying here again, so the thread
        serves a busy file only. `on_loop=False` keeps a call of a loop-first database on the thread (a long
        query, a large write)."""
        loop = asyncio.get_running_loop()
        if self.loop_first and on_loop:
            handed = self._handed
            if handed is not None and not handed.done() and handed.get_loop() is loop:
                await asyncio.wait({handed})
            if self.lock.acquire(blocking=False):
                try:
                    result = self._once(body, write)
                except sqlite3.OperationalError as exc:
                    if not (self._patient and is_busy(exc)):
                        raise
                else:
                    self._loop_calls += 1
                    if self._patient and self._loop_calls % CHECKPOINT_EVERY == 0:
                        self._hand(self._checkpoint, loop).add_done_callback(_quietly)
                    return result
                finally:
                    self.lock.release()
        context = contextvars.copy_context()
        return await self._hand(lambda: context.run(self.locked, body, write=write), loop)

    def _hand(self, work: Callable[[], T], loop: asyncio.AbstractEventLoop) -> asyncio.Future[T]:
        """`work` queued for the database's thread; its answer comes back to `loop`."""
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((work, loop, future))
        self._handed = future
        if self._worker is None:
            self._start_worker()
        return future

    def _start_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None:
                name = f"bifrostc-sqlite-{pathlib.Path(self.path).name}"
                self._worker = threading.Thread(target=self._work, name=name, daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            body, loop, future = job
            try:
                outcome: tuple[bool, Any] = (True, body())
            except BaseException as exc:  # the caller's to raise, as to_thread would
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # the caller's loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(_settle, future, outcome)

    def close(self) -> None:
        """After the jobs already handed over (their callers get their answers), the thread stops."""
        worker, self._worker = self._worker, None
        if worker is not None:
            self._jobs.put(None)
            if worker is not threading.current_thread():
                worker.join()
        with self.lock:
            self.conn.close()


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():  # the caller was cancelled
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _quietly(future: asyncio.Future[Any]) -> None:
    """A checkpoint's failure is nobody's to raise (the next one runs anyway); retrieved so it is not reported."""
    if not future.cancelled():
        future.exception()
