"""GET /anthropic/v1/models and GET /v1/models: the public route names (and tier names) this gateway serves."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

CREATED_AT = "2025-01-01T00:00:00Z"  # public names have no real creation date; keep it stable


def _names(request: Request) -> list[str]:
    gateway = request.app.state.runtime.router.gateway
    return sorted(set(gateway.routes) | {t for t, r in gateway.tiers.items() if r in gateway.routes})


async def anthropic_models(request: Request) -> Response:
    data = [{"type": "model", "id": n, "display_name": n, "created_at": CREATED_AT} for n in _names(request)]
    body = {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None}
    body["last_id"] = data[-1]["id"] if data else None
    return Response(orjson.dumps(body), media_type="application/json")


async def openai_models(request: Request) -> Response:
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "bifrostc"} for n in _names(request)]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


async def health(request: Request) -> Response:
    gateway = request.app.state.runtime.router.gateway
    body: dict[str, object] = {"status": "ok", "routes": len(gateway.routes), "providers": len(gateway.providers)}
    parts = getattr(request.app.state, "parts", None)
    if parts is not None and parts.mcp is not None:
        mcp = parts.mcp.health()
        body["mcp"] = mcp
        if not all(server["connected"] for server in mcp.values()):
            body["status"] = "degraded"  # still 200: the model routes are up; MCP servers reconnect on their own
    return Response(orjson.dumps(body), media_type="application/json")
