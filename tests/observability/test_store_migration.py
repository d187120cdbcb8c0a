"""A log table created before a column was added (usage_estimated; the session, agent, parent agent and request
class columns) gains it when a store opens it: old rows stay and read the column's default, new rows carry it, and
the session index is built on the added column."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest

from bifrostc.runtime.observability.records import RECORD_FIELDS, RequestRecord
from bifrostc.runtime.observability.store import DEFAULT_TABLE, LogFilter, LogStore
from bifrostc.runtime.observability.store_postgres import PostgresLogStore
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
from tests.observability.conftest import POSTGRES_DSN

# newer than tables already in the wild
ADDED_FIELDS = ("usage_estimated", "session_id", "agent_id", "parent_agent_id", "request_class")
OLD_FIELDS = [f for f in RECORD_FIELDS if f not in ADDED_FIELDS]


async def _check(store: LogStore) -> None:
    new = RequestRecord(id="new", ts=2.0, usage_estimated=True, session_id="s-1", agent_id="a-1")
    await store.write_batch([new])
    rows = {r["id"]: r for r in await store.query(LogFilter())}
    assert rows["old"]["usage_estimated"] is False and rows["old"]["status"] == 200
    assert rows["old"]["session_id"] is None
    assert rows["new"]["usage_estimated"] is True
    assert [(r["id"], r["agent_id"]) for r in await store.query(LogFilter(session="s-1"))] == [("new", "a-1")]


async def test_sqlite_table_from_before_gains_the_added_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE {DEFAULT_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, {', '.join(OLD_FIELDS)})")
        conn.execute(f"INSERT INTO {DEFAULT_TABLE} (id, ts, status) VALUES ('old', 1.0, 200)")
    store = SqliteLogStore(path)
    await store.open()
    try:
        await _check(store)
    finally:
        await store.close()
    reopened = SqliteLogStore(path)  # a second open finds the column there and adds nothing
    await reopened.open()
    await reopened.close()


@pytest.mark.services
async def test_postgres_table_from_before_gains_the_added_columns() -> None:
    schema = f"bifrostc_mig_{uuid.uuid4().hex[:12]}"
    try:
        conn = await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    kinds = {"ts": "DOUBLE PRECISION", "status": "BIGINT"}
    columns = ", ".join(f"{f} {kinds.get(f, 'TEXT')}" for f in OLD_FIELDS)
    async with conn:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'CREATE TABLE "{schema}".{DEFAULT_TABLE} (seq BIGSERIAL PRIMARY KEY, {columns})')
        await conn.execute(f"""INSERT INTO "{schema}".{DEFAULT_TABLE} (id, ts, status) VALUES ('old', 1.0, 200)""")
        store = PostgresLogStore(POSTGRES_DSN, schema=schema)
        try:
            await store.open()
            await _check(store)
        finally:
            await store.drop()
            await store.close()
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
