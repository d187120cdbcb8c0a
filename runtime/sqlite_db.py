"""One SQLite connection for the embedded stores (governance counters, sign-in state, stored responses, the log).

The connection is shared across threads and serialised by a lock (sqlite3 is not re-entrant); `run` hands its
calls to the database's own long-lived thread, so a busy file never blocks the event loop. (`asyncio.to_thread`
did the same at ~2x the CPU per call: an executor work item, two chained futures and a context copy each time;
the request log pays one hop per batch, bench/RESULTS.md.) A file database runs in WAL mode, so readers never
block the writer, and every write is a ``BEGIN IMMEDIATE`` transaction: it takes the write lock before reading,
so a check-then-write is atomic against other tasks of this process and against another process (a worker, a
replica on the same disk) sharing the file. The request log (``observability/store_sqlite.py``) opens one
lazily, with a shorter busy timeout (a locked file makes it spool), and batches its writes in its own transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import pathlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
MEMORY = ":memory:"
Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def sibling_path(db_path: str | None, name: str) -> str:
    """A database file next to ``db_path`` (``bifrostc.db`` -> ``bifrostc.<name>.db``); in memory for memory."""
    if not db_path or db_path == MEMORY:
        return MEMORY
    path = pathlib.Path(db_path)
    return str(path.with_name(f"{path.stem}.{name}.db"))


class SqliteDb:
    """``conn`` for statements inside ``transaction``/``run`` bodies; ``schema`` is run once (executescript)."""

    def __init__(
        self, path: str = MEMORY, *, schema: str = "", synchronous_normal: bool = True, busy_timeout_s: float = 30.0
    ) -> None:
        """`busy_timeout_s`: how long a statement waits for another connection's lock before it fails."""
        if path != MEMORY:
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
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
        with self.lock:
            return self.transaction(body) if write else body()

    async def run(self, body: Callable[[], T], *, write: bool = True) -> T:
        """``body`` in the database's thread, under the lock; a write runs in one transaction. As with
        ``asyncio.to_thread``, a cancelled caller stops waiting, not the body, and the body sees the caller's
        context variables."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()
        self._jobs.put((lambda: context.run(self.locked, body, write=write), loop, future))
        if self._worker is None:
            self._start_worker()
        return await future

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
