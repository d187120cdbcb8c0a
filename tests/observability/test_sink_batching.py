"""LogSink batching: a write waits for batch_size records or the linger, flush() cuts the linger short."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from bifrostc.runtime.config import Observability
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.sink import DEFAULT_LINGER_S, LogSink
from bifrostc.runtime.observability.telemetry import Telemetry
from tests.observability.test_sink import GatedStore

LONG_LINGER = 3600.0  # never reached in a test: only batch_size, flush() or aclose() may trigger a write


async def _turns(count: int = 20) -> None:
    """Let the event loop run other tasks a few times (not a timed wait)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_records_wait_for_the_linger_instead_of_being_written_one_by_one():
    store = GatedStore()
    store.gate.set()
    sink = LogSink(store, linger_s=LONG_LINGER)
    await sink.start()
    for i in range(3):
        sink.submit(RequestRecord(id=f"r{i}"))
    await _turns()
    assert store.batches == [] and sink.pending == 3
    await asyncio.wait_for(sink.flush(), 5)
    assert [[r.id for r in b] for b in store.batches] == [["r0", "r1", "r2"]]
    await sink.aclose()


async def test_a_full_batch_is_written_without_waiting_for_the_linger():
    store = GatedStore()
    store.gate.set()
    sink = LogSink(store, batch_size=4, linger_s=LONG_LINGER)
    await sink.start()
    for i in range(4):
        sink.submit(RequestRecord(id=f"r{i}"))
    await asyncio.wait_for(store.write_started.wait(), 5)
    await sink.aclose()
    assert [len(b) for b in store.batches] == [4]


async def test_the_linger_timer_writes_a_partial_batch():
    store = GatedStore()
    store.gate.set()
    sink = LogSink(store, linger_s=0.001)
    await sink.start()
    sink.submit(RequestRecord(id="alone"))
    await asyncio.wait_for(store.write_started.wait(), 5)  # no flush(): only the timer can have woken the writer
    await sink.aclose()
    assert [[r.id for r in b] for b in store.batches] == [["alone"]]


async def test_records_arriving_during_a_write_are_batched_together_afterwards():
    store = GatedStore()
    sink = LogSink(store, linger_s=LONG_LINGER)
    await sink.start()
    sink.submit(RequestRecord(id="first"))
    first_flush = asyncio.create_task(sink.flush())
    await asyncio.wait_for(store.write_started.wait(), 5)
    for i in range(5):
        sink.submit(RequestRecord(id=f"r{i}"))
    store.gate.set()
    await asyncio.wait_for(first_flush, 5)
    assert sink.pending == 5  # not written at once: they linger for company
    await asyncio.wait_for(sink.flush(), 5)
    assert [len(b) for b in store.batches] == [1, 5]
    await sink.aclose()


async def test_flush_returns_at_once_when_nothing_is_pending_or_the_sink_never_started():
    store = GatedStore()
    sink = LogSink(store)
    sink.submit(RequestRecord())
    await asyncio.wait_for(sink.flush(), 5)  # no writer yet: nothing could write it
    store.gate.set()
    await sink.start()
    await asyncio.wait_for(sink.flush(), 5)
    assert sink.written == 1
    await asyncio.wait_for(sink.flush(), 5)
    await sink.aclose()


def test_the_wired_gateway_imports_neither_psycopg_nor_the_mcp_sdk():
    code = (
        "import sys, bifrostc.runtime.assembly, bifrostc.runtime.observability.telemetry;"
        "print([m for m in ('psycopg', 'mcp', 'bifrostc.runtime.mcp.gateway') if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_linger_comes_from_the_environment_in_milliseconds(tmp_path):
    cfg = Observability(log_store="sqlite", sqlite_path=str(tmp_path / "log.db"))
    assert Telemetry.from_config(cfg, environ={}).sink.linger_s == DEFAULT_LINGER_S
    assert Telemetry.from_config(cfg, environ={"BIFROSTC_LOG_LINGER_MS": "5"}).sink.linger_s == 0.005
    with pytest.raises(ValueError, match="BIFROSTC_LOG_LINGER_MS"):
        Telemetry.from_config(cfg, environ={"BIFROSTC_LOG_LINGER_MS": "soon"})
