"""Stored responses in SQLite (embedded state): one row per response, one per findable item, a running total.

Every write is one BEGIN IMMEDIATE transaction (`runtime/sqlite_db.py`: on the caller's loop unless another process
holds the file), so workers sharing the file keep the total and the eviction consistent. A put first drops expired
responses, then evicts the oldest while the total exceeds `max_bytes`; an item is found only while its response is
there and unexpired.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from bifrostc.runtime.responses_store import Stored
from bifrostc.runtime.sqlite_db import SqliteDb

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stored_responses (
    owner TEXT NOT NULL,
    id TEXT NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (owner, id)
);
CREATE INDEX IF NOT EXISTS stored_responses_created ON stored_responses (created_at);
CREATE INDEX IF NOT EXISTS stored_responses_expires ON stored_responses (expires_at);
CREATE TABLE IF NOT EXISTS stored_items (
    owner TEXT NOT NULL,
    id TEXT NOT NULL,
    response_id TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (owner, id)
);
CREATE INDEX IF NOT EXISTS stored_items_response ON stored_items (owner, response_id);
CREATE TABLE IF NOT EXISTS stored_total (one INTEGER PRIMARY KEY CHECK (one = 1), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO stored_total (one, bytes) VALUES (1, 0);
"""
_GET = "SELECT body FROM stored_responses WHERE owner = ? AND id = ? AND expires_at > ?"
_ITEM = """
SELECT i.body FROM stored_items i JOIN stored_responses r ON r.owner = i.owner AND r.id = i.response_id
WHERE i.owner = ? AND i.id = ? AND r.expires_at > ?
"""
_LIVE_SIZE = "SELECT size FROM stored_responses WHERE owner = ? AND id = ? AND expires_at > ?"
_SIZE = "SELECT size FROM stored_responses WHERE owner = ? AND id = ?"
_ITEM_PUT = "INSERT OR REPLACE INTO stored_items (owner, id, response_id, body) VALUES (?, ?, ?, ?)"
_ADD = "UPDATE stored_total SET bytes = bytes + ?"
_TOTAL = "SELECT bytes FROM stored_total"
_EXPIRED = "SELECT owner, id, size FROM stored_responses WHERE expires_at <= ? LIMIT 500"
_OLDEST = "SELECT owner, id, size FROM stored_responses ORDER BY created_at LIMIT 64"


class SqliteResponseStore:
    def __init__(self, path: str, *, ttl_seconds: int, max_bytes: int) -> None:
        self._db = SqliteDb(path, schema=_SCHEMA, loop_first=True)  # a put is ~60 µs of indexed statements
        self.ttl_seconds, self.max_bytes = ttl_seconds, max_bytes
        self.clock: Callable[[], float] = time.time  # wall clock, like Redis TTLs

    def _drop(self, owner: str, resp_id: str, size: int) -> None:
        conn = self._db.conn
        conn.execute("DELETE FROM stored_items WHERE owner = ? AND response_id = ?", (owner, resp_id))
        conn.execute("DELETE FROM stored_responses WHERE owner = ? AND id = ?", (owner, resp_id))
        conn.execute(_ADD, (-size,))

    def _put(self, owner: str, stored: Stored, now: float) -> None:
        conn = self._db.conn
        for row in conn.execute(_EXPIRED, (now,)).fetchall():
            self._drop(*row)
        previous = conn.execute(_SIZE, (owner, stored.id)).fetchone()
        if previous is not None:
            self._drop(owner, stored.id, previous[0])
        body = stored.dumps()
        items = [(owner, item_id, stored.id, orjson.dumps(item)) for item_id, item in stored.items()]
        size = len(body) + sum(len(row[3]) for row in items)
        conn.execute(
            "INSERT INTO stored_responses (owner, id, body, size, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (owner, stored.id, body, size, now, now + self.ttl_seconds),
        )
        conn.executemany(
            "INSERT OR REPLACE INTO stored_items (owner, id, response_id, body) VALUES (?, ?, ?, ?)", items
        )
        conn.execute(_ADD, (size,))
        while conn.execute(_TOTAL).fetchone()[0] > self.max_bytes:
            oldest = conn.execute(_OLDEST).fetchall()
            if not oldest:
                break
            for row in oldest:
                self._drop(*row)
                if conn.execute(_TOTAL).fetchone()[0] <= self.max_bytes:
                    break

    async def put(self, owner: str, stored: Stored) -> None:
        now = self.clock()
        await self._db.run(lambda: self._put(owner, stored, now))

    async def get(self, owner: str, resp_id: str) -> Stored | None:
        now = self.clock()
        row = await self._db.run(lambda: self._db.conn.execute(_GET, (owner, resp_id, now)).fetchone(), write=False)
        return None if row is None else Stored.loads(resp_id, row[0])

    async def item(self, owner: str, item_id: str) -> dict[str, Any] | None:
        now = self.clock()
        row = await self._db.run(lambda: self._db.conn.execute(_ITEM, (owner, item_id, now)).fetchone(), write=False)
        if row is None:
            return None
        item: dict[str, Any] = orjson.loads(row[0])
        return item

    async def delete(self, owner: str, resp_id: str) -> bool:
        now = self.clock()

        def delete() -> bool:
            row = self._db.conn.execute(_LIVE_SIZE, (owner, resp_id, now)).fetchone()
            if row is None:
                return False
            self._drop(owner, resp_id, row[0])
            return True

        return await self._db.run(delete)

    async def close(self) -> None:
        self._db.close()
