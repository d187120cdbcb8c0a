"""Request log, Prometheus metrics, OpenTelemetry traces and the admin dashboard.

Modules: ``records`` (RequestRecord, redact), ``store`` (LogStore Protocol, LogFilter) with ``store_sqlite`` and
``store_postgres``, ``sink`` (non-blocking LogSink), ``metrics``, ``tracing``, ``dashboard`` and ``telemetry``
(the wiring object the app uses).
"""

from bifrostc.runtime.observability.dashboard import dashboard_routes
from bifrostc.runtime.observability.metrics import GatewayMetrics
from bifrostc.runtime.observability.records import RequestRecord, apply_request, apply_response, redact
from bifrostc.runtime.observability.sink import LogSink
from bifrostc.runtime.observability.store import LogFilter, LogStore
from bifrostc.runtime.observability.store_postgres import PostgresLogStore
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
from bifrostc.runtime.observability.telemetry import Telemetry, build_store
from bifrostc.runtime.observability.tracing import GatewayTracer, genai_attributes

__all__ = [
    "GatewayMetrics",
    "GatewayTracer",
    "LogFilter",
    "LogSink",
    "LogStore",
    "PostgresLogStore",
    "RequestRecord",
    "SqliteLogStore",
    "Telemetry",
    "apply_request",
    "apply_response",
    "build_store",
    "dashboard_routes",
    "genai_attributes",
    "redact",
]
