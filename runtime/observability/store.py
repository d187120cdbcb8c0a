"""The request-log store contract and the SQL both relational stores share.

A store keeps :class:`RequestRecord` rows under an auto-increment ``seq`` (the stable order the dashboard
pages by, via ``before_id``) and answers filtered queries and per-key spend. SQLite and PostgreSQL differ
only in column types and placeholder style, so the statements are built here once.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from bifrostc.runtime.observability.records import RECORD_FIELDS, RequestRecord

DEFAULT_TABLE = "bifrostc_requests"
MAX_LIMIT = 1000
PRUNE_CHUNK = 5000

# Column kind per record field; everything not listed is TEXT.
_KINDS: dict[str, str] = {
    "ts": "real",
    "stream": "bool",
    "status": "int",
    "input_tokens": "int",
    "output_tokens": "int",
    "cache_read_tokens": "int",
    "cache_write_tokens": "int",
    "cost_usd": "real",
    "latency_ms": "real",
    "time_to_first_token_ms": "real",
    "inter_token_latency_ms": "real",
    "attempts": "int",
    "upstream_errors": "int",
    "fallback_used": "bool",
    "cache_hit": "bool",
    "usage_estimated": "bool",
    "temperature": "real",
    "max_tokens": "int",
    "tools_count": "int",
    "request_messages": "json",
    "response_content": "json",
}
_SQL_TYPES = {
    "sqlite": {"text": "TEXT", "int": "INTEGER", "real": "REAL", "bool": "INTEGER", "json": "TEXT"},
    "postgres": {"text": "TEXT", "int": "BIGINT", "real": "DOUBLE PRECISION", "bool": "BOOLEAN", "json": "TEXT"},
}
_SEQ_COLUMN = {"sqlite": "seq INTEGER PRIMARY KEY AUTOINCREMENT", "postgres": "seq BIGSERIAL PRIMARY KEY"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Columns the list view returns: everything but the (possibly large) bodies.
SUMMARY_FIELDS: tuple[str, ...] = tuple(f for f in RECORD_FIELDS if _KINDS.get(f) != "json")


@dataclass(frozen=True, slots=True)
class LogFilter:
    model: str | None = None  # matches the requested model, the route or the upstream model
    key: str | None = None  # virtual key name
    provider: str | None = None
    status: str | None = None  # "200", "4xx", "error" (>= 400) or "ok" (< 400)
    since: float | None = None  # unix seconds
    limit: int = 100
    before_id: int | None = None  # a seq: return only older rows (pagination)
    session: str | None = None  # session_id (Claude Code's session, or what affinity keyed on)


class StoreUnavailable(RuntimeError):
    """The store cannot be reached right now (connection refused or lost, database locked): nothing about the
    records is wrong, so the sink keeps them (spools them to disk) and retries, rather than dropping them."""


class LogStore(Protocol):
    """Where the sink writes batches and the dashboard reads from."""

    async def open(self) -> None: ...

    async def write_batch(self, records: Sequence[RequestRecord]) -> None: ...

    async def query(self, filters: LogFilter) -> list[dict[str, Any]]: ...

    async def get(self, record_id: str) -> dict[str, Any] | None: ...

    async def spend_by_key(self, since: float | None = None) -> list[dict[str, Any]]: ...

    async def prune(self, before: float) -> int | None:
        """Delete rows logged before ``before`` (unix seconds); returns how many went, or None when another
        replica is pruning the same store right now (PostgreSQL: an advisory lock)."""
        ...

    async def close(self) -> None: ...


async def prune_in_chunks(delete_chunk: Callable[[], Awaitable[int]]) -> int:
    """Run ``delete_chunk`` (one ``LogSql.prune`` statement) until a chunk comes back short; total deleted."""
    removed = 0
    while True:
        count = await delete_chunk()
        removed += count
        if count < PRUNE_CHUNK:
            return removed


def checked_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"invalid SQL identifier {name!r}")
    return name


class LogSql:
    """The statements for one table in one SQL flavour (``sqlite`` uses ``?``, ``postgres`` uses ``%s``)."""

    def __init__(self, flavour: str, table: str) -> None:
        self.flavour = flavour
        self.table = table  # already validated / quoted by the caller
        self.mark = "?" if flavour == "sqlite" else "%s"
        # One C-level fetch of every field per row; only the few json (and, in SQLite, bool) columns are touched.
        self._fields = operator.attrgetter(*RECORD_FIELDS)
        self._json_at = tuple(i for i, name in enumerate(RECORD_FIELDS) if _KINDS.get(name) == "json")
        # SQLite takes a json column as orjson's UTF-8 bytes, cast to TEXT in the statement: a str would be
        # decoded here and encoded back by sqlite3's binding, two passes over a Claude Code turn's non-ASCII
        # text (~150k instructions, bench/RESULTS.md). psycopg would send bytes as bytea, so PostgreSQL gets str.
        self._json_bytes = flavour == "sqlite"
        cast = f"CAST({self.mark} AS TEXT)" if self._json_bytes else self.mark
        marks = ", ".join(cast if i in self._json_at else self.mark for i in range(len(RECORD_FIELDS)))
        self._insert = f"INSERT INTO {self.table} ({', '.join(RECORD_FIELDS)}) VALUES ({marks})"  # once, not per batch
        bools = (i for i, name in enumerate(RECORD_FIELDS) if _KINDS.get(name) == "bool")
        self._bool_at = tuple(bools) if flavour == "sqlite" else ()

    def create_statements(self) -> list[str]:
        types = _SQL_TYPES[self.flavour]
        columns = [_SEQ_COLUMN[self.flavour]]
        columns += [f"{name} {types[_KINDS.get(name, 'text')]}" for name in RECORD_FIELDS]
        return [f"CREATE TABLE IF NOT EXISTS {self.table} ({', '.join(columns)})"]

    def index_statements(self) -> list[str]:
        """Run after `missing_columns`: an index may name a column an older table only now got."""
        base = self.table.replace('"', "").replace(".", "_")
        named = (("ts", "ts"), ("id", "id"), ("key", "virtual_key"), ("session", "session_id"))
        return [f"CREATE INDEX IF NOT EXISTS {base}_{name}_idx ON {self.table} ({column})" for name, column in named]

    def add_column(self, name: str) -> str:
        """Additive migration: a record field newer than the table becomes a nullable column (a flag: false)."""
        kind = _KINDS.get(name, "text")
        default = (" DEFAULT " + ("FALSE" if self.flavour == "postgres" else "0")) if kind == "bool" else ""
        return f"ALTER TABLE {self.table} ADD COLUMN {name} {_SQL_TYPES[self.flavour][kind]}{default}"

    def missing_columns(self, existing: Iterable[str]) -> list[str]:
        """``add_column`` statements for every record field the table lacks, in field order. Migrations are
        only ever additive (new fields on RequestRecord, with a kind in ``_KINDS``), so this is the whole list."""
        have = {name.lower() for name in existing}
        return [self.add_column(name) for name in RECORD_FIELDS if name.lower() not in have]

    def insert(self) -> str:
        return self._insert

    def insert_params(self, record: RequestRecord) -> tuple[Any, ...]:
        values = list(self._fields(record))
        for i in self._json_at:
            if values[i] is not None:
                data = orjson.dumps(values[i], default=str)
                values[i] = data if self._json_bytes else data.decode()
        for i in self._bool_at:
            values[i] = int(bool(values[i]))
        return tuple(values)

    def select(self, filters: LogFilter) -> tuple[str, list[Any]]:
        where, params = self._where(filters)
        limit = max(1, min(int(filters.limit), MAX_LIMIT))
        columns = ", ".join(("seq", *SUMMARY_FIELDS))
        sql = f"SELECT {columns} FROM {self.table}{where} ORDER BY seq DESC LIMIT {limit}"
        return sql, params

    def select_one(self) -> str:
        return f"SELECT seq, {', '.join(RECORD_FIELDS)} FROM {self.table} WHERE id = {self.mark}"

    def spend(self, since: float | None) -> tuple[str, list[Any]]:
        where = f" WHERE ts >= {self.mark}" if since is not None else ""
        sql = (
            f"SELECT virtual_key, COUNT(*), SUM(cost_usd), SUM(input_tokens), SUM(output_tokens), MAX(ts) "
            f"FROM {self.table}{where} GROUP BY virtual_key ORDER BY SUM(cost_usd) DESC"
        )
        return sql, ([since] if since is not None else [])

    def prune(self, chunk: int) -> str:
        """Delete at most ``chunk`` rows older than the parameter: short transactions never stall the writer."""
        return (
            f"DELETE FROM {self.table} WHERE seq IN "
            f"(SELECT seq FROM {self.table} WHERE ts < {self.mark} ORDER BY seq LIMIT {int(chunk)})"
        )

    def _where(self, f: LogFilter) -> tuple[str, list[Any]]:
        m = self.mark
        clauses: list[str] = []
        params: list[Any] = []
        if f.model:
            clauses.append(f"(requested_model = {m} OR route = {m} OR upstream_model = {m})")
            params += [f.model, f.model, f.model]
        for column, value in (("virtual_key", f.key), ("provider", f.provider), ("session_id", f.session)):
            if value:
                clauses.append(f"{column} = {m}")
                params.append(value)
        if f.status:
            clause, values = _status_clause(f.status, m)
            clauses.append(clause)
            params += values
        if f.since is not None:
            clauses.append(f"ts >= {m}")
            params.append(f.since)
        if f.before_id is not None:
            clauses.append(f"seq < {m}")
            params.append(f.before_id)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _status_clause(status: str, mark: str) -> tuple[str, list[Any]]:
    text = status.strip().lower()
    if text == "error":
        return f"status >= {mark}", [400]
    if text == "ok":
        return f"status < {mark}", [400]
    if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
        low = int(text[0]) * 100
        return f"status >= {mark} AND status < {mark}", [low, low + 100]
    if text.isdigit():
        return f"status = {mark}", [int(text)]
    raise ValueError(f"unknown status filter {status!r}: use 200, 4xx, ok or error")


def row_to_dict(names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """Turn a result row back into the record's JSON shape (bools and bodies decoded)."""
    out: dict[str, Any] = {}
    for name, value in zip(names, row, strict=True):
        kind = _KINDS.get(name)
        if kind == "bool" and value is not None:
            value = bool(value)
        elif kind == "json" and isinstance(value, str):
            value = orjson.loads(value)
        out[name] = value
    return out


def spend_row_to_dict(row: Sequence[Any]) -> dict[str, Any]:
    key, requests, cost, input_tokens, output_tokens, last_ts = row
    return {
        "key": key,
        "requests": int(requests),
        "cost_usd": float(cost or 0.0),
        "input_tokens": int(input_tokens or 0),
        "output_tokens": int(output_tokens or 0),
        "last_ts": last_ts,
    }
