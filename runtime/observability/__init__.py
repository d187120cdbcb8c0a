"""Request log, Prometheus metrics, OpenTelemetry traces and the admin dashboard.

Modules: ``records`` (RequestRecord, redact), ``store`` (LogStore Protocol, LogFilter) with ``store_sqlite`` and
``store_postgres``, ``sink`` (non-blocking LogSink), ``metrics``, ``tracing``, ``dashboard`` and ``telemetry``
(the wiring object the app uses).

Public names load lazily (module ``__getattr__``): the gateway imports only the submodules its spec uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bifrostc.runtime.lazy import lazy_exports

if TYPE_CHECKING:
    from bifrostc.runtime.observability.dashboard import dashboard_routes
    from bifrostc.runtime.observability.metrics import GatewayMetrics
    from bifrostc.runtime.observability.records import RequestRecord, apply_request, apply_response, redact
    from bifrostc.runtime.observability.sink import LogSink
    from bifrostc.runtime.observability.store import LogFilter, LogStore
    from bifrostc.runtime.observability.store_postgres import PostgresLogStore
    from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
    from bifrostc.runtime.observability.telemetry import Telemetry, build_store
    from bifrostc.runtime.observability.tracing import GatewayTracer, genai_attributes

_EXPORTS: dict[str, str] = {
    "dashboard_routes": "bifrostc.runtime.observability.dashboard",
    "GatewayMetrics": "bifrostc.runtime.observability.metrics",
    "RequestRecord": "bifrostc.runtime.observability.records",
    "apply_request": "bifrostc.runtime.observability.records",
    "apply_response": "bifrostc.runtime.observability.records",
    "redact": "bifrostc.runtime.observability.records",
    "LogSink": "bifrostc.runtime.observability.sink",
    "LogFilter": "bifrostc.runtime.observability.store",
    "LogStore": "bifrostc.runtime.observability.store",
    "PostgresLogStore": "bifrostc.runtime.observability.store_postgres",
    "SqliteLogStore": "bifrostc.runtime.observability.store_sqlite",
    "Telemetry": "bifrostc.runtime.observability.telemetry",
    "build_store": "bifrostc.runtime.observability.telemetry",
    "GatewayTracer": "bifrostc.runtime.observability.tracing",
    "genai_attributes": "bifrostc.runtime.observability.tracing",
}

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


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
