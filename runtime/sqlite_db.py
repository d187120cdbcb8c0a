"""One SQLite connection for the embedded stores (governance counters, sign-in state, stored responses, the log).

The connection is shared across worker threads and serialised by a lock (sqlite3 is not re-entrant); calls run in
a worker thread so a busy file never blocks the event loop. A file database runs in WAL mode, so readers never
block the writer, and every write is a ``BEGIN IMMEDIATE`` transaction: it takes the write lock before reading,
so a check-then-write is atomic against other tasks of this process and against another process (a worker, a
replica on the same disk) sharing the file. The request log (``observability/store_sqlite.py``) opens one
lazily, with a shorter busy timeout (a locked file makes it spool), and batches its writes in its own transactions.
"""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
MEMORY = ":memory:"


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
        """``body`` in a worker thread, under the lock; a write runs in one transaction."""
        return await asyncio.to_thread(self.locked, body, write=write)

    def close(self) -> None:
        with self.lock:
            self.conn.close()
