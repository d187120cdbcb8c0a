import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from bifrostc.runtime.observability.metrics import GatewayMetrics
from bifrostc.runtime.observability.records import RequestRecord


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, frozenset], float]:
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_observe_counts_requests_tokens_cost_cache_fallbacks_and_upstream_errors():
    metrics = GatewayMetrics()
    metrics.observe(
        RequestRecord(
            dialect="anthropic",
            route="sonnet",
            provider="anthropic",
            status=200,
            input_tokens=100,
            output_tokens=20,
            cache_read_tokens=50,
            cost_usd=0.01,
            latency_ms=1500,
            time_to_first_token_ms=300,
            fallback_used=True,
            upstream_errors=2,
        )
    )
    metrics.observe(RequestRecord(dialect="openai", route="gpt", provider="openai", status=429, cache_hit=True))
    s = _samples(metrics)
    labels = frozenset({"dialect": "anthropic", "route": "sonnet", "provider": "anthropic", "status": "200"}.items())
    assert s[("bifrostc_requests_total", labels)] == 1
    assert s[("bifrostc_tokens_total", frozenset({("direction", "input")}))] == 100
    assert s[("bifrostc_tokens_total", frozenset({("direction", "output")}))] == 20
    assert s[("bifrostc_tokens_total", frozenset({("direction", "cache_read")}))] == 50
    assert s[("bifrostc_cost_usd_total", frozenset())] == 0.01
    assert s[("bifrostc_cache_hits_total", frozenset())] == 1
    assert s[("bifrostc_fallbacks_total", frozenset())] == 1
    assert s[("bifrostc_upstream_errors_total", frozenset({("provider", "anthropic")}))] == 2
    duration = frozenset({"dialect": "anthropic", "route": "sonnet", "provider": "anthropic"}.items())
    assert s[("bifrostc_request_duration_seconds_sum", duration)] == 1.5
    ttft = frozenset({"route": "sonnet", "provider": "anthropic"}.items())
    assert s[("bifrostc_time_to_first_token_seconds_count", ttft)] == 1


def test_each_instance_has_its_own_registry_and_never_touches_the_global_one():
    first, second = GatewayMetrics(), GatewayMetrics()
    first.observe(RequestRecord(route="r"))
    assert b"bifrostc_requests_total{" not in second.render()
    assert REGISTRY.get_sample_value("bifrostc_cost_usd_total") is None


async def test_metrics_endpoint_serves_prometheus_text():
    metrics = GatewayMetrics()
    metrics.observe(RequestRecord(route="sonnet", provider="anthropic"))
    app = Starlette(routes=metrics.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'bifrostc_requests_total{dialect="anthropic",provider="anthropic",route="sonnet",status="200"} 1.0' in (
        response.text
    )
