"""The request log never stops: a record the store refuses costs that record only (logged, counted in
bifrostc_log_records_dropped_total{reason="bad_record"}), the rest of its batch is written, and a writer task
that dies is started again. On d6706f8 one such record killed the SQLite writer for the life of the process."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bifrostc.runtime.observability.metrics import GatewayMetrics
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.sink import LogSink
from bifrostc.runtime.observability.store import LogFilter
from bifrostc.runtime.observability.store_postgres import PostgresLogStore
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
from tests.conftest import running_server
from tests.integration.replicas import build, replicas
from tests.integration.wired import openai_completion

TOO_BIG = 2**63  # one past SQLite's and PostgreSQL's BIGINT
PG_SHARED = "postgresql://postgres@127.0.0.1:5432/test"


def _records(prefix: str, count: int) -> list[RequestRecord]:
    return [RequestRecord(id=f"{prefix}{i}", ts=1000.0 + i) for i in range(count)]


async def _ids(store: SqliteLogStore | PostgresLogStore) -> list[str]:
    return [row["id"] for row in reversed(await store.query(LogFilter(limit=1000)))]


async def test_sqlite_a_bad_record_costs_only_itself_and_the_writer_keeps_going(tmp_path: Path) -> None:
    store = SqliteLogStore(tmp_path / "log.db")
    sink = LogSink(store)
    metrics = GatewayMetrics()
    metrics.watch_log_sink(sink)
    await sink.start()
    before = _records("a", 5)
    before[2].input_tokens = TOO_BIG  # sqlite3 raises OverflowError binding it
    for record in before:
        sink.submit(record)
    await sink.flush()
    for record in _records("b", 20):
        sink.submit(record)
    await sink.flush()
    assert await _ids(store) == ["a0", "a1", "a3", "a4"] + [f"b{i}" for i in range(20)]
    assert sink.drops["bad_record"] == 1
    assert 'bifrostc_log_records_dropped_total{reason="bad_record"} 1.0' in metrics.render().decode()
    await sink.aclose()


def _shared_pg_up() -> bool:
    try:
        psycopg.connect(PG_SHARED, connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


@pytest.mark.services
@pytest.mark.skipif(not _shared_pg_up(), reason="needs PostgreSQL on 127.0.0.1:5432")
async def test_postgres_a_refused_record_no_longer_drops_its_batch() -> None:
    store = PostgresLogStore(PG_SHARED, schema=f"bifrostc_rel_{uuid.uuid4().hex[:10]}")
    sink = LogSink(store)
    await sink.start()
    try:
        records = _records("p", 6)
        records[1].max_tokens = TOO_BIG  # numeric out of range for BIGINT
        records[4].requested_model = "nul\x00byte"  # PostgreSQL text cannot hold NUL
        for record in records:
            sink.submit(record)
        await sink.flush()
        assert await _ids(store) == ["p0", "p2", "p3", "p5"]
        assert sink.drops["bad_record"] == 2
    finally:
        await store.drop()
        await sink.aclose()


class Killer(BaseException):
    """Escapes every ``except Exception``: stands in for whatever might still kill the writer task."""


class DiesOnce(SqliteLogStore):
    armed = True

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if self.armed:
            self.armed = False
            raise Killer
        await super().write_batch(records)


async def test_a_writer_task_that_dies_is_started_again(tmp_path: Path) -> None:
    store = DiesOnce(tmp_path / "log.db")
    sink = LogSink(store)
    await sink.start()
    sink.submit(RequestRecord(id="lost-with-the-writer"))
    await asyncio.sleep(0.1)  # the linger (25 ms) passes and the first write kills the task
    for record in _records("after", 3):
        sink.submit(record)
    await sink.flush()
    assert sink.restarts == 1
    assert await _ids(store) == ["after0", "after1", "after2"]
    await sink.aclose()


# --- the HTTP surface: a real `bifrostc serve`, an upstream reporting an absurd usage once -------------------

SPEC = """\
version: 1
providers:
  llm: {{type: openai, base_url: "{upstream}/v1", api_key_env: LLM_KEY}}
models:
  chat: {{target: llm/gpt-test}}
claude_code: {{sonnet: chat, opus: chat, haiku: chat}}
cache: {{mode: off}}
observability: {{log_store: sqlite, sqlite_path: "{db}", log_bodies: false}}
"""


async def _chat_completions(request: Request) -> Response:
    body = json.loads(await request.body())
    completion = openai_completion("hello", body["model"])
    if "absurd usage" in json.dumps(body["messages"]):
        # An upstream bug: a usage count one past int64 (what once killed the log writer for good).
        completion["usage"] = {"prompt_tokens": TOO_BIG, "completion_tokens": 2, "total_tokens": TOO_BIG + 2}
    return Response(json.dumps(completion), media_type="application/json")


def _rows(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT id, input_tokens FROM bifrostc_requests ORDER BY seq"))


async def test_serve_keeps_logging_after_a_record_the_store_cannot_hold(tmp_path: Path) -> None:
    upstream_app = Starlette(routes=[Route("/v1/chat/completions", _chat_completions, methods=["POST"])])
    db = tmp_path / "log.db"
    async with running_server(upstream_app) as upstream:
        spec = tmp_path / "gateway.yaml"
        spec.write_text(SPEC.format(upstream=upstream, db=db))
        build(spec, tmp_path / "out")
        with replicas(tmp_path / "out", 1, {"LLM_KEY": "sk-upstream-0123456789"}, cwd=tmp_path) as [url]:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:

                async def ask(text: str) -> str:
                    body = {"model": "chat", "max_tokens": 16, "messages": [{"role": "user", "content": text}]}
                    response = await client.post("/anthropic/v1/messages", json=body)
                    assert response.status_code == 200, response.text
                    return response.headers["x-request-id"]

                bad = await ask("absurd usage, please")
                await asyncio.sleep(0.2)  # let the writer meet the bad record before the good ones arrive
                good = [await ask(f"question {i}") for i in range(20)]
                for _ in range(100):
                    if len({rid for rid, _ in _rows(db)} & set(good)) == len(good):
                        break
                    await asyncio.sleep(0.1)  # the writer batches in the gateway process: poll its database
                metrics = (await client.get("/metrics")).text
    logged = {rid for rid, _ in _rows(db)}
    assert set(good) <= logged, f"{len(set(good) - logged)} of 20 later requests were not logged"
    # The bad record is either stored (a store that can hold it) or dropped and counted, never silently.
    assert bad in logged or 'bifrostc_log_records_dropped_total{reason="bad_record"} 1.0' in metrics
