"""`SqliteDb.run`: work on the database's own thread, answered on the caller's loop like asyncio.to_thread."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from bifrostc.runtime.sqlite_db import SqliteDb

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
