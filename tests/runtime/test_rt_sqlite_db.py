"""`SqliteDb.run`: work on the database's own thread, answered on the caller's loop like asyncio.to_thread."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
from pathlib import Path

import pytest

from bifrostc.runtime.sqlite_db import CHECKPOINT_EVERY, SqliteDb

WHO = contextvars.ContextVar("who", default="nobody")


async def test_results_errors_and_context_reach_the_caller() -> None:
    db = SqliteDb(schema="CREATE TABLE t (x INTEGER)")
    try:
        await db.run(lambda: db.conn.execute("INSERT INTO t VALUES (1)"))
        assert await db.run(lambda: db.conn.execute("SELECT x FROM t").fetchall(), write=False) == [(1,)]
        with pytest.raises(Exception, match="no such table"):
            await db.run(lambda: db.conn.execute("SELECT * FROM missing"))
        WHO.set("caller")
        seen = await db.run(lambda: (WHO.get(), threading.current_thread() is threading.main_thread()), write=False)
        assert seen == ("caller", False)
        assert await db.run(lambda: db.conn.execute("SELECT count(*) FROM t").fetchone(), write=False) == (1,)
    finally:
        db.close()


async def test_a_cancelled_caller_stops_waiting_and_the_next_call_still_answers() -> None:
    db = SqliteDb()
    gate = threading.Event()
    try:
        slow = asyncio.ensure_future(db.run(lambda: gate.wait(5), write=False))
        await asyncio.sleep(0.01)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        gate.set()
        assert await db.run(lambda: 42, write=False) == 42
    finally:
        db.close()


async def test_close_stops_the_database_thread() -> None:
    before = set(threading.enumerate())
    db = SqliteDb(schema="CREATE TABLE t (x INTEGER)")
    pending = [
        asyncio.ensure_future(db.run(lambda i=i: db.conn.execute("INSERT INTO t VALUES (?)", (i,)))) for i in range(20)
    ]
    await asyncio.sleep(0)
    await asyncio.gather(*pending)
    assert await db.run(lambda: db.conn.execute("SELECT count(*) FROM t").fetchone(), write=False) == (20,)
    db.close()
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("bifrostc-sqlite-")]


async def test_loop_first_runs_on_the_callers_thread_when_the_file_is_free(tmp_path: Path) -> None:
    db = SqliteDb(str(tmp_path / "s.db"), schema="CREATE TABLE t (x INTEGER)", loop_first=True)
    try:
        await db.run(lambda: db.conn.execute("INSERT INTO t VALUES (1)"))
        on_loop = await db.run(lambda: threading.current_thread() is threading.main_thread(), write=False)
        assert on_loop and await db.run(lambda: db.conn.execute("SELECT x FROM t").fetchall(), write=False) == [(1,)]
        with pytest.raises(sqlite3.OperationalError, match="no such table"):  # errors are the caller's, as before
            await db.run(lambda: db.conn.execute("SELECT * FROM missing"))
    finally:
        db.close()


async def test_loop_first_waits_for_a_file_another_connection_holds_on_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = SqliteDb(str(path), schema="CREATE TABLE t (x INTEGER)", loop_first=True)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(
            db.run(lambda: (db.conn.execute("INSERT INTO t VALUES (2)"), threading.current_thread().name)[1])
        )
        ticks = 0
        for _ in range(5):  # the loop is free while the write waits
            await asyncio.sleep(0.02)
            ticks += 1
        assert ticks == 5 and not write.done()
        other.execute("COMMIT")
        assert (await write).startswith("bifrostc-sqlite-")
        assert await db.run(lambda: db.conn.execute("SELECT x FROM t").fetchall(), write=False) == [(2,)]
    finally:
        other.close()
        db.close()


async def test_loop_first_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = SqliteDb(str(path), schema="CREATE TABLE t (x INTEGER)", loop_first=True, busy_timeout_s=0.1)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await db.run(lambda: db.conn.execute("INSERT INTO t VALUES (3)"))
    finally:
        other.close()
        db.close()


async def test_a_loop_first_file_checkpoints_on_the_thread(tmp_path: Path) -> None:
    """No checkpoint inside a commit (an fsync on the loop), yet the WAL does not grow without bound."""
    path = tmp_path / "s.db"
    db = SqliteDb(str(path), schema="CREATE TABLE t (x BLOB)", loop_first=True)
    commits = CHECKPOINT_EVERY * 6  # ~3 pages a commit: ~9 MB of WAL unchecked
    try:
        for _ in range(commits):
            await db.run(lambda: db.conn.execute("INSERT INTO t VALUES (randomblob(4096))"))
            await asyncio.sleep(0.0002)  # a server's commits have other work between them
        wal = path.with_name("s.db-wal").stat().st_size  # its high-water mark: a restarted WAL is rewritten
        assert wal < 4 * 1024 * 1024, wal
        assert await db.run(lambda: db.conn.execute("SELECT count(*) FROM t").fetchone(), write=False) == (commits,)
    finally:
        db.close()


async def test_a_loop_first_file_checkpoints_after_the_threads_large_writes(tmp_path: Path) -> None:
    """A large write kept on the thread (`on_loop=False`: the log's big batches) is checkpointed there."""
    path = tmp_path / "s.db"
    db = SqliteDb(str(path), schema="CREATE TABLE t (x BLOB)", loop_first=True)
    try:
        for _ in range(20):  # 1 MB a batch: 20 MB of WAL unchecked
            await db.run(lambda: db.conn.execute("INSERT INTO t VALUES (randomblob(1048576))"), on_loop=False)
        assert path.with_name("s.db-wal").stat().st_size < 4 * 1024 * 1024
    finally:
        db.close()
