"""OpenTelemetry traces with the GenAI semantic conventions; a no-op unless an OTLP endpoint is set.

The SDK and the OTLP/HTTP exporter are optional (``bifrostc[otel]``) and imported only when tracing is on,
so a gateway without tracing pays nothing. One span per gateway request, named ``chat {model}``, is
emitted from the finished :class:`RequestRecord` with its real start and end times.
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.redaction import redact_text

_TRACES_PATH = "/v1/traces"


def genai_attributes(record: RequestRecord) -> dict[str, Any]:
    """The span attributes for one request (GenAI semconv names; None values left out)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": record.provider,
        "gen_ai.provider.name": record.provider,
        "gen_ai.request.model": record.requested_model,
        "gen_ai.response.model": record.upstream_model,
        "gen_ai.response.id": record.id,
        "gen_ai.usage.input_tokens": record.input_tokens,
        "gen_ai.usage.output_tokens": record.output_tokens,
        "gen_ai.request.max_tokens": record.max_tokens,
        "gen_ai.request.temperature": record.temperature,
        "gen_ai.response.finish_reasons": [record.finish_reason] if record.finish_reason else None,
        "http.response.status_code": record.status,
        "bifrostc.route": record.route,
        "bifrostc.dialect": record.dialect,
        "bifrostc.virtual_key": record.virtual_key,
        "bifrostc.attempts": record.attempts,
        "bifrostc.fallback_used": record.fallback_used,
        "bifrostc.cache_hit": record.cache_hit,
        "bifrostc.cost_usd": record.cost_usd,
        "error.type": record.error_type if record.status >= 400 else None,
    }
    # Every string is client- or upstream-chosen text (a model name, an error): through the one redactor.
    return {k: (redact_text(v) if type(v) is str else v) for k, v in attributes.items() if v is not None}


def _traces_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(_TRACES_PATH) else endpoint + _TRACES_PATH


class GatewayTracer:
    """Emits request spans. ``enabled`` is False (and ``record`` does nothing) without a processor."""

    def __init__(self, *, service_name: str = "bifrostc", span_processor: Any = None) -> None:
        self._provider: Any = None
        self._tracer: Any = None
        if span_processor is not None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider

            self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
            self._provider.add_span_processor(span_processor)
            self._tracer = self._provider.get_tracer("bifrostc")

    @classmethod
    def from_endpoint(cls, otlp_endpoint: str | None, *, service_name: str = "bifrostc") -> GatewayTracer:
        if not otlp_endpoint:
            return cls(service_name=service_name)
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("tracing needs OpenTelemetry: pip install 'bifrostc[otel]'") from exc
        exporter = OTLPSpanExporter(endpoint=_traces_url(otlp_endpoint))
        return cls(service_name=service_name, span_processor=BatchSpanProcessor(exporter))

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def record(self, record: RequestRecord) -> None:
        if self._tracer is None:
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        start_ns = int(record.ts * 1e9)
        end_ns = start_ns + int((record.latency_ms or 0.0) * 1e6)
        name = redact_text(f"chat {record.requested_model or record.route or 'unknown'}")  # client-chosen text
        span = self._tracer.start_span(
            name, kind=SpanKind.CLIENT, attributes=genai_attributes(record), start_time=start_ns
        )
        if record.status >= 400:
            span.set_status(Status(StatusCode.ERROR, redact_text(record.error_message or record.error_type or "")))
        span.end(end_time=end_ns)

    def shutdown(self) -> None:
        """Flush pending spans (the batch processor exports from its own thread)."""
        if self._provider is not None:
            self._provider.shutdown()
