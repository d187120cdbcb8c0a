"""Claude Code's telemetry in PostgreSQL, when the request log is there (``observability.log_store: postgres``):
every replica then stores into, and the session view reads from, the same tables. The same two tables as the
SQLite store (``store.SignInStore``): the payloads as received and the counted points, a point of a series seen
before replacing it. One connection, made on demand and made again after a failure; a failed write is logged
and dropped (telemetry never fails an answer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from bifrostc.runtime.claude_gateway.otlp_points import Point, summary
from bifrostc.runtime.claude_gateway.store import TelemetryRow

log = logging.getLogger("bifrostc.claude_gateway")
TIMEOUT_S = 5.0
PRUNE_EVERY = 100  # exports between deletions of those past the log's retention
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS claude_code_telemetry (id BIGSERIAL PRIMARY KEY,"
    " received_at DOUBLE PRECISION NOT NULL, signal TEXT NOT NULL, content_type TEXT, key_name TEXT,"
    " session_id TEXT, size INTEGER NOT NULL, payload BYTEA NOT NULL)",
    "CREATE TABLE IF NOT EXISTS claude_code_points (session_id TEXT NOT NULL, metric TEXT NOT NULL,"
    " label TEXT NOT NULL, series TEXT NOT NULL, key_name TEXT, value DOUBLE PRECISION NOT NULL,"
    " received_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (session_id, metric, label, series))",
)


class PostgresTelemetry:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._rows = 0

    async def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, connect_timeout=int(TIMEOUT_S))
            async with conn.transaction():  # replicas start together: the DDL runs under one lock
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('bifrostc.claude_code_telemetry'))")
                for statement in _SCHEMA:
                    await conn.execute(statement)
            self._conn = conn
        return self._conn

    async def add_telemetry(
        self, row: TelemetryRow, now: float, keep_seconds: float | None, points: Sequence[Point] = ()
    ) -> None:
        import psycopg

        try:
            async with self._lock, asyncio.timeout(TIMEOUT_S):
                conn = await self._connection()
                async with conn.transaction(), conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO claude_code_points"
                        " (session_id, metric, label, series, key_name, value, received_at)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, metric, label, series)"
                        " DO UPDATE SET value = EXCLUDED.value, received_at = EXCLUDED.received_at",
                        [(p.session_id, p.metric, p.label, p.series, row.key_name, p.value, now) for p in points],
                    )
                    await cur.execute(
                        "INSERT INTO claude_code_telemetry"
                        " (received_at, signal, content_type, key_name, session_id, size, payload)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (now, row.signal, row.content_type, row.key_name, row.session_id, row.size, row.payload),
                    )
                    self._rows += 1
                    if keep_seconds is not None and self._rows % PRUNE_EVERY == 1:
                        for table in ("claude_code_telemetry", "claude_code_points"):
                            await cur.execute(f"DELETE FROM {table} WHERE received_at < %s", (now - keep_seconds,))
        except (psycopg.Error, OSError, TimeoutError) as exc:  # the database refused or is gone: drop this one
            log.warning("claude_code telemetry not stored in PostgreSQL: %s", type(exc).__name__)
            self._conn = None

    async def session_telemetry(self, session_id: str) -> dict[str, Any] | None:
        async with self._lock, asyncio.timeout(TIMEOUT_S):
            conn = await self._connection()
            cur = await conn.execute(
                "SELECT metric, label, SUM(value) FROM claude_code_points WHERE session_id = %s GROUP BY metric, label",
                (session_id,),
            )
            rows = await cur.fetchall()
        return summary({(metric, label): float(value) for metric, label, value in rows})

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
