"""PostgreSQL request-log store on psycopg 3 (async).

psycopg is an optional dependency (``bifrostc[postgres]``), so it is imported when the store opens.
A single autocommit connection guarded by an asyncio lock is enough: the sink writes in batches from
one task and the dashboard reads rarely.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bifrostc.runtime.observability.records import RECORD_FIELDS, RequestRecord
from bifrostc.runtime.observability.store import (
    DEFAULT_TABLE,
    PRUNE_CHUNK,
    SUMMARY_FIELDS,
    LogFilter,
    LogSql,
    checked_identifier,
    prune_in_chunks,
    row_to_dict,
    spend_row_to_dict,
)


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("the postgres log store needs psycopg: pip install 'bifrostc[postgres]'") from exc
    return psycopg


class PostgresLogStore:
    def __init__(self, dsn: str, *, table: str = DEFAULT_TABLE, schema: str | None = None) -> None:
        self.dsn = dsn
        self.schema = checked_identifier(schema) if schema else None
        qualified = f'"{checked_identifier(table)}"'
        if self.schema:
            qualified = f'"{self.schema}".{qualified}'
        self._sql = LogSql("postgres", qualified)
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if self._conn is not None:
            return
        psycopg = _import_psycopg()
        self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        async with self._lock, self._conn.transaction():
            # Replicas start together: IF NOT EXISTS alone races in the catalog, so DDL runs under one lock.
            await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('bifrostc.log_store.ddl'))")
            if self.schema:
                await self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            for statement in [*self._sql.create_statements(), *self._sql.added_columns()]:
                await self._conn.execute(statement)

    def _connection(self) -> Any:
        if self._conn is None:
            raise RuntimeError("PostgresLogStore used before open()")
        return self._conn

    async def write_batch(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        conn = self._connection()
        rows = [self._sql.insert_params(r) for r in records]
        async with self._lock, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(self._sql.insert(), rows)

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        conn = self._connection()
        async with self._lock, conn.cursor() as cur:
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

    async def prune(self, before: float) -> int:
        conn, sql = self._connection(), self._sql.prune(PRUNE_CHUNK)

        async def delete_chunk() -> int:
            async with self._lock, conn.cursor() as cur:
                await cur.execute(sql, (before,))
                return int(cur.rowcount)

        return await prune_in_chunks(delete_chunk)

    async def drop(self) -> None:
        """Remove the table (and the schema when this store owns one); used by tests to clean up."""
        conn = self._connection()
        async with self._lock:
            if self.schema:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            else:
                await conn.execute(f"DROP TABLE IF EXISTS {self._sql.table}")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
