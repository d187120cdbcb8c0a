"""Sign-in state in SQLite: device codes, refresh tokens, revoked grants and Claude Code's OTLP telemetry.

A file next to the log database (``bifrostc.db`` -> ``bifrostc.claude-code.db``), so a restart signs nobody out.
Device codes and refresh tokens are kept as sha256 digests only. A *grant* is one completed device sign-in:
its refresh tokens rotate on every use and all its tokens die together when it is revoked. Calls run in a
worker thread (a thread lock serialises the connection) so a busy file never blocks the event loop.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from bifrostc.runtime.claude_gateway.otlp_points import Point, summary
from bifrostc.runtime.sqlite_db import SqliteDb, sibling_path

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signin_devices (
    device_hash TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    surface TEXT,
    expires_at REAL NOT NULL,
    interval REAL NOT NULL,
    last_poll_at REAL,
    status TEXT NOT NULL,  -- pending | approved | denied | used
    key_name TEXT
);
CREATE TABLE IF NOT EXISTS signin_refresh (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    key_name TEXT NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS signin_revoked (grant_id TEXT PRIMARY KEY, revoked_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS claude_code_telemetry (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    signal TEXT NOT NULL,  -- metrics | logs | traces
    content_type TEXT,
    key_name TEXT,
    session_id TEXT,
    size INTEGER NOT NULL,  -- bytes received; payload holds at most the endpoint's cap of them
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_people (  -- OIDC identities: name is what tokens carry (oidc:<email or sub>)
    name TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    email TEXT,
    team TEXT NOT NULL,
    idp_refresh_token TEXT,  -- to read the person's groups again (recheck_seconds)
    checked_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_oidc_states (  -- one browser's trip to the IdP, single use
    state_hash TEXT PRIMARY KEY,
    user_code TEXT NOT NULL,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS claude_code_points (  -- what the session view sums (otlp_points.Point)
    session_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    label TEXT NOT NULL,
    series TEXT NOT NULL,
    key_name TEXT,
    value REAL NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (session_id, metric, label, series)
);
"""
# RFC 8628 §6.1: 20 consonants, no vowels (no words), no look-alike digits; 8 of them carry ~34.5 bits.
USER_CODE_CHARSET = "BCDFGHJKLMNPQRSTVWXZ"
SLOW_DOWN_STEP_S = 5.0  # RFC 8628 §3.5: each slow_down adds 5 s to the interval
_PRUNE_EVERY = 100  # telemetry rows between deletions of expired ones
POLL_SLACK = 0.8  # a poll this share of the interval after the last one still counts as on time (timer jitter)

PollOutcome = Literal["ok", "authorization_pending", "slow_down", "access_denied", "expired_token", "invalid_grant"]


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normal_user_code(text: str) -> str:
    """``wdjb mjht`` / ``WDJB-MJHT`` -> ``WDJBMJHT``: users retype codes loosely (RFC 8628 §6.1)."""
    return "".join(ch for ch in text.upper() if ch in USER_CODE_CHARSET)


def signin_db_path(log_db: str) -> str:
    return sibling_path(log_db, "claude-code")


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    device_code: str
    user_code: str  # XXXX-XXXX as shown to the user
    expires_in: int
    interval: int


@dataclass(frozen=True, slots=True)
class Poll:
    outcome: PollOutcome
    key_name: str | None = None


@dataclass(frozen=True, slots=True)
class TelemetryRow:
    signal: str  # metrics | logs | traces
    content_type: str | None
    key_name: str
    session_id: str | None
    size: int  # bytes received
    payload: bytes  # at most the endpoint's cap of them


@dataclass(frozen=True, slots=True)
class Person:
    name: str  # oidc:<email or sub>: the identity its tokens, spend and log rows carry
    subject: str
    email: str | None
    team: str
    idp_refresh_token: str | None
    checked_at: float


@dataclass(frozen=True, slots=True)
class OidcState:
    user_code: str
    verifier: str
    nonce: str
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class Refreshed:
    key_name: str
    grant_id: str
    refresh_token: str


class SignInStore:
    def __init__(self, path: str = ":memory:") -> None:
        self._sqlite = SqliteDb(path, schema=_SCHEMA, synchronous_normal=False)
        self._db = self._sqlite.conn
        self._telemetry_rows = 0

    async def _run(self, body: Callable[[], T], *, write: bool = True) -> T:
        return await self._sqlite.run(body, write=write)

    # --- device codes ---------------------------------------------------------------------------------
    async def new_device(self, surface: str | None, now: float, *, expires_in: int, interval: int) -> DeviceGrant:
        device_code = secrets.token_urlsafe(32)  # 256 bits

        def insert() -> str:
            self._db.execute("DELETE FROM signin_devices WHERE expires_at <= ?", (now - 3600,))
            while True:  # a clash among live codes is rare (1 in 2.6e10 per pair); draw again
                code = "".join(secrets.choice(USER_CODE_CHARSET) for _ in range(8))
                try:
                    self._db.execute(
                        "INSERT INTO signin_devices (device_hash, user_code, surface, expires_at, interval, status)"
                        " VALUES (?, ?, ?, ?, ?, 'pending')",
                        (digest(device_code), code, surface, now + expires_in, interval),
                    )
                    return code
                except sqlite3.IntegrityError:
                    continue

        code = await self._run(insert)
        return DeviceGrant(device_code, f"{code[:4]}-{code[4:]}", expires_in, interval)

    async def decide(self, user_code: str, key_name: str | None, now: float) -> bool:
        """Approve (``key_name``) or deny (None) a pending, unexpired user code; False when there is none."""

        def update() -> bool:
            status = "approved" if key_name is not None else "denied"
            cursor = self._db.execute(
                "UPDATE signin_devices SET status = ?, key_name = ?"
                " WHERE user_code = ? AND status = 'pending' AND expires_at > ?",
                (status, key_name, normal_user_code(user_code), now),
            )
            return cursor.rowcount == 1

        return await self._run(update)

    async def poll(self, device_code: str, now: float) -> Poll:
        """One token-endpoint poll (RFC 8628 §3.5); an approved code is redeemed exactly once."""

        def step() -> Poll:
            row = self._db.execute(
                "SELECT status, expires_at, interval, last_poll_at, key_name FROM signin_devices WHERE device_hash = ?",
                (digest(device_code),),
            ).fetchone()
            if row is None or row[0] == "used":
                return Poll("invalid_grant")
            status, expires_at, interval, last_poll, key_name = row
            if now >= expires_at:
                return Poll("expired_token")
            key = (digest(device_code),)
            if last_poll is not None and now - last_poll < interval * POLL_SLACK:
                self._db.execute(
                    "UPDATE signin_devices SET interval = interval + ?, last_poll_at = ? WHERE device_hash = ?",
                    (SLOW_DOWN_STEP_S, now, *key),
                )
                return Poll("slow_down")
            self._db.execute("UPDATE signin_devices SET last_poll_at = ? WHERE device_hash = ?", (now, *key))
            if status == "denied":
                return Poll("access_denied")
            if status != "approved":
                return Poll("authorization_pending")
            self._db.execute("UPDATE signin_devices SET status = 'used' WHERE device_hash = ?", key)
            return Poll("ok", key_name)

        return await self._run(step)

    # --- grants and refresh tokens --------------------------------------------------------------------
    def _issue_refresh(self, grant_id: str, key_name: str, now: float, ttl: int) -> str:
        token = "bfcr_" + secrets.token_urlsafe(32)
        self._db.execute(
            "INSERT INTO signin_refresh (token_hash, grant_id, key_name, expires_at) VALUES (?, ?, ?, ?)",
            (digest(token), grant_id, key_name, now + ttl),
        )
        return token

    async def new_grant(self, key_name: str, now: float, refresh_ttl: int) -> Refreshed:
        grant_id = secrets.token_urlsafe(16)
        token = await self._run(lambda: self._issue_refresh(grant_id, key_name, now, refresh_ttl))
        return Refreshed(key_name, grant_id, token)

    async def refresh(self, token: str, now: float, refresh_ttl: int) -> Refreshed | None:
        """Rotate: the presented token is spent and a new one issued in the same grant; None when refused."""

        def rotate() -> Refreshed | None:
            row = self._db.execute(
                "SELECT r.grant_id, r.key_name FROM signin_refresh r"
                " WHERE r.token_hash = ? AND r.used_at IS NULL AND r.expires_at > ?"
                " AND NOT EXISTS (SELECT 1 FROM signin_revoked v WHERE v.grant_id = r.grant_id)",
                (digest(token), now),
            ).fetchone()
            if row is None:
                return None
            grant_id, key_name = row
            self._db.execute("UPDATE signin_refresh SET used_at = ? WHERE token_hash = ?", (now, digest(token)))
            self._db.execute("DELETE FROM signin_refresh WHERE expires_at <= ?", (now,))
            return Refreshed(key_name, grant_id, self._issue_refresh(grant_id, key_name, now, refresh_ttl))

        return await self._run(rotate)

    async def revoke(self, grant_id: str, now: float, *, forget_after: float) -> None:
        """End a grant. Its refresh tokens go now; the revocation is remembered ``forget_after`` seconds (longer
        than any access token of the grant can live), then dropped."""

        def insert() -> None:
            self._db.execute("INSERT OR IGNORE INTO signin_revoked VALUES (?, ?)", (grant_id, now))
            self._db.execute("DELETE FROM signin_refresh WHERE grant_id = ?", (grant_id,))
            self._db.execute("DELETE FROM signin_revoked WHERE revoked_at < ?", (now - forget_after,))

        await self._run(insert)

    async def grant_of_refresh(self, token: str) -> str | None:
        def select() -> str | None:
            row = self._db.execute(
                "SELECT grant_id FROM signin_refresh WHERE token_hash = ?", (digest(token),)
            ).fetchone()
            return str(row[0]) if row else None

        return await self._run(select, write=False)

    async def is_revoked(self, grant_id: str) -> bool:
        def select() -> bool:
            row = self._db.execute("SELECT 1 FROM signin_revoked WHERE grant_id = ?", (grant_id,)).fetchone()
            return row is not None

        return await self._run(select, write=False)

    # --- OIDC people and their trips to the IdP --------------------------------------------------------
    async def put_person(self, person: Person) -> None:
        def upsert() -> None:
            self._db.execute(
                "INSERT OR REPLACE INTO signin_people VALUES (?, ?, ?, ?, ?, ?)",
                (person.name, person.subject, person.email, person.team, person.idp_refresh_token, person.checked_at),
            )

        await self._run(upsert)

    async def person(self, name: str) -> Person | None:
        def select() -> Person | None:
            row = self._db.execute("SELECT * FROM signin_people WHERE name = ?", (name,)).fetchone()
            return Person(*row) if row else None

        return await self._run(select, write=False)

    async def forget_person(self, name: str) -> None:
        """The person lost their grant: their refresh tokens go too (access tokens fail on the missing row)."""

        def delete() -> None:
            self._db.execute("DELETE FROM signin_people WHERE name = ?", (name,))
            self._db.execute("DELETE FROM signin_refresh WHERE key_name = ?", (name,))

        await self._run(delete)

    async def put_oidc_state(self, state: str, trip: OidcState, expires_at: float) -> None:
        def insert() -> None:
            self._db.execute("DELETE FROM signin_oidc_states WHERE expires_at <= ?", (expires_at - 3600,))
            self._db.execute(
                "INSERT INTO signin_oidc_states VALUES (?, ?, ?, ?, ?, ?)",
                (digest(state), trip.user_code, trip.verifier, trip.nonce, trip.redirect_uri, expires_at),
            )

        await self._run(insert)

    async def take_oidc_state(self, state: str, now: float) -> OidcState | None:
        """The trip ``state`` names, once: it is deleted as it is read."""

        def take() -> OidcState | None:
            row = self._db.execute(
                "SELECT user_code, verifier, nonce, redirect_uri, expires_at FROM signin_oidc_states"
                " WHERE state_hash = ?",
                (digest(state),),
            ).fetchone()
            self._db.execute("DELETE FROM signin_oidc_states WHERE state_hash = ?", (digest(state),))
            return OidcState(*row[:4]) if row and row[4] > now else None

        return await self._run(take)

    async def is_pending(self, user_code: str, now: float) -> bool:
        def select() -> bool:
            row = self._db.execute(
                "SELECT 1 FROM signin_devices WHERE user_code = ? AND status = 'pending' AND expires_at > ?",
                (normal_user_code(user_code), now),
            ).fetchone()
            return row is not None

        return await self._run(select, write=False)

    # --- telemetry ------------------------------------------------------------------------------------
    async def add_telemetry(
        self, row: TelemetryRow, now: float, keep_seconds: float | None, points: Sequence[Point] = ()
    ) -> None:
        """Store one payload and its counted points (a point of a series seen before replaces it); every
        _PRUNE_EVERY rows, those older than ``keep_seconds`` go (None keeps all)."""

        def insert() -> None:
            self._db.executemany(
                "INSERT OR REPLACE INTO claude_code_points"
                " (session_id, metric, label, series, key_name, value, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(p.session_id, p.metric, p.label, p.series, row.key_name, p.value, now) for p in points],
            )
            self._db.execute(
                "INSERT INTO claude_code_telemetry"
                " (received_at, signal, content_type, key_name, session_id, size, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, row.signal, row.content_type, row.key_name, row.session_id, row.size, row.payload),
            )
            self._telemetry_rows += 1
            if keep_seconds is not None and self._telemetry_rows % _PRUNE_EVERY == 1:
                self._db.execute("DELETE FROM claude_code_telemetry WHERE received_at < ?", (now - keep_seconds,))
                self._db.execute("DELETE FROM claude_code_points WHERE received_at < ?", (now - keep_seconds,))

        await self._run(insert)

    async def session_telemetry(self, session_id: str) -> dict[str, Any] | None:
        """What Claude Code reported about one session (``otlp_points.summary``), None when nothing."""

        def select() -> list[tuple[str, str, float]]:
            return self._db.execute(
                "SELECT metric, label, SUM(value) FROM claude_code_points WHERE session_id = ? GROUP BY metric, label",
                (session_id,),
            ).fetchall()

        rows = await self._run(select, write=False)
        return summary({(metric, label): float(value) for metric, label, value in rows})

    def close(self) -> None:
        self._sqlite.close()
