"""Shared fixtures: every log-store behaviour test runs against SQLite (tmp_path) and the real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from bifrostc.runtime.observability.store import LogStore
from bifrostc.runtime.observability.store_postgres import PostgresLogStore
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore

POSTGRES_DSN = os.environ.get("BIFROSTC_TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")


async def _postgres_store() -> PostgresLogStore:
    # A schema of its own per test, dropped afterwards, so parallel runs never see each other's rows.
    store = PostgresLogStore(POSTGRES_DSN, schema=f"bifrostc_obs_{uuid.uuid4().hex[:12]}")
    try:
        await store.open()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def log_store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[LogStore]:
    if request.param == "sqlite":
        store: LogStore = SqliteLogStore(tmp_path / "logs.db")
        await store.open()
        yield store
        await store.close()
        return
    pg = await _postgres_store()
    try:
        yield pg
    finally:
        await pg.drop()
        await pg.close()
