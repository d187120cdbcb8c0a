"""One object that wires the request log, metrics, traces and dashboard from ``Observability`` config.

The app builds it in its lifespan (``Telemetry.from_config``), awaits ``start()``, calls ``record(r)`` once per
finished request (synchronous and cheap: a counter update, a span and a queue put), mounts ``routes()`` and
awaits ``aclose()`` on shutdown so queued log rows are flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from starlette.routing import BaseRoute, Mount

from bifrostc.runtime.config import Observability
from bifrostc.runtime.observability.dashboard import SpendReport, dashboard_routes
from bifrostc.runtime.observability.logging_setup import log_access
from bifrostc.runtime.observability.metrics import GatewayMetrics
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.retention import LogRetention
from bifrostc.runtime.observability.sink import DEFAULT_LINGER_S, LogSink
from bifrostc.runtime.observability.spool import SPOOL_FILE, LogSpool
from bifrostc.runtime.observability.store import LogStore
from bifrostc.runtime.observability.store_postgres import PostgresLogStore
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
from bifrostc.runtime.observability.tracing import GatewayTracer
from bifrostc.runtime.workers import runs_once_per_server

LOG_COMMIT_WAIT_S = 1.0  # how long an answer waits for its log row at most (then the row is written after it)
METRICS_SYNC_S = 1.0  # multiprocess mode: how often this worker's log-sink counters reach the shared files

LINGER_ENV = "BIFROSTC_LOG_LINGER_MS"


def log_linger_s(environ: Mapping[str, str]) -> float:
    """How long the request log waits to fill a batch: ``BIFROSTC_LOG_LINGER_MS`` (0 writes at once)."""
    raw = environ.get(LINGER_ENV, "").strip()
    if not raw:
        return DEFAULT_LINGER_S
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{LINGER_ENV} must be a number of milliseconds, not {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{LINGER_ENV} must not be negative, got {raw!r}")
    return value / 1000


def build_store(cfg: Observability, environ: Mapping[str, str] | None = None) -> LogStore | None:
    """The configured log store, or None when ``log_store`` is ``none``."""
    env = os.environ if environ is None else environ
    if cfg.log_store == "none":
        return None
    if cfg.log_store == "sqlite":
        return SqliteLogStore(cfg.sqlite_path)
    if cfg.log_store == "postgres":
        if not cfg.postgres_dsn_env or not env.get(cfg.postgres_dsn_env):
            raise RuntimeError(f"log_store is postgres but env var {cfg.postgres_dsn_env!r} holding the DSN is not set")
        return PostgresLogStore(env[cfg.postgres_dsn_env], pool_size=cfg.postgres_pool_size)
    raise ValueError(f"unknown log_store {cfg.log_store!r}: use sqlite, postgres or none")


def spool_path(cfg: Observability) -> Path:
    """``observability.spool_dir``, else the directory of ``sqlite_path`` (the working directory for :memory:)."""
    if cfg.spool_dir:
        return Path(cfg.spool_dir) / SPOOL_FILE
    base = Path(cfg.sqlite_path).parent if cfg.sqlite_path != ":memory:" else Path()
    return base / SPOOL_FILE


class Telemetry:
    def __init__(
        self,
        *,
        sink: LogSink | None = None,
        metrics: GatewayMetrics | None = None,
        tracer: GatewayTracer | None = None,
        retention: LogRetention | None = None,
    ) -> None:
        self.sink = sink
        self.metrics = metrics
        self.tracer = tracer or GatewayTracer()
        self.retention = retention
        self._sync_task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, cfg: Observability, *, environ: Mapping[str, str] | None = None) -> Telemetry:
        env = os.environ if environ is None else environ
        store = build_store(cfg, env)
        sink = None
        if store is not None:
            spool = LogSpool(spool_path(cfg))
            sink = LogSink(store, log_bodies=cfg.log_bodies, linger_s=log_linger_s(env), spool=spool)
        retention = None
        if store is not None and cfg.retention_days is not None and runs_once_per_server():
            retention = LogRetention(store, days=cfg.retention_days)  # one worker prunes for the whole server
        metrics = GatewayMetrics() if cfg.metrics else None
        if metrics is not None and sink is not None:
            metrics.watch_log_sink(sink)
        return cls(
            sink=sink,
            retention=retention,
            metrics=metrics,
            tracer=GatewayTracer.from_endpoint(cfg.otlp_endpoint, service_name=cfg.service_name),
        )

    def record(self, record: RequestRecord) -> None:
        """Account for one finished request. Never blocks and never does I/O (but the access line, when on)."""
        if self.metrics is not None:
            self.metrics.observe(record)
        self.tracer.record(record)
        log_access(record)  # before the sink takes the record over (it scrubs it in place)
        if self.sink is not None:
            self.sink.submit(record)
            if self.metrics is not None:
                self.metrics.note_pending()

    async def committed(self) -> None:
        """Wait until the request log holds every record so far (in the store or the spool), at most
        ``LOG_COMMIT_WAIT_S``: the answer's last byte goes out after this, so a process killed once a client
        has its answer has written that answer's row. A store stuck on a write for that long already (a frozen
        database) delays answers no further: they go out at once, their rows written (or spooled) later."""
        if self.sink is not None:
            await self.sink.committed(LOG_COMMIT_WAIT_S)

    def routes(
        self,
        *,
        admin_key: str | None = None,
        spend_report: SpendReport | None = None,
        dashboard_prefix: str = "/dashboard",
    ) -> list[BaseRoute]:
        """``/metrics`` (unauthenticated, for scrapers) and the dashboard mounted at ``dashboard_prefix``."""
        routes: list[BaseRoute] = []
        if self.metrics is not None:
            routes += self.metrics.routes()
        if self.sink is not None:
            dashboard = dashboard_routes(self.sink.store, spend_report=spend_report, admin_key=admin_key)
            routes.append(Mount(dashboard_prefix, routes=dashboard))
        return routes

    async def start(self) -> None:
        if self.sink is not None:
            await self.sink.start()
        if self.retention is not None:
            self.retention.start()
        if self.metrics is not None and self.metrics.multiprocess and self._sync_task is None:
            self._sync_task = asyncio.create_task(self._sync_metrics(), name="bifrostc-metrics-sync")

    async def _sync_metrics(self) -> None:
        assert self.metrics is not None
        while True:
            await asyncio.sleep(METRICS_SYNC_S)
            self.metrics.sync()

    async def aclose(self) -> None:
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.retention is not None:
            await self.retention.aclose()
        if self.sink is not None:
            await self.sink.aclose()
        if self.metrics is not None:
            self.metrics.sync()  # what this worker wrote last, before it exits
        await asyncio.to_thread(self.tracer.shutdown)
