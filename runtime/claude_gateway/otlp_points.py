"""Claude Code's OTLP metrics and log events as countable points, per session (what the session view sums).

A protobuf payload is decoded with ``opentelemetry-proto`` (the ``otel`` extra) into the same dict shape OTLP/JSON
has, so one walker reads both; without the package a protobuf payload is kept raw only. Every point is keyed by
its *series* (metric, attributes, start time): a cumulative series' next export replaces its value, each delta
window is a series of its own, and an export retried verbatim is not counted twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from bifrostc.runtime.claude_gateway.otlp import SESSION_KEY

# The metrics and events the session view reads (https://code.claude.com/docs/en/monitoring-usage); the rest of
# a payload is kept raw but not counted. The label is the attribute that splits a metric (decision, type).
COUNTED_METRICS: Mapping[str, str | None] = {
    "claude_code.lines_of_code.count": "type",
    "claude_code.commit.count": None,
    "claude_code.pull_request.count": None,
    "claude_code.cost.usage": None,
    "claude_code.active_time.total": None,
    "claude_code.code_edit_tool.decision": "decision",
}
TOOL_DECISION_EVENT = "tool_decision"
_CUMULATIVE = (2, "AGGREGATION_TEMPORALITY_CUMULATIVE")


@dataclass(frozen=True, slots=True)
class Point:
    session_id: str
    metric: str  # a metric name, or "event:<name>" for a log event
    label: str  # the splitting attribute's value ("" when none)
    series: str  # what makes this point replace an earlier one
    value: float


def decode(signal: str, payload: bytes, content_type: str | None) -> dict[str, Any] | None:
    """The export request as OTLP/JSON-shaped dicts, or None when it cannot be read."""
    if content_type and "json" in content_type:
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        return document if isinstance(document, dict) else None
    return _decode_protobuf(signal, payload)


def _decode_protobuf(signal: str, payload: bytes) -> dict[str, Any] | None:
    try:
        from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped, unused-ignore]
        from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    except ImportError:
        return None
    messages: dict[str, Any] = {"metrics": ExportMetricsServiceRequest, "logs": ExportLogsServiceRequest}
    message = messages.get(signal)
    if message is None:
        return None
    request = message()
    try:
        request.ParseFromString(payload)
    except DecodeError:
        return None
    decoded: dict[str, Any] = MessageToDict(request)
    return decoded


def points(signal: str, document: Mapping[str, Any]) -> Iterator[Point]:
    if signal == "metrics":
        yield from _metric_points(document)
    elif signal == "logs":
        yield from _event_points(document)


def _attributes(items: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("key"), str) and isinstance(item.get("value"), dict):
            value = item["value"]
            scalar = next((value[k] for k in ("stringValue", "intValue", "doubleValue", "boolValue") if k in value), "")
            found[item["key"]] = str(scalar)
    return found


def _series(*parts: object) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _number(point: Mapping[str, Any]) -> float | None:
    for key in ("asDouble", "asInt"):
        if key in point:
            try:
                return float(point[key])
            except (TypeError, ValueError):
                return None
    return None


def _metric_points(document: Mapping[str, Any]) -> Iterator[Point]:
    for resource in document.get("resourceMetrics") or ():
        resource_attrs = _attributes((resource.get("resource") or {}).get("attributes"))
        for scope in resource.get("scopeMetrics") or ():
            for metric in scope.get("metrics") or ():
                name = metric.get("name")
                if name not in COUNTED_METRICS:
                    continue
                data = metric.get("sum") or metric.get("gauge") or {}
                cumulative = "gauge" in metric or data.get("aggregationTemporality") in _CUMULATIVE
                for point in data.get("dataPoints") or ():
                    attrs = {**resource_attrs, **_attributes(point.get("attributes"))}
                    session, value = attrs.get(SESSION_KEY), _number(point)
                    if not session or value is None:
                        continue
                    label_key = COUNTED_METRICS[name]
                    label = attrs.get(label_key, "") if label_key else ""
                    start = point.get("startTimeUnixNano", "")
                    window = start if cumulative else (start, point.get("timeUnixNano", ""))
                    yield Point(session, name, label, _series(name, attrs, window), value)


def _event_points(document: Mapping[str, Any]) -> Iterator[Point]:
    for resource in document.get("resourceLogs") or ():
        resource_attrs = _attributes((resource.get("resource") or {}).get("attributes"))
        for scope in resource.get("scopeLogs") or ():
            for record in scope.get("logRecords") or ():
                attrs = {**resource_attrs, **_attributes(record.get("attributes"))}
                body = (record.get("body") or {}).get("stringValue", "")
                name = attrs.get("event.name") or str(body).removeprefix("claude_code.")
                session = attrs.get(SESSION_KEY)
                if name != TOOL_DECISION_EVENT or not session:
                    continue
                when = record.get("timeUnixNano") or record.get("observedTimeUnixNano", "")
                yield Point(session, f"event:{name}", attrs.get("decision", ""), _series(name, attrs, when), 1.0)


def summary(totals: Mapping[tuple[str, str], float]) -> dict[str, Any] | None:
    """The session view's ``telemetry`` from summed (metric, label) values; None when nothing was counted.

    Tool decisions come from the ``tool_decision`` events (every tool); a session whose logs were not exported
    falls back to the edit tools' decision metric."""
    if not totals:
        return None

    def total(metric: str, label: str | None = None) -> float:
        return sum(v for (m, lab), v in totals.items() if m == metric and (label is None or lab == label))

    events = any(metric == f"event:{TOOL_DECISION_EVENT}" for metric, _ in totals)
    decisions = f"event:{TOOL_DECISION_EVENT}" if events else "claude_code.code_edit_tool.decision"
    return {
        "tool_decisions": {"accept": int(total(decisions, "accept")), "reject": int(total(decisions, "reject"))},
        "lines_of_code": {
            "added": int(total("claude_code.lines_of_code.count", "added")),
            "removed": int(total("claude_code.lines_of_code.count", "removed")),
        },
        "commits": int(total("claude_code.commit.count")),
        "pull_requests": int(total("claude_code.pull_request.count")),
        "active_time_seconds": float(total("claude_code.active_time.total")),
        "cost_usd": float(total("claude_code.cost.usage")),
    }
