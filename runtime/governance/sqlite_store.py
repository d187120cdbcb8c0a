"""Embedded counter store: one SQLite table is the source of truth, so spend survives restarts.

Every admission runs in a ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock before reading:
checks and counts are atomic against other tasks of this process (a thread lock serialises the connection)
and even against another process sharing the file. Calls run on the caller's loop when nothing else holds the
file, else in the database's own thread (`SqliteDb(loop_first=True)`: a request makes one or two), so a busy
file never blocks the event loop. Counter lifetimes are wall-clock durations, like Redis TTLs. Holds (see
store.py) live in a second table, one row per (counter, request), and stop counting once ``expires_at`` has
passed; concurrency leases are rows of the same table (amount 1) on the ``concurrent`` check's key.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from bifrostc.runtime.governance.store import Check, Hold, Increment, Lease, Rejection, check_passes, checked_value
from bifrostc.runtime.sqlite_db import SqliteDb

_SCHEMA = """
CREATE TABLE IF NOT EXISTS governance_counters (
    key TEXT PRIMARY KEY,
    value REAL NOT NULL,
    expires_at REAL  -- epoch seconds; NULL: never expires
)
"""
_UPSERT = """
INSERT INTO governance_counters (key, value, expires_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = value + excluded.value, expires_at = excluded.expires_at
"""
_HOLDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS governance_holds (
    key TEXT NOT NULL,
    id TEXT NOT NULL,
    amount REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (key, id)
)
"""
_HELD = "SELECT COALESCE(SUM(amount), 0) FROM governance_holds WHERE key = ? AND expires_at > ?"
_HOLD = "INSERT OR REPLACE INTO governance_holds (key, id, amount, expires_at) VALUES (?, ?, ?, ?)"
_RELEASE = "DELETE FROM governance_holds WHERE key = ? AND id = ?"
_RENEW = "UPDATE governance_holds SET expires_at = ? WHERE key = ? AND id = ? AND expires_at > ?"
_PURGE_HOLDS = "DELETE FROM governance_holds WHERE expires_at <= ?"
_SELECT = "SELECT value FROM governance_counters WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
_PURGE = "DELETE FROM governance_counters WHERE expires_at IS NOT NULL AND expires_at <= ?"
_PURGE_EVERY = 1000  # writes between purges of expired counters
T = TypeVar("T")


class SqliteCounterStore:
    def __init__(self, path: str = ":memory:") -> None:
        self._sqlite = SqliteDb(path, schema=_SCHEMA + ";" + _HOLDS_SCHEMA, loop_first=True)  # short statements
        self._db = self._sqlite.conn
        self._writes = 0
        now = time.time()
        self._sqlite.locked(lambda: (self._db.execute(_PURGE, (now,)), self._db.execute(_PURGE_HOLDS, (now,))))

    def _value(self, key: str, now: float) -> float:
        row = self._db.execute(_SELECT, (key, now)).fetchone()
        return float(row[0]) if row else 0.0

    def _upsert(self, key: str, amount: float, ttl: int | None, now: float) -> None:
        self._db.execute(_UPSERT, (key, amount, None if ttl is None else now + ttl))

    async def _transaction(self, body: Callable[[float], T]) -> T:
        """``body(now)`` in one BEGIN IMMEDIATE transaction on the database's thread, counted for the purge."""

        def counted() -> T:
            now = time.time()
            result = body(now)
            self._writes += 1
            if self._writes % _PURGE_EVERY == 0:
                self._db.execute(_PURGE, (now,))
                self._db.execute(_PURGE_HOLDS, (now,))
            return result

        return await self._sqlite.run(counted)

    def _held(self, key: str, now: float) -> float:
        return float(self._db.execute(_HELD, (key, now)).fetchone()[0])

    def _counting(
        self, checks: Sequence[Check], hold: Hold | None, lease: Lease | None
    ) -> Callable[[float], Rejection | None]:
        def body(now: float) -> Rejection | None:
            for index, check in enumerate(checks):
                if check.kind == "concurrent":
                    live = self._held(check.key, now)
                    if not check_passes(check, live):
                        return Rejection(index, live, live, 0.0)
                    continue
                current = self._value(check.key, now)
                if check.kind == "spend":
                    held = self._held(check.key, now)
                    if not check_passes(check, current + held, hold):
                        return Rejection(index, current + held, current, held)
                    continue
                previous = self._value(check.previous_key, now) if check.previous_key else 0.0
                value = checked_value(check, current, previous)
                if not check_passes(check, value):
                    return Rejection(index, value, current, previous)
            for check in checks:
                if check.kind == "requests":
                    self._upsert(check.key, 1, check.ttl, now)
                elif check.kind == "spend" and hold is not None:
                    self._db.execute(_HOLD, (check.key, hold.id, hold.amount, now + hold.ttl))
                elif check.kind == "concurrent" and lease is not None:
                    self._db.execute(_HOLD, (check.key, lease.id, 1.0, now + lease.ttl))
            return None

        return body

    def _leasing(self, leases: Sequence[tuple[Lease, Sequence[str]]], *, renew: bool) -> Callable[[float], None]:
        def body(now: float) -> None:
            for lease, keys in leases:
                for key in keys:
                    if renew:
                        self._db.execute(_RENEW, (now + lease.ttl, key, lease.id, now))
                    else:
                        self._db.execute(_RELEASE, (key, lease.id))

        return body

    def _settling(
        self, hold: Hold | None, keys: Sequence[str], increments: Sequence[Increment]
    ) -> Callable[[float], None]:
        def body(now: float) -> None:
            if hold is not None:
                for key in keys:
                    self._db.execute(_RELEASE, (key, hold.id))
            for increment in increments:
                self._upsert(increment.key, increment.amount, increment.ttl, now)

        return body

    def _read(self, keys: Sequence[str]) -> list[float]:
        now = time.time()
        return [self._value(key, now) for key in keys]

    async def check_and_count(
        self, checks: Sequence[Check], hold: Hold | None = None, lease: Lease | None = None
    ) -> Rejection | None:
        if not checks:
            return None
        return await self._transaction(self._counting(checks, hold, lease))

    async def release(self, lease: Lease, keys: Sequence[str]) -> None:
        if keys:
            await self._transaction(self._leasing([(lease, keys)], renew=False))

    async def renew(self, leases: Sequence[tuple[Lease, Sequence[str]]]) -> None:
        if leases:
            await self._transaction(self._leasing(leases, renew=True))

    async def settle(self, hold: Hold | None, keys: Sequence[str], increments: Sequence[Increment]) -> None:
        if increments or (hold is not None and keys):
            await self._transaction(self._settling(hold, keys, increments))

    async def add(self, increments: Sequence[Increment]) -> None:
        await self.settle(None, (), increments)

    async def read(self, keys: Sequence[str]) -> list[float]:
        return await self._sqlite.run(functools.partial(self._read, keys), write=False)

    async def healthy(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._sqlite.close()
