"""SQLite request-log store: stdlib sqlite3 (`runtime/sqlite_db.py`), WAL so readers never block the writer.

Queries, prunes and large batches run on the database's thread; a batch under `LOOP_BATCH_BYTES` is written on
the event loop when nothing else holds the file (loop-first: the thread hop cost a one-row batch ~100 µs of CPU
more than the write itself, bench/RESULTS.md), and on the thread when another process does."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bifrostc.runtime.observability.records import RECORD_FIELDS, RequestRecord
from bifrostc.runtime.observability.store import (
    DEFAULT_TABLE,
    PRUNE_CHUNK,
    SUMMARY_FIELDS,
    LogFilter,
    LogSql,
    StoreUnavailable,
    checked_identifier,
    prune_in_chunks,
    row_to_dict,
    spend_row_to_dict,
)
from bifrostc.runtime.sqlite_db import SqliteDb

T = TypeVar("T")
LOOP_BATCH_BYTES = 64 * 1024  # a batch this large or larger (Claude Code bodies logged whole) waits on the thread


class SqliteLogStore:
    """One connection shared across worker threads, serialised by a lock (sqlite3 is not re-entrant)."""

    name = "log_store"  # as a health source (runtime/health.py)
    required = True

    def __init__(self, path: str | Path, *, table: str = DEFAULT_TABLE) -> None:
        self.path = str(path)
        self._sql = LogSql("sqlite", f'"{checked_identifier(table)}"')
        self._db: SqliteDb | None = None

    async def open(self) -> None:
        if self._db is None:
            await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> None:
        db = SqliteDb(self.path, busy_timeout_s=5.0, loop_first=True)  # locked past 5 s: StoreUnavailable, spooled

        def create() -> None:
            for statement in self._sql.create_statements():
                db.conn.execute(statement)
            existing = [row[1] for row in db.conn.execute(f"PRAGMA table_info({self._sql.table})")]
            for statement in self._sql.missing_columns(existing) + self._sql.index_statements():
                db.conn.execute(statement)

        db.locked(create, write=False)  # retried while another worker, starting too, holds the file
        self._db = db

    async def _run(self, work: Callable[[sqlite3.Connection], T], *, on_loop: bool = False) -> T:
        if self._db is None:
            raise RuntimeError("SqliteLogStore used before open()")
        conn = self._db.conn
        return await self._db.run(lambda: work(conn), write=False, on_loop=on_loop)  # `work` runs its own transaction

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        rows = [self._sql.insert_params(r) for r in records]
        insert = self._sql.insert()
        size = sum(len(value) for row in rows for value in row if isinstance(value, bytes | str))

        def write(conn: sqlite3.Connection) -> None:
            with conn:  # one transaction per batch
                conn.execute("BEGIN")
                conn.executemany(insert, rows)

        try:
            await self._run(write, on_loop=size < LOOP_BATCH_BYTES)
        except sqlite3.OperationalError as exc:  # locked past busy_timeout, disk I/O, read-only: not the records
            raise StoreUnavailable(f"sqlite log store {self.path}: {exc}") from exc

    async def query(self, filters: LogFilter) -> list[dict[str, Any]]:
        sql, params = self._sql.select(filters)
        rows = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        names = ("seq", *SUMMARY_FIELDS)
        return [row_to_dict(names, row) for row in rows]

    async def get(self, record_id: str) -> dict[str, Any] | None:
        sql = self._sql.select_one()
        row = await self._run(lambda conn: conn.execute(sql, (record_id,)).fetchone())
        return None if row is None else row_to_dict(("seq", *RECORD_FIELDS), row)

    async def spend_by_key(self, since: float | None = None) -> list[dict[str, Any]]:
        sql, params = self._sql.spend(since)
        rows = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return [spend_row_to_dict(row) for row in rows]

    async def prune(self, before: float) -> int:
        sql = self._sql.prune(PRUNE_CHUNK)
        return await prune_in_chunks(lambda: self._run(lambda conn: conn.execute(sql, (before,)).rowcount))

    async def check(self) -> bool:
        """Health: the database answers (not locked past busy_timeout, file still there)."""
        try:
            await self._run(lambda conn: conn.execute("SELECT 1").fetchone())
        except (sqlite3.Error, RuntimeError):
            return False
        return True

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()
