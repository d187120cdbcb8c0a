"""Prometheus metrics for the gateway, on a registry of their own (never the process-global one).

A private registry keeps two gateways in one process (tests, the CLI) from colliding on metric names,
and keeps library metrics we did not ask for off our ``/metrics`` page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bifrostc.runtime.observability.records import RequestRecord

# Seconds; LLM calls run from a fraction of a second to minutes.
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
_ITL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
# Label sets whose children are memoised; requested model names are client-chosen, so the memo is bounded.
_CHILD_CACHE_MAX = 4096


class LogSinkStats(Protocol):
    """What /metrics reads from the request-log sink (observability/sink.py LogSink)."""

    written: int
    restarts: int
    available: bool

    @property
    def spooled(self) -> int: ...

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


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
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
        self.upstream_errors = Counter("bifrostc_upstream_errors", "Failed upstream attempts", ["provider"], registry=r)
        # labels() builds and locks on every call (~1.5 µs each); the children for a label set never change.
        self._request_children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}
        self._token_children = {d: self.tokens.labels(d) for d in ("input", "output", "cache_read", "cache_write")}

    def _children(self, dialect: str, route: str, provider: str, status: int) -> tuple[Any, Any]:
        key = (dialect, route, provider, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(dialect, route, provider, str(status)),
                self.duration.labels(dialect, route, provider),
            )
            if len(self._request_children) < _CHILD_CACHE_MAX:
                self._request_children[key] = children
        return children

    def observe(self, record: RequestRecord) -> None:
        route = record.route or record.requested_model or ""
        provider = record.provider or ""
        requests, duration = self._children(record.dialect, route, provider, record.status)
        requests.inc()
        if record.latency_ms is not None:
            duration.observe(record.latency_ms / 1000)
        if record.time_to_first_token_ms is not None:
            self.ttft.labels(route, provider).observe(record.time_to_first_token_ms / 1000)
        if record.inter_token_latency_ms is not None:
            self.inter_token.labels(route, provider).observe(record.inter_token_latency_ms / 1000)
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
        if record.upstream_errors:
            self.upstream_errors.labels(provider).inc(record.upstream_errors)

    def watch_log_sink(self, sink: LogSinkStats) -> None:
        """Export the request-log writer's health: drops by reason, spool backlog, restarts."""
        self.registry.register(_LogSinkCollector(sink))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def endpoint(self, request: Request) -> Response:
        return Response(self.render(), media_type=CONTENT_TYPE_LATEST)

    def routes(self, path: str = "/metrics") -> list[Route]:
        return [Route(path, self.endpoint, methods=["GET"], name="metrics")]
