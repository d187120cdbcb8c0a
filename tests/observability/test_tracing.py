from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.tracing import GatewayTracer


def _tracer() -> tuple[GatewayTracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return GatewayTracer(service_name="gw-test", span_processor=SimpleSpanProcessor(exporter)), exporter


def test_a_request_becomes_one_chat_span_with_genai_attributes_and_real_timing():
    tracer, exporter = _tracer()
    tracer.record(
        RequestRecord(
            ts=1_700_000_000.0,
            latency_ms=250.0,
            provider="anthropic",
            requested_model="sonnet",
            upstream_model="claude-sonnet-4-5",
            input_tokens=12,
            output_tokens=34,
            max_tokens=1024,
            temperature=0.3,
            finish_reason="end_turn",
        )
    )
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat sonnet"
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.system"] == attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.model"] == "sonnet"
    assert attrs["gen_ai.response.model"] == "claude-sonnet-4-5"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (12, 34)
    assert (attrs["gen_ai.request.max_tokens"], attrs["gen_ai.request.temperature"]) == (1024, 0.3)
    assert tuple(attrs["gen_ai.response.finish_reasons"]) == ("end_turn",)
    assert span.end_time - span.start_time == 250_000_000
    assert span.resource.attributes["service.name"] == "gw-test"


def test_failed_requests_mark_the_span_as_error_with_its_type():
    tracer, exporter = _tracer()
    tracer.record(RequestRecord(requested_model="opus", status=529, error_type="overloaded_error", error_message="x"))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "overloaded_error"


def test_without_an_endpoint_tracing_is_a_no_op():
    tracer = GatewayTracer.from_endpoint(None)
    assert not tracer.enabled
    tracer.record(RequestRecord())
    tracer.shutdown()


def test_an_otlp_endpoint_turns_tracing_on():
    tracer = GatewayTracer.from_endpoint("http://127.0.0.1:4318")
    assert tracer.enabled
    tracer._provider.shutdown()  # nothing recorded, so nothing is exported
