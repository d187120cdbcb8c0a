"""GET /health, /health/live and /health/ready (the checks are runtime/health.py HealthSources)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime.health import HealthSource, run_checks
from bifrostc.runtime.loadout import LoadedRouting
from bifrostc.runtime.workers import status as workers_status


def _health_sources(request: Request) -> list[HealthSource]:
    parts = getattr(request.app.state, "parts", None)
    return list(parts.health_sources) if parts is not None else []


def _json(body: dict[str, object], ok: bool) -> Response:
    return Response(orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json")


async def health_live(request: Request) -> Response:
    """Liveness: the process answers. Never checks a dependency (an orchestrator would restart us for it)."""
    return _json({"status": "live"}, True)


async def health_ready(request: Request) -> Response:
    """Readiness: 503 while a required store is down or the last routing.py could not be loaded."""
    checks = await run_checks(_health_sources(request), required_only=True)
    routing_error: str | None = getattr(request.app.state, "routing_error", None)
    ok = routing_error is None and all(checks.values())
    body: dict[str, object] = {"status": "ready" if ok else "not_ready", "checks": checks}
    if routing_error is not None:
        body["routing_error"] = routing_error
    return _json(body, ok)


async def health(request: Request) -> Response:
    """Everything at once, optional parts (MCP servers) included: 503 when anything is degraded."""
    gateway = request.app.state.runtime.router.gateway
    checks = await run_checks(_health_sources(request), required_only=False)
    routing_error: str | None = getattr(request.app.state, "routing_error", None)
    # What build_server_app loaded (and hot reloads keep current); apps built without a routing.py have none.
    loaded: LoadedRouting | None = getattr(request.app.state, "loaded_routing", None)
    ok = routing_error is None and all(checks.values())
    body: dict[str, object] = {
        "status": "ok" if ok else "degraded",
        "routes": len(gateway.routes),
        "providers": len(gateway.providers),
        "spec": {
            "sha256": loaded.source_sha256 if loaded else None,
            "format_version": loaded.format_version if loaded else None,
        },
        "checks": checks,
        "workers": workers_status().as_dict(),  # alive/expected of `serve --workers`, and which one answered
    }
    if routing_error is not None:
        body["routing_error"] = routing_error
    parts = getattr(request.app.state, "parts", None)
    if parts is not None and parts.mcp is not None:
        body["mcp"] = parts.mcp.health()  # per-server detail; the "mcp" check above says whether all are up
    return _json(body, ok)
