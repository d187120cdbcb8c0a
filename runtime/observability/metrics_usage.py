"""Who used what: per provider, model, key and team counters and histograms beside ``GatewayMetrics``' own.

``GatewayMetrics`` keeps its original series (``bifrostc_requests_total`` and friends, which existing alerts
read); this module adds the labelled set a team lead's dashboard needs (docs/METRICS.md lists both, next to
Bifrost's). Everything is observed from the finished :class:`RequestRecord`, plus MCP tool calls reported by
the MCP gateway. Label children are memoised (``labels()`` costs ~1.5 µs a call); the memo is bounded because
requested model names are client-chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from bifrostc.runtime.observability.records import RequestRecord

_UPSTREAM_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
_ATTEMPT_BUCKETS = (1, 2, 3, 4, 6, 8)
_TOOL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_MEMO_MAX = 4096
NO_KEY = "-"  # the key and team label of a request made without a virtual key


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One MCP tool call as the MCP gateway saw it (status: ok | error | denied | unavailable)."""

    key: str | None
    server: str
    tool: str
    status: str
    latency_s: float


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class LabelMemo:
    """``metric.labels(*values)`` once per label tuple (``labels()`` builds and locks on every call, ~1.5 µs;
    the child for a label set never changes). The one label cache: ``GatewayMetrics`` uses it too."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = self.metric.labels(*values)
            if len(self.children) < _MEMO_MAX:
                self.children[values] = child
        return child


class UsageMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self._tool_counts: dict[tuple[str, str, str, str], int] = {}  # what the dashboard lists
        self.requests = LabelMemo(
            Counter(
                "bifrostc_llm_requests",
                "Model requests by route, provider, upstream model, key, team, status class and cache outcome",
                ["route", "provider", "model", "key", "team", "status_class", "cache"],
                registry=r,
            )
        )
        self.upstream_latency = LabelMemo(
            Histogram(
                "bifrostc_upstream_latency_seconds",
                "Arrival to last byte of requests an upstream answered (cache hits excluded)",
                ["provider", "model"],
                buckets=_UPSTREAM_BUCKETS,
                registry=r,
            )
        )
        self.attempts = LabelMemo(
            Histogram(
                "bifrostc_upstream_attempts",
                "Upstream attempts per request (retries and fallbacks included)",
                ["route", "provider"],
                buckets=_ATTEMPT_BUCKETS,
                registry=r,
            )
        )
        self.tokens = LabelMemo(
            Counter(
                "bifrostc_llm_tokens",
                "Tokens by provider, upstream model, key and direction (input, output, cache_read, cache_write)",
                ["provider", "model", "key", "direction"],
                registry=r,
            )
        )
        self.cost = LabelMemo(
            Counter(
                "bifrostc_llm_cost_usd",
                "Spend in USD by provider, upstream model, key and team",
                ["provider", "model", "key", "team"],
                registry=r,
            )
        )
        self.tool_calls = LabelMemo(
            Counter("bifrostc_mcp_tool_calls", "MCP tool calls", ["server", "tool", "key", "status"], registry=r)
        )
        self.tool_latency = LabelMemo(
            Histogram(
                "bifrostc_mcp_tool_call_duration_seconds",
                "MCP tool call latency",
                ["server"],
                buckets=_TOOL_BUCKETS,
                registry=r,
            )
        )

    def observe(self, record: RequestRecord) -> None:
        provider, model = record.provider or "", record.upstream_model or ""
        key, team = record.virtual_key or NO_KEY, record.team or NO_KEY
        route = record.route or record.requested_model or ""
        cache = "hit" if record.cache_hit else "miss"
        self.requests(route, provider, model, key, team, status_class(record.status), cache).inc()
        if not record.cache_hit and provider:
            if record.latency_ms is not None:
                self.upstream_latency(provider, model).observe(record.latency_ms / 1000)
            if record.attempts:
                self.attempts(route, provider).observe(record.attempts)
        for direction, count in (
            ("input", record.input_tokens),
            ("output", record.output_tokens),
            ("cache_read", record.cache_read_tokens),
            ("cache_write", record.cache_write_tokens),
        ):
            if count:
                self.tokens(provider, model, key, direction).inc(count)
        if record.cost_usd:
            self.cost(provider, model, key, team).inc(record.cost_usd)

    def observe_tool_call(self, call: ToolCall) -> None:
        labels = (call.server, call.tool, call.key or NO_KEY, call.status)
        self.tool_calls(*labels).inc()
        self.tool_latency(call.server).observe(call.latency_s)
        if labels in self._tool_counts or len(self._tool_counts) < _MEMO_MAX:
            self._tool_counts[labels] = self._tool_counts.get(labels, 0) + 1

    def tool_call_counts(self) -> list[dict[str, Any]]:
        """This process's MCP tool calls since it started, by server, tool, key and status (the dashboard's table)."""
        names = ("server", "tool", "key", "status")
        return [
            {**dict(zip(names, labels, strict=True)), "calls": calls}
            for labels, calls in sorted(self._tool_counts.items())
        ]


ToolCallSink = Callable[[ToolCall], None]
