"""The dashboard overview: request-log rows in a time range folded into totals and a time series.

``overview(store, since=..., until=..., buckets=...)`` pages through the log newest first (``LogStore.query``,
``MAX_LIMIT`` rows a page) up to ``max_rows`` rows and aggregates them here, so every store backs it with no
SQL of its own; ``truncated`` says when the range held more rows than were read (the series then covers the
newest ones only).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bifrostc.runtime.observability.store import MAX_LIMIT, LogFilter, LogStore

MAX_ROWS = 20_000
MAX_BUCKETS = 200
Row = Mapping[str, Any]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class _Fold:
    requests: int = 0
    errors: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    errors_by_provider: dict[str, int] = field(default_factory=dict)
    requests_by_provider: dict[str, int] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        provider = row.get("provider") or "-"
        self.requests += 1
        self.requests_by_provider[provider] = self.requests_by_provider.get(provider, 0) + 1
        if int(row.get("status") or 0) >= 400:
            self.errors += 1
            self.errors_by_provider[provider] = self.errors_by_provider.get(provider, 0) + 1
        self.cache_hits += bool(row.get("cache_hit"))
        self.input_tokens += int(row.get("input_tokens") or 0)
        self.output_tokens += int(row.get("output_tokens") or 0)
        self.cache_read_tokens += int(row.get("cache_read_tokens") or 0)
        self.cost_usd += float(row.get("cost_usd") or 0.0)
        if row.get("latency_ms") is not None:
            self.latencies.append(float(row["latency_ms"]))
        if row.get("time_to_first_token_ms") is not None:
            self.ttfts.append(float(row["time_to_first_token_ms"]))

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "errors_by_provider": dict(sorted(self.errors_by_provider.items())),
            "requests_by_provider": dict(sorted(self.requests_by_provider.items())),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cost_usd": self.cost_usd,
            "cache_hit_rate": self.cache_hits / self.requests if self.requests else None,
            "latency_p50_ms": percentile(self.latencies, 0.5),
            "latency_p95_ms": percentile(self.latencies, 0.95),
            "ttft_p50_ms": percentile(self.ttfts, 0.5),
            "ttft_p95_ms": percentile(self.ttfts, 0.95),
        }


async def _rows(store: LogStore, since: float, until: float, max_rows: int) -> tuple[list[Row], bool]:
    rows: list[Row] = []
    before: int | None = None
    while len(rows) < max_rows:
        page = await store.query(LogFilter(since=since, limit=MAX_LIMIT, before_id=before))
        rows += [row for row in page if float(row["ts"]) <= until]
        if len(page) < MAX_LIMIT:
            return rows, False
        before = page[-1]["seq"]
    return rows[:max_rows], True


def fold(rows: Iterable[Row], since: float, until: float, buckets: int) -> dict[str, Any]:
    width = max((until - since) / buckets, 1e-9)
    total, series = _Fold(), [_Fold() for _ in range(buckets)]
    for row in rows:
        total.add(row)
        series[min(buckets - 1, max(0, int((float(row["ts"]) - since) / width)))].add(row)
    return {
        "since": since,
        "until": until,
        "bucket_seconds": width,
        "totals": total.as_json(),
        "series": [{"t": since + i * width, **bucket.as_json()} for i, bucket in enumerate(series)],
    }


async def overview(
    store: LogStore, *, since: float, until: float, buckets: int = 24, max_rows: int = MAX_ROWS
) -> dict[str, Any]:
    if not until > since:
        raise ValueError("until must be after since")
    buckets = max(1, min(int(buckets), MAX_BUCKETS))
    rows, truncated = await _rows(store, since, until, max_rows)
    return {**fold(rows, since, until, buckets), "rows": len(rows), "truncated": truncated}
