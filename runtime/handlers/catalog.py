"""GET /anthropic/v1/models and GET /v1/models: the public route names (and tier names) this gateway serves;
GET /health, /health/live and /health/ready (the checks are runtime/health.py HealthSources)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime.config import Gateway
from bifrostc.runtime.health import HealthSource, run_checks
from bifrostc.runtime.loadout import LoadedRouting

CREATED_AT = "2025-01-01T00:00:00Z"  # public names have no real creation date; keep it stable


def public_names(gateway: Gateway) -> list[str]:
    """Every route name and tier name served, sorted (what each dialect's model list shows)."""
    return sorted(set(gateway.routes) | {t for t, r in gateway.tiers.items() if r in gateway.routes})


def _names(request: Request) -> list[str]:
    return public_names(request.app.state.runtime.router.gateway)


async def anthropic_models(request: Request) -> Response:
    data = [{"type": "model", "id": n, "display_name": n, "created_at": CREATED_AT} for n in _names(request)]
    body = {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None}
    body["last_id"] = data[-1]["id"] if data else None
    return Response(orjson.dumps(body), media_type="application/json")


async def openai_models(request: Request) -> Response:
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "bifrostc"} for n in _names(request)]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


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
    }
    if routing_error is not None:
        body["routing_error"] = routing_error
    parts = getattr(request.app.state, "parts", None)
    if parts is not None and parts.mcp is not None:
        body["mcp"] = parts.mcp.health()  # per-server detail; the "mcp" check above says whether all are up
    return _json(body, ok)
