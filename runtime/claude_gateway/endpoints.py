"""The bearer-authenticated endpoints under /claude-code: inference, models, managed settings, usage, telemetry.

Inference is served by the gateway's own /anthropic/v1/... handlers, looked up by path: the bearer is turned into
its virtual key here and handed to the pipeline's authenticate hook (``SIGNED_IN`` / ``SignedInHooks``), so the
key's grants, budgets, rate limits and team apply exactly as for a request carrying the key itself.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bifrostc.runtime.claude_gateway import managed, otlp_points
from bifrostc.runtime.claude_gateway.otlp import session_id
from bifrostc.runtime.claude_gateway.service import SIGNED_IN, Endpoint, SignInService
from bifrostc.runtime.claude_gateway.store import TelemetryRow
from bifrostc.runtime.governance.keys import KeyContext
from bifrostc.runtime.governance.periods import budget_window
from bifrostc.runtime.governance.usage import usage_report

if TYPE_CHECKING:
    from bifrostc.runtime.assembly import Parts

TELEMETRY_CAP = 1 << 20  # bytes of one OTLP payload kept; the size received is recorded whatever it is
TELEMETRY_MAX = 16 << 20  # larger payloads (or ones without Content-Length) are answered and dropped unread


def signed_in(service: SignInService, handler: Endpoint) -> Endpoint:
    """``handler`` run as the bearer's virtual key, or the 401 the bearer earns."""

    async def endpoint(request: Request) -> Response:
        key = await service.bearer(request.headers)
        if isinstance(key, Response):
            return key
        reset = SIGNED_IN.set(key)
        try:
            return await handler(request)
        finally:
            SIGNED_IN.reset(reset)

    return endpoint


def anthropic_endpoint(path: str) -> Endpoint:
    """The handler the gateway serves ``path`` (an /anthropic/v1/... path) with."""
    from bifrostc.runtime.app import ChatEndpoint, gateway_routes  # the app builds on the handlers: import late

    for route in gateway_routes():
        if isinstance(route, Route) and route.path == path:
            found = route.endpoint
            endpoint: Endpoint = found.respond if isinstance(found, ChatEndpoint) else found
            return endpoint
    raise LookupError(f"the gateway serves no {path}")


async def managed_settings(request: Request) -> Response:
    policy = request.app.state.runtime.gateway.claude_code.managed_settings
    if policy is None:
        return Response(status_code=404)
    key: KeyContext | None = SIGNED_IN.get()
    team = key.team if key else None
    document = managed.served(policy, team)
    headers = {"etag": f'"{document["checksum"]}"', "cache-control": "private, no-cache"}
    if managed.matches(request.headers.get("if-none-match"), headers["etag"]):
        return Response(status_code=304, headers=headers)
    return Response(orjson.dumps(document), media_type="application/json", headers=headers)


async def usage(request: Request) -> Response:
    """``GET /api/oauth/usage``: the signed-in key's budgets (what its answers' usage headers describe) with
    spend and limits, or, for a key without a budget, what it spent this UTC month, day and week."""
    parts: Parts | None = getattr(request.app.state, "parts", None)
    key: KeyContext | None = SIGNED_IN.get()
    if parts is None or key is None:
        return Response(status_code=404)
    standings = await parts.governor.standings(key)
    uncapped = None if standings else await _calendar_spend(parts, key.key_name)
    body = orjson.dumps(usage_report(standings, uncapped))
    return Response(body, media_type="application/json", headers={"cache-control": "no-store"})


async def _calendar_spend(parts: Parts, key_name: str) -> dict[str, float] | None:
    """The key's spend since the start of the UTC month, day and week (Monday), from the request log."""
    sink = parts.telemetry.sink
    if sink is None:
        return None
    now = time.time()
    spent: dict[str, float] = {}
    for name, period in (("monthly", "1M"), ("daily", "1d"), ("weekly", "1w")):
        rows = await sink.store.spend_by_key(budget_window(period, now).start)
        spent[name] = sum(row["cost_usd"] for row in rows if row["key"] == key_name)
    return spent


def telemetry(service: SignInService, signal: str) -> Endpoint:
    """Store the OTLP payload with who sent it; always 200 (a 4xx makes the exporter log on every flush)."""

    async def endpoint(request: Request) -> Response:
        content_type = request.headers.get("content-type")
        key = await service.bearer(request.headers)
        declared = request.headers.get("content-length", "")
        if isinstance(key, KeyContext) and declared.isdigit() and int(declared) <= TELEMETRY_MAX:
            payload = await request.body()
            document = otlp_points.decode(signal, payload, content_type)
            counted = list(otlp_points.points(signal, document)) if document is not None else []
            found = counted[0].session_id if counted else session_id(payload, content_type)
            row = TelemetryRow(signal, content_type, key.key_name, found, len(payload), payload[:TELEMETRY_CAP])
            await service.telemetry_store.add_telemetry(row, service.clock(), service.telemetry_keep_seconds, counted)
            service.relay.send(signal, payload, content_type)
        if content_type and "json" in content_type:
            return Response(b"{}", media_type="application/json")
        return Response(b"", media_type="application/x-protobuf")  # an empty Export*ServiceResponse

    return endpoint
