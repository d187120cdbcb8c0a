"""PostgreSQL request-log store on psycopg 3 (async), reconnecting on its own.

psycopg is an optional dependency (``bifrostc[postgres]``), so it is imported when the store opens.
A small pool of autocommit connections (``observability.postgres_pool_size`` per replica, default 4): the
sink writes in batches from one task, dashboard queries and retention take the others. Connections are opened
lazily and dropped whenever they break, so the gateway starts while PostgreSQL is down and follows it through
restarts; every failure to reach the database is raised as
:class:`StoreUnavailable` (the sink spools those records to disk and replays them), while a record the
database refuses (a value out of range, a NUL in a string) is raised as psycopg's own error, so the sink drops
only that record. (A small wrapper rather than psycopg_pool: it adds no dependency.)

Retention runs on one replica at a time: a pass takes ``pg_try_advisory_lock`` on its connection first and
is skipped (``prune`` returns None) while another replica holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

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

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3  # a down host must not hold the writer (or a readiness probe) for the OS's TCP timeout
OPERATION_TIMEOUT_S = 30.0  # a hung database (network partition) fails the batch into the spool
CHECK_TIMEOUT_S = 2.0
RETENTION_LOCK = "bifrostc.log_store.retention"  # the advisory lock one replica's retention pass holds


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("the postgres log store needs psycopg: pip install 'bifrostc[postgres]'") from exc
    return psycopg


class PostgresLogStore:
    name = "log_store"  # as a health source (runtime/health.py)
    required = True

    def __init__(self, dsn: str, *, table: str = DEFAULT_TABLE, schema: str | None = None, pool_size: int = 4) -> None:
        self.dsn = dsn
        self.schema = checked_identifier(schema) if schema else None
        qualified = f'"{checked_identifier(table)}"'
        if self.schema:
            qualified = f'"{self.schema}".{qualified}'
        self._sql = LogSql("postgres", qualified)
        self.pool_size = max(1, pool_size)
        self._idle: list[Any] = []  # open connections nobody is using
        self._slots = asyncio.Semaphore(self.pool_size)
        self._psycopg: Any = None
        self._schema_ready = False

    async def open(self) -> None:
        """Load psycopg and try to connect; an unreachable database is logged, not raised (writes retry)."""
        self._psycopg = _import_psycopg()
        try:
            async with self._session():
                pass
        except StoreUnavailable as exc:
            logger.warning("request log: PostgreSQL is unreachable, records are spooled until it is back: %s", exc)

    async def _connect(self) -> Any:
        psycopg = self._psycopg
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        if not self._schema_ready:
            async with conn.transaction():
                # Replicas start together: IF NOT EXISTS alone races in the catalog, so DDL runs under one lock.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('bifrostc.log_store.ddl'))")
                if self.schema:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                for statement in self._sql.create_statements():
                    await conn.execute(statement)
                for statement in self._sql.missing_columns(await self._columns(conn)) + self._sql.index_statements():
                    await conn.execute(statement)
            self._schema_ready = True
        return conn

    async def _columns(self, conn: Any) -> list[str]:
        table = self._sql.table.split(".")[-1].strip('"')
        cur = await conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " AND table_schema = COALESCE(%s, current_schema())",
            (table, self.schema),
        )
        return [row[0] for row in await cur.fetchall()]

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        """A live connection of the pool (made on demand); connection-level failures drop it and raise
        StoreUnavailable, anything else (the database refusing a value) passes through unchanged."""
        if self._psycopg is None:
            raise RuntimeError("PostgresLogStore used before open()")
        psycopg = self._psycopg
        lost = (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError, OSError)
        async with self._slots:
            conn: Any = None
            try:
                async with asyncio.timeout(OPERATION_TIMEOUT_S):
                    while self._idle and conn is None:
                        candidate = self._idle.pop()
                        if candidate.closed or candidate.broken:
                            await _close_quietly(candidate)
                        else:
                            conn = candidate
                    if conn is None:
                        conn = await self._connect()
                    yield conn
            except lost as exc:
                if conn is not None and (conn.closed or conn.broken or isinstance(exc, TimeoutError)):
                    await _close_quietly(conn)
                    conn = None
                raise StoreUnavailable(f"postgres log store: {type(exc).__name__}: {exc}") from exc
            finally:
                if conn is not None and not (conn.closed or conn.broken):
                    self._idle.append(conn)

    async def check(self) -> bool:
        """Health: can the database answer right now?"""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S), self._session() as conn:
                await conn.execute("SELECT 1")
        except (StoreUnavailable, TimeoutError):
            return False
        return True

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        rows = [self._sql.insert_params(r) for r in records]
        async with self._session() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(self._sql.insert(), rows)

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._session() as conn, conn.cursor() as cur:
            await cur.execute(sql, params)
            return list(await cur.fetchall())

    async def query(self, filters: LogFilter) -> list[dict[str, Any]]:
        sql, params = self._sql.select(filters)
        names = ("seq", *SUMMARY_FIELDS)
        return [row_to_dict(names, row) for row in await self._fetch(sql, params)]

    async def get(self, record_id: str) -> dict[str, Any] | None:
        rows = await self._fetch(self._sql.select_one(), (record_id,))
        return row_to_dict(("seq", *RECORD_FIELDS), rows[0]) if rows else None

    async def spend_by_key(self, since: float | None = None) -> list[dict[str, Any]]:
        sql, params = self._sql.spend(since)
        return [spend_row_to_dict(row) for row in await self._fetch(sql, params)]

    async def prune(self, before: float) -> int | None:
        """Delete rows older than ``before``; None when another replica's retention pass holds the lock."""
        sql = self._sql.prune(PRUNE_CHUNK)
        async with self._session() as conn:
            cur = await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (RETENTION_LOCK,))
            row = await cur.fetchone()
            if not (row and row[0]):
                return None
            try:

                async def delete_chunk() -> int:
                    async with conn.cursor() as chunk:
                        await chunk.execute(sql, (before,))
                        return int(chunk.rowcount)

                return await prune_in_chunks(delete_chunk)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (RETENTION_LOCK,))

    async def drop(self) -> None:
        """Remove the table (and the schema when this store owns one); used by tests to clean up."""
        async with self._session() as conn:
            if self.schema:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            else:
                await conn.execute(f"DROP TABLE IF EXISTS {self._sql.table}")

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close_quietly(conn)


async def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):  # it may be broken already; closing is courtesy
        await conn.close()
