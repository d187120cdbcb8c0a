"""GET /anthropic/v1/models, /v1/models and /openai/v1/models (+ ``/{model_id}``): the public names this gateway
serves, cut to what the caller's key may use (``governance.keys.authorize``, the one grant rule).

The Anthropic list also offers, for every route Claude Code's model discovery would hide (it keeps ids holding
"claude" or "anthropic"), the generated ``claude-<route>`` id the router resolves (``router.discovery_aliases``),
its ``display_name`` and ``description`` naming the route and where it goes. ``/v1/models`` answers in the
Anthropic shape when the request carries ``anthropic-version`` (what Anthropic SDKs and Claude Code send).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime import config
from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.errors import GatewayError, NotFound, PermissionDenied
from bifrostc.runtime.governance.keys import KeyContext, authorize
from bifrostc.runtime.handlers.errors import error_response

if TYPE_CHECKING:
    from bifrostc.runtime.app import GatewayRuntime

CREATED_AT = "2025-01-01T00:00:00Z"  # public names have no real creation date; keep it stable
JsonObject = dict[str, object]


def _targets(route: config.Route) -> str:
    return ", ".join(f"{t.provider}/{t.model}" for t in route.targets)


def display_name(name: str, route: config.Route) -> str:
    """``claude-smart`` -> ``smart → anthropic/claude-sonnet-4-5`` (the route, then where it goes)."""
    shown = route.name if name != route.name else name
    return f"{shown} → {_targets(route)}"


def description(route: config.Route) -> str:
    fallbacks = f"; fallbacks: {', '.join(route.fallbacks)}" if route.fallbacks else ""
    return f"bifrostc route {route.name}: {_targets(route)}{fallbacks}"


def _listed(rt: GatewayRuntime, *, discovery: bool) -> list[tuple[str, config.Route]]:
    """Public names and tiers (and, for Claude Code, the discovery ids), sorted by id."""
    gateway = rt.router.gateway
    listed = dict(gateway.routes)
    listed.update({t: gateway.routes[r] for t, r in gateway.tiers.items() if r in gateway.routes and t not in listed})
    if discovery:
        listed.update({alias: gateway.routes[r] for alias, r in rt.router.discovery.items()})
    return sorted(listed.items())


def _may_use(rt: GatewayRuntime, key: KeyContext | None, name: str, route: config.Route) -> bool:
    try:
        authorize(key, rt.router, name, route)
    except PermissionDenied:
        return False
    return True


def anthropic_model(name: str, route: config.Route) -> JsonObject:
    return {
        "type": "model",
        "id": name,
        "display_name": display_name(name, route),
        "description": description(route),
        "created_at": CREATED_AT,
    }


def openai_model(name: str, route: config.Route) -> JsonObject:
    return {"id": name, "object": "model", "created": 0, "owned_by": "bifrostc"}


def _dialect(request: Request) -> str:
    path = request.url.path
    if path.startswith("/openai/") or (path.startswith("/v1/") and "anthropic-version" not in request.headers):
        return "openai"
    return "anthropic"  # /anthropic/v1, /claude-code/v1, or an Anthropic client on /v1


async def _caller(request: Request, dialect: str) -> tuple[GatewayRuntime, KeyContext | None]:
    rt: GatewayRuntime = request.app.state.runtime
    ctx = RequestContext(dialect=dialect, endpoint="models", headers=request.headers)
    key: KeyContext | None = await rt.hooks.authenticate(request.headers, ctx)
    return rt, key


async def usable(request: Request, dialect: str) -> list[tuple[str, config.Route]]:
    """The public names (and tiers) the caller's key may use, sorted: every dialect's model list."""
    rt, key = await _caller(request, dialect)
    return [(n, r) for n, r in _listed(rt, discovery=False) if _may_use(rt, key, n, r)]


def _json(body: JsonObject) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def list_models(request: Request) -> Response:
    dialect = _dialect(request)
    try:
        rt, key = await _caller(request, dialect)
    except GatewayError as exc:
        return error_response(dialect, exc)
    listed = [(n, r) for n, r in _listed(rt, discovery=dialect == "anthropic") if _may_use(rt, key, n, r)]
    if dialect == "openai":
        return _json({"object": "list", "data": [openai_model(n, r) for n, r in listed]})
    data = [anthropic_model(n, r) for n, r in listed]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return _json({"data": data, "has_more": False, "first_id": first, "last_id": last})


async def get_model(request: Request) -> Response:
    """One model by any string the router resolves (public name, alias, tier, Claude model id, discovery id):
    404 in the caller's dialect when it resolves to nothing or to a route the key may not use."""
    dialect = _dialect(request)
    name: str = request.path_params["model_id"]
    try:
        rt, key = await _caller(request, dialect)
        route = rt.router.resolve(name)
        if not _may_use(rt, key, name, route):
            raise NotFound(f"model '{name}' is not served by this gateway")
    except GatewayError as exc:
        return error_response(dialect, exc)
    return _json(anthropic_model(name, route) if dialect == "anthropic" else openai_model(name, route))
