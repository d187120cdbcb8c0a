"""The disk spool behind the request log: records the store cannot take wait there in order, survive the
process, and an older table gains the columns newer records carry (additive migrations)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bifrostc.runtime.observability.metrics import GatewayMetrics
from bifrostc.runtime.observability.records import RECORD_FIELDS, RequestRecord
from bifrostc.runtime.observability.sink import LogSink
from bifrostc.runtime.observability.spool import LogSpool
from bifrostc.runtime.observability.store import LogFilter, StoreUnavailable
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore


class Outage(SqliteLogStore):
    """A SQLite store that is unreachable while ``down`` is set."""

    down = True

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if self.down:
            raise StoreUnavailable("connection refused")
        await super().write_batch(records)


async def _ids(store: SqliteLogStore) -> list[str]:
    return [row["id"] for row in reversed(await store.query(LogFilter(limit=1000)))]


async def _drained(sink: LogSink) -> None:
    async with asyncio.timeout(10):
        while sink.spooled:
            await asyncio.sleep(0.05)  # the writer retries on a backoff timer: nothing to await but the clock


def _spool_gauge(metrics: GatewayMetrics) -> str:
    lines = metrics.render().decode().splitlines()
    return next(line for line in lines if line.startswith("bifrostc_log_spool_records"))


async def test_an_unreachable_store_spools_in_order_and_replays_when_it_is_back(tmp_path: Path) -> None:
    store = Outage(tmp_path / "log.db")
    sink = LogSink(store, batch_size=4, spool=LogSpool(tmp_path / "spool.jsonl"))
    metrics = GatewayMetrics()
    metrics.watch_log_sink(sink)
    await sink.start()
    for i in range(10):
        sink.submit(RequestRecord(id=f"r{i}"))
    await sink.flush()
    assert sink.spooled == 10 and not sink.available
    assert _spool_gauge(metrics) == "bifrostc_log_spool_records 10.0"
    store.down = False
    sink.submit(RequestRecord(id="after"))  # newer than the spool: written only after it
    await sink.flush()
    await _drained(sink)
    assert await _ids(store) == [f"r{i}" for i in range(10)] + ["after"]
    assert sink.failed == 0 and _spool_gauge(metrics) == "bifrostc_log_spool_records 0.0"
    await sink.aclose()


async def test_a_spool_left_by_an_earlier_process_is_replayed_and_a_torn_line_skipped(tmp_path: Path) -> None:
    spool_file = tmp_path / "spool.jsonl"
    first = LogSink(Outage(tmp_path / "log.db"), spool=LogSpool(spool_file))
    await first.start()
    for i in range(3):
        first.submit(RequestRecord(id=f"old{i}"))
    await first.aclose()
    with spool_file.open("ab") as fh:
        fh.write(b'{"id": "torn", "ts"')  # the process died mid-write

    store = SqliteLogStore(tmp_path / "log.db")
    second = LogSink(store, spool=LogSpool(spool_file))
    await second.start()
    second.submit(RequestRecord(id="new"))
    await second.flush()
    assert await _ids(store) == ["old0", "old1", "old2", "new"]
    assert second.drop_counts()["spool_corrupt"] == 1 and second.spooled == 0
    await second.aclose()


async def test_two_processes_sharing_a_spool_directory_take_separate_slots(tmp_path: Path) -> None:
    one, two = LogSpool(tmp_path / "spool.jsonl"), LogSpool(tmp_path / "spool.jsonl")
    one.open()
    two.open()
    assert list(tmp_path.iterdir()) == []  # nothing to spool yet: no files
    one.append([RequestRecord(id="one")])
    two.append([RequestRecord(id="two")])
    assert one.path != two.path
    one.close()
    two.close()
    again = LogSpool(tmp_path / "spool.jsonl")
    again.open()  # a restarted replica takes over a slot that still holds records
    assert again.count == 1 and again.path in (one.path, two.path)
    again.close()


async def test_an_older_table_gains_the_columns_newer_records_carry(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    old_fields = [f for f in RECORD_FIELDS if f not in ("tools_count", "max_tokens")]
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TABLE bifrostc_requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, {', '.join(old_fields)})")
    store = SqliteLogStore(db)
    sink = LogSink(store)
    await sink.start()
    sink.submit(RequestRecord(id="new-shape", tools_count=3, max_tokens=64))
    await sink.flush()
    row: dict[str, Any] | None = await store.get("new-shape")
    assert row is not None and (row["tools_count"], row["max_tokens"]) == (3, 64)
    await sink.aclose()


async def test_a_sqlite_database_locked_past_its_busy_timeout_spools_instead_of_dropping(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    store = SqliteLogStore(db)
    sink = LogSink(store, spool=LogSpool(tmp_path / "spool.jsonl"))
    await sink.start()
    blocker = sqlite3.connect(db, isolation_level=None)  # someone holding a write transaction in the sqlite3 CLI
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        sink.submit(RequestRecord(id="while-locked"))
        await sink.flush()  # returns once the write gave up (busy_timeout, 5 s) and the record was spooled
        assert (sink.spooled, sink.failed, sink.available) == (1, 0, False)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await _drained(sink)
    assert await _ids(store) == ["while-locked"]
    await sink.aclose()


async def test_a_spool_that_vanishes_costs_its_records_but_not_the_log(tmp_path: Path) -> None:
    store = Outage(tmp_path / "log.db")
    spool = LogSpool(tmp_path / "spool" / "spool.jsonl")
    sink = LogSink(store, spool=spool)
    await sink.start()
    sink.submit(RequestRecord(id="spooled"))
    await sink.flush()
    assert sink.spooled == 1
    spool.path.unlink()  # someone cleaned the directory up
    store.down = False
    await _drained(sink)
    sink.submit(RequestRecord(id="later"))
    await sink.flush()
    await _drained(sink)  # the store has not been proven back yet: "later" waits in the spool for the next retry
    assert await _ids(store) == ["later"]
    assert sink.drop_counts()["spool_error"] == 1 and sink.restarts == 0
    await sink.aclose()
