"""Prometheus metrics for the gateway, on a registry of their own (never the process-global one).

A private registry keeps two gateways in one process (tests, the CLI) from colliding on metric names,
and keeps library metrics we did not ask for off our ``/metrics`` page.

Several workers (``serve --workers``, runtime/supervisor.py): the supervisor points every worker at one
``PROMETHEUS_MULTIPROC_DIR`` before Python starts, so prometheus_client keeps each value in a per-process mmap
file and ``/metrics`` from any worker sums every worker's, dead ones' counters included (the supervisor removes
a dead worker's live gauges). The log sink's own counters are copied into multiprocess metrics at each scrape
and every second (``sync``), as they cannot be read from another process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bifrostc.runtime.observability.metrics_usage import LabelMemo, ToolCall, UsageMetrics
from bifrostc.runtime.observability.records import RequestRecord

# Seconds; LLM calls run from a fraction of a second to minutes.
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
_ITL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_POOL_WAIT_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PENDING_METRIC = "bifrostc_log_records_pending"  # the supervisor reads a killed worker's last value


def _workers_metrics() -> Iterator[Metric]:
    """`serve --workers`: the supervisor's view (runtime/workers.py status), the same from every worker."""
    from bifrostc.runtime.workers import status

    current = status()
    yield GaugeMetricFamily("bifrostc_workers_expected", "Worker processes asked for", current.expected)
    yield GaugeMetricFamily("bifrostc_workers_alive", "Worker processes serving", current.alive)
    yield CounterMetricFamily(
        "bifrostc_worker_restarts", "Worker processes started again after dying", value=current.restarts
    )
    yield CounterMetricFamily(
        "bifrostc_worker_lost_log_records",
        "Request-log records a killed worker held unwritten (its last report; requests it was serving add to this)",
        value=current.lost_log_records,
    )


class _WorkersCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _workers_metrics()


def multiprocess_dir() -> str | None:
    """The directory workers share metrics through, when this process is one of several workers."""
    return os.environ.get(MULTIPROC_ENV) or None


class LogSinkStats(Protocol):
    """What /metrics reads from the request-log sink (observability/sink.py LogSink)."""

    written: int
    restarts: int
    available: bool

    @property
    def spooled(self) -> int: ...

    @property
    def unsettled(self) -> int: ...

    def drop_counts(self) -> dict[str, int]: ...


class _LogSinkCollector(Collector):
    """Reads the sink's own counters at scrape time, so the writer's hot loop never touches prometheus."""

    def __init__(self, sink: LogSinkStats) -> None:
        self.sink = sink

    def collect(self) -> Iterator[Metric]:
        sink = self.sink
        dropped = CounterMetricFamily(
            "bifrostc_log_records_dropped", "Request-log records lost, by reason", labels=["reason"]
        )
        for reason, count in sorted(sink.drop_counts().items()):
            dropped.add_metric([reason], count)
        yield dropped
        yield CounterMetricFamily("bifrostc_log_records_written", "Request-log records stored", value=sink.written)
        yield CounterMetricFamily(
            "bifrostc_log_writer_restarts", "Request-log writer tasks restarted after dying", value=sink.restarts
        )
        yield GaugeMetricFamily(
            "bifrostc_log_spool_records", "Request-log records spooled on disk, waiting for the store", sink.spooled
        )
        yield GaugeMetricFamily("bifrostc_log_store_up", "1 while the last log write reached the store", sink.available)


class _LogSinkBridge:
    """The sink's counters as multiprocess metrics: counters advance by what changed since the last sync."""

    def __init__(self, sink: LogSinkStats, registry: CollectorRegistry) -> None:
        self.sink = sink
        r = registry
        self.dropped = Counter(
            "bifrostc_log_records_dropped", "Request-log records lost, by reason", ["reason"], registry=r
        )
        self.written = Counter("bifrostc_log_records_written", "Request-log records stored", registry=r)
        self.restarts = Counter(
            "bifrostc_log_writer_restarts", "Request-log writer tasks restarted after dying", registry=r
        )
        self.spooled = Gauge(
            "bifrostc_log_spool_records",
            "Request-log records spooled on disk, waiting for the store",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pending = Gauge(
            PENDING_METRIC,
            "Request-log records accepted and not yet stored (lost if a worker is killed)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.store_up = Gauge(
            "bifrostc_log_store_up",
            "1 while the last log write reached the store",
            registry=r,
            multiprocess_mode="livemin",
        )
        self._seen: dict[str, int] = {}

    def _advance(self, name: str, value: int, counter: Any) -> None:
        delta = value - self._seen.get(name, 0)
        if delta > 0:
            counter.inc(delta)
            self._seen[name] = value

    def sync(self) -> None:
        sink = self.sink
        self._advance("written", sink.written, self.written)
        self._advance("restarts", sink.restarts, self.restarts)
        for reason, count in sink.drop_counts().items():
            self._advance("drop:" + reason, count, self.dropped.labels(reason))
        self.spooled.set(sink.spooled)
        self.pending.set(sink.unsettled)
        self.store_up.set(1 if sink.available else 0)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir()
        self._bridge: _LogSinkBridge | None = None
        r = self.registry
        self.requests = Counter(
            "bifrostc_requests", "Requests handled", ["dialect", "route", "provider", "status"], registry=r
        )
        self.duration = Histogram(
            "bifrostc_request_duration_seconds",
            "End-to-end request latency",
            ["dialect", "route", "provider"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "bifrostc_time_to_first_token_seconds",
            "Time to the first streamed token",
            ["route", "provider"],
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self.inter_token = Histogram(
            "bifrostc_inter_token_latency_seconds",
            "Mean gap between streamed output chunks after the first, per stream",
            ["route", "provider"],
            buckets=_ITL_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("bifrostc_tokens", "Tokens processed", ["direction"], registry=r)
        self.cost = Counter("bifrostc_cost_usd", "Estimated spend in USD", registry=r)
        self.cache_hits = Counter("bifrostc_cache_hits", "Responses served from the cache", registry=r)
        self.fallbacks = Counter("bifrostc_fallbacks", "Requests answered by a fallback route", registry=r)
        self.rules = Counter(
            "bifrostc_rule_requests", "Requests a routing rule routed", ["rule", "route", "status_class"], registry=r
        )
        self.upstream_errors = Counter("bifrostc_upstream_errors", "Failed upstream attempts", ["provider"], registry=r)
        self.pool_wait = Histogram(
            "bifrostc_upstream_pool_wait_seconds",
            "Time a request waited for a free upstream connection (its provider's network.max_connections)",
            ["provider"],
            buckets=_POOL_WAIT_BUCKETS,
            registry=r,
        )
        # Labelled children kept per label set (LabelMemo); a stream latency child is made on its first
        # observation, since a child shows in /metrics once it exists.
        self._requests = LabelMemo(self.requests)
        self._duration = LabelMemo(self.duration)
        self._ttft = LabelMemo(self.ttft)
        self._inter_token = LabelMemo(self.inter_token)
        self._rules = LabelMemo(self.rules)
        self._upstream_errors = LabelMemo(self.upstream_errors)
        self._pool_wait = LabelMemo(self.pool_wait)
        self._token_children = {d: self.tokens.labels(d) for d in ("input", "output", "cache_read", "cache_write")}
        self.usage = UsageMetrics(r)  # per provider/model/key/team series and MCP tool calls (metrics_usage.py)

    def observe(self, record: RequestRecord) -> None:
        route = record.route or record.requested_model or ""
        provider = record.provider or ""
        self._requests(record.dialect, route, provider, str(record.status)).inc()
        if record.latency_ms is not None:
            self._duration(record.dialect, route, provider).observe(record.latency_ms / 1000)
        if record.time_to_first_token_ms is not None:
            self._ttft(route, provider).observe(record.time_to_first_token_ms / 1000)
        if record.inter_token_latency_ms is not None:
            self._inter_token(route, provider).observe(record.inter_token_latency_ms / 1000)
        tokens = self._token_children
        if record.input_tokens:
            tokens["input"].inc(record.input_tokens)
        if record.output_tokens:
            tokens["output"].inc(record.output_tokens)
        if record.cache_read_tokens:
            tokens["cache_read"].inc(record.cache_read_tokens)
        if record.cache_write_tokens:
            tokens["cache_write"].inc(record.cache_write_tokens)
        if record.cost_usd:
            self.cost.inc(record.cost_usd)
        if record.cache_hit:
            self.cache_hits.inc()
        if record.fallback_used:
            self.fallbacks.inc()
        if record.rule:
            self._rules(record.rule, route, f"{record.status // 100}xx").inc()
        if record.upstream_errors:
            self._upstream_errors(provider).inc(record.upstream_errors)
        self.usage.observe(record)

    def observe_tool_call(self, call: ToolCall) -> None:
        self.usage.observe_tool_call(call)

    def describe_cache(self, mode: str, backend: str) -> None:
        """The response cache's scope: a memory cache is each worker's own (hits depend on which worker
        answers), a Redis one is shared by every worker and replica."""
        scope = "worker" if backend == "memory" else "shared"
        info = Gauge(
            "bifrostc_cache_info",
            "The response cache: mode, backend, and whether its entries are per worker or shared",
            ["mode", "backend", "scope"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        info.labels(mode, backend, scope).set(1)

    def observe_pool_wait(self, provider: str, seconds: float) -> None:
        """A request waited ``seconds`` for an upstream connection (runtime/http.py pool_wait_observers)."""
        self._pool_wait(provider).observe(seconds)

    def watch_log_sink(self, sink: LogSinkStats) -> None:
        """Export the request-log writer's health: drops by reason, spool backlog, restarts."""
        if self.multiprocess:
            self._bridge = _LogSinkBridge(sink, self.registry)
        else:
            self.registry.register(_LogSinkCollector(sink))

    def sync(self) -> None:
        """Copy this worker's log-sink counters into the shared files (multiprocess mode; else a no-op)."""
        if self._bridge is not None:
            self._bridge.sync()

    def note_pending(self) -> None:
        """After a record was handed to the sink: keep the pending count a killed worker leaves behind fresh."""
        if self._bridge is not None:
            self._bridge.pending.set(self._bridge.sink.unsettled)

    def render(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        self.sync()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess)  # type: ignore[no-untyped-call]  # all workers, summed
        registry.register(_WorkersCollector())
        return generate_latest(registry)

    async def endpoint(self, request: Request) -> Response:
        return Response(self.render(), media_type=CONTENT_TYPE_LATEST)

    def routes(self, path: str = "/metrics") -> list[Route]:
        return [Route(path, self.endpoint, methods=["GET"], name="metrics")]
