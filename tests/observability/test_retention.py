"""Request-log retention: old rows go at start-up and on each pass; a failing store is retried, not fatal."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bifrostc.runtime.config import Observability
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.retention import DAY_S, LogRetention
from bifrostc.runtime.observability.store import LogFilter
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
from bifrostc.runtime.observability.telemetry import Telemetry

NOW = 1_800_000_000.0


async def _store(tmp_path: Path) -> SqliteLogStore:
    store = SqliteLogStore(tmp_path / "logs.db")
    await store.open()
    await store.write_batch(
        [
            RequestRecord(id="ancient", ts=NOW - 31 * DAY_S),
            RequestRecord(id="recent", ts=NOW - 29 * DAY_S),
        ]
    )
    return store


async def test_the_first_pass_runs_at_start_and_keeps_rows_inside_the_window(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    retention = LogRetention(store, days=30, every_s=3600, clock=lambda: NOW)
    retention.start()
    for _ in range(100):
        if retention.removed:
            break
        await asyncio.sleep(0.01)
    await retention.aclose()
    assert retention.removed == 1
    assert [r["id"] for r in await store.query(LogFilter())] == ["recent"]
    await store.close()


async def test_a_failing_store_is_logged_and_retried_later(tmp_path: Path, caplog) -> None:
    store = await _store(tmp_path)
    calls = 0

    async def broken(before: float) -> int:
        nonlocal calls
        calls += 1
        raise sqlite3.OperationalError("database is locked")

    store.prune = broken  # type: ignore[method-assign]
    retention = LogRetention(store, days=30, clock=lambda: NOW)
    assert await retention.prune_once() == 0
    assert calls == 1 and "will retry" in caplog.text
    await store.close()


def test_telemetry_prunes_only_when_there_is_a_store_and_a_retention(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    assert Telemetry.from_config(Observability(sqlite_path=db)).retention.days == 30  # type: ignore[union-attr]
    assert Telemetry.from_config(Observability(sqlite_path=db, retention_days=None)).retention is None
    assert Telemetry.from_config(Observability(log_store="none")).retention is None
