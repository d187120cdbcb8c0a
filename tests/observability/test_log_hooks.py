from __future__ import annotations

import pytest

from bifrostc.runtime import config
from bifrostc.runtime.context import Hooks, LogRecord, RequestContext
from bifrostc.runtime.governance.keys import KeyContext
from bifrostc.runtime.governance.pricing import PriceBook
from bifrostc.runtime.observability.log_hooks import TelemetryHooks, record_from_log
from bifrostc.runtime.observability.metrics import GatewayMetrics
from bifrostc.runtime.observability.telemetry import Telemetry
from bifrostc.runtime.types import ChatRequest, ChatResponse, Message, TextPart, Usage


def _log(**ctx_fields) -> LogRecord:
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    ctx = RequestContext(
        dialect="anthropic",
        endpoint="messages",
        requested_model="sonnet",
        key=KeyContext(key_name="alice", team="core", customer="acme"),
        route="sonnet",
        provider="anthropic",
        upstream_model="claude-sonnet-4-5",
        usage=usage,
        **{"attempts": 1, **ctx_fields},
    )
    request = ChatRequest(model="sonnet", messages=[Message(role="user", content=[TextPart(text="sk-abcdefgh1234")])])
    response = ChatResponse(id="m", model="claude-sonnet-4-5", content=[TextPart(text="hi")], usage=usage)
    return LogRecord(ctx, 0.5, request, response)


def test_record_from_log_carries_key_team_customer_route_usage_latency_and_priced_cost():
    prices = PriceBook({"anthropic/claude-sonnet-4-5": config.Price(input=2.0, output=10.0)})
    record = record_from_log(_log(), prices=prices)
    assert (record.virtual_key, record.team, record.customer) == ("alice", "core", "acme")
    assert (record.route, record.provider, record.upstream_model) == ("sonnet", "anthropic", "claude-sonnet-4-5")
    assert record.input_tokens == 1_000_000
    assert record.cost_usd == pytest.approx(2.0)
    assert record.latency_ms == pytest.approx(500.0)
    assert (record.attempts, record.upstream_errors, record.error_type) == (1, 0, None)
    assert record.request_messages is not None


def test_failures_cache_hits_and_log_bodies_off_are_reflected():
    failed = record_from_log(_log(status=529, error="overloaded", attempts=3))
    assert (failed.error_type, failed.error_message, failed.upstream_errors) == ("overloaded_error", "overloaded", 3)
    cached = record_from_log(_log(cache_hit=True), log_bodies=False)
    assert cached.cost_usd == 0.0
    assert (cached.request_messages, cached.response_content) == (None, None)


async def test_telemetry_hooks_delegate_and_record_on_log():
    seen: list[LogRecord] = []

    class Inner(Hooks):
        async def on_log(self, record: LogRecord) -> None:
            seen.append(record)

    metrics = GatewayMetrics()
    hooks = TelemetryHooks(Inner(), Telemetry(metrics=metrics), config.Gateway(providers={}, routes={}))
    log = _log()
    await hooks.on_log(log)
    assert seen == [log]
    assert b'route="sonnet"' in metrics.render()
