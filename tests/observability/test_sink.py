from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.sink import LogSink
from bifrostc.runtime.observability.store import LogFilter
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore


class GatedStore:
    """A store whose writes wait until the test opens the gate: a stand-in for a slow database."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.write_started = asyncio.Event()
        self.batches: list[list[RequestRecord]] = []
        self.closed = False
        self.fail_next = False

    async def open(self) -> None:
        pass

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        self.write_started.set()
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise sqlite3.OperationalError("database is locked")
        self.batches.append(list(records))

    async def query(self, filters: LogFilter) -> list[dict[str, Any]]:
        return []

    async def get(self, record_id: str) -> dict[str, Any] | None:
        return None

    async def spend_by_key(self, since: float | None = None) -> list[dict[str, Any]]:
        return []

    async def close(self) -> None:
        self.closed = True


async def test_submit_returns_at_once_while_the_store_is_stuck():
    store = GatedStore()
    sink = LogSink(store, batch_size=10)
    await sink.start()
    assert sink.submit(RequestRecord(id="first")) is True
    await store.write_started.wait()  # the writer is now blocked inside the store
    accepted = [sink.submit(RequestRecord(id=f"r{i}")) for i in range(50)]
    assert all(accepted)
    assert sink.pending == 50 and store.batches == []
    store.gate.set()
    await sink.aclose()
    written = [r.id for batch in store.batches for r in batch]
    assert written == ["first"] + [f"r{i}" for i in range(50)]
    assert max(len(b) for b in store.batches) <= 10
    assert store.closed


async def test_a_full_queue_drops_and_counts_instead_of_waiting():
    store = GatedStore()
    sink = LogSink(store, max_queue=3)
    await sink.start()
    sink.submit(RequestRecord(id="in-flight"))
    await store.write_started.wait()
    results = [sink.submit(RequestRecord()) for _ in range(5)]
    assert results == [True, True, True, False, False]
    assert sink.dropped == 2
    store.gate.set()
    await sink.aclose()
    assert sink.written == 4


async def test_aclose_flushes_everything_submitted_to_the_real_sqlite_store(tmp_path):
    store = SqliteLogStore(tmp_path / "log.db")
    sink = LogSink(store, batch_size=7)
    await sink.start()
    for i in range(30):
        sink.submit(RequestRecord(id=f"r{i}", ts=float(i)))
    await sink.aclose()
    reopened = SqliteLogStore(tmp_path / "log.db")
    await reopened.open()
    rows = await reopened.query(LogFilter(limit=100))
    await reopened.close()
    assert len(rows) == 30


async def test_store_errors_lose_the_batch_but_keep_the_writer_alive():
    store = GatedStore()
    store.fail_next = True
    store.gate.set()
    sink = LogSink(store)
    await sink.start()
    sink.submit(RequestRecord(id="lost"))
    await sink.flush()
    sink.submit(RequestRecord(id="kept"))
    await sink.aclose()
    assert sink.failed == 1
    assert [r.id for b in store.batches for r in b] == ["kept"]


async def test_bodies_are_redacted_before_storage_and_dropped_when_log_bodies_is_off():
    store = GatedStore()
    store.gate.set()
    sink = LogSink(store)
    await sink.start()
    sink.submit(RequestRecord(id="a", request_messages=[{"text": "key sk-live-123456789"}]))
    await sink.aclose()
    assert "123456789" not in str(store.batches[0][0].request_messages)

    quiet_store = GatedStore()
    quiet_store.gate.set()
    quiet = LogSink(quiet_store, log_bodies=False)
    await quiet.start()
    quiet.submit(RequestRecord(id="b", request_messages=["hi"], response_content=["yo"]))
    await quiet.aclose()
    stored = quiet_store.batches[0][0]
    assert (stored.request_messages, stored.response_content) == (None, None)


async def test_submit_after_close_is_dropped():
    store = GatedStore()
    store.gate.set()
    sink = LogSink(store)
    await sink.start()
    await sink.aclose()
    assert sink.submit(RequestRecord()) is False
    assert sink.dropped == 1
