"""Pipeline wiring: turn the app's ``LogRecord`` (``Hooks.on_log``) into a :class:`RequestRecord`.

``TelemetryHooks(inner, telemetry, gateway)`` wraps the other hooks (governance, cache) the same way
``CacheHooks`` does: every hook is delegated, and ``on_log`` also records the request in metrics, traces and
the request log. Cost is priced here from the pricing table (cache hits cost nothing upstream). ``on_log`` runs
before the answer is complete (a non-streamed body is sent after it, a stream's final chunk too) and returns
once the row is written or spooled, so an answer a client received always has its row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bifrostc.runtime import config
from bifrostc.runtime.context import Hooks, LogRecord, WrappedHooks
from bifrostc.runtime.dialects.base import MAX_SESSION_CHARS
from bifrostc.runtime.errors import anthropic_error_type
from bifrostc.runtime.governance.pricing import PriceBook
from bifrostc.runtime.observability.logged_prompts import LoggedPrompts
from bifrostc.runtime.observability.records import RequestRecord, apply_request, apply_response
from bifrostc.runtime.observability.telemetry import Telemetry
from bifrostc.runtime.types import Usage

AGENT_HEADER = "x-claude-code-agent-id"
PARENT_AGENT_HEADER = "x-claude-code-parent-agent-id"
REQUEST_CLASS_HEADER = "x-claude-code-request-class"


def record_from_log(
    log: LogRecord,
    *,
    prices: PriceBook | None = None,
    log_bodies: bool = True,
    full_history: bool = False,
    prompts: LoggedPrompts | None = None,
) -> RequestRecord:
    """The request-log row for one finished request, priced with ``prices`` (the spec's ``pricing:`` overrides,
    then the built-in table; without it, the built-in table alone)."""
    ctx = log.context
    key = ctx.key
    failed = ctx.status >= 400
    record = RequestRecord(
        id=ctx.request_id,
        ts=time.time() - log.duration_s,
        dialect=ctx.dialect,
        endpoint=ctx.endpoint,
        virtual_key=ctx.caller,
        team=getattr(key, "team", None),
        customer=getattr(key, "customer", None),
        session_id=ctx.session,
        agent_id=_header(ctx.headers, AGENT_HEADER),
        parent_agent_id=_header(ctx.headers, PARENT_AGENT_HEADER),
        request_class=_header(ctx.headers, REQUEST_CLASS_HEADER),
        requested_model=ctx.requested_model or None,
        route=ctx.route,
        rule=ctx.rule,
        provider=ctx.provider,
        upstream_model=ctx.upstream_model,
        stream=ctx.stream,
        status=ctx.status,
        error_type=(anthropic_error_type(ctx.status) if failed else None),
        error_message=ctx.error,
        latency_ms=log.duration_s * 1000,
        attempts=ctx.attempts,
        upstream_errors=max(0, ctx.attempts - (0 if failed else 1)),
        fallback_used=ctx.fallback_used,
        cache_hit=ctx.cache_hit,
        usage_estimated=ctx.usage_estimated,
        finish_reason=ctx.finish_reason,
        billed_to=ctx.billed_to,
        time_to_first_token_ms=_ms(ctx.time_to_first_token_s),
        inter_token_latency_ms=_ms(ctx.inter_token_latency_s),
    )
    if log.request is not None:
        apply_request(record, log.request, bodies=log_bodies, full_history=full_history, prompts=prompts)
    if log.response is not None:
        apply_response(record, log.response, bodies=log_bodies)
    if ctx.usage is not None:
        _apply_usage(record, ctx.usage)
        if ctx.provider and ctx.upstream_model and not ctx.cache_hit:
            record.cost_usd = (prices or PriceBook()).cost(ctx.provider, ctx.upstream_model, ctx.usage)
    return record


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value[:MAX_SESSION_CHARS] if value else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _apply_usage(record: RequestRecord, usage: Usage) -> None:
    record.input_tokens = usage.input_tokens
    record.output_tokens = usage.output_tokens
    record.cache_read_tokens = usage.cache_read_tokens
    record.cache_write_tokens = usage.cache_write_tokens


class TelemetryHooks(WrappedHooks):
    def __init__(self, inner: Hooks, telemetry: Telemetry, gateway: config.Gateway) -> None:
        super().__init__(inner)
        self.telemetry = telemetry
        self._prices = PriceBook(gateway.pricing)  # hooks are rebuilt on hot reload: it follows the spec
        self._log_bodies = gateway.observability.log_bodies
        self._full_history = gateway.observability.log_full_history
        self._prompts = None if self._full_history else LoggedPrompts()  # log_full_history: every row whole

    async def on_log(self, record: LogRecord) -> None:
        await self.inner.on_log(record)
        self.telemetry.record(
            record_from_log(
                record,
                prices=self._prices,
                log_bodies=self._log_bodies,
                full_history=self._full_history,
                prompts=self._prompts,
            )
        )
        await self.telemetry.committed()  # before the answer's last byte (streams: before the final chunk)
