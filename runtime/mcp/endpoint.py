"""The downstream HTTP side: caller identification and the ASGI app mounted at ``/mcp``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bifrostc.runtime.errors import GatewayError

KEY_CONTEXT_STATE = "bifrostc_mcp_key_context"  # request.state slot holding the caller's key context
Authenticate = Callable[[Mapping[str, str]], object]


def caller_key(headers: Mapping[str, str]) -> str | None:
    """The virtual key the caller presented: ``Authorization: Bearer <key>`` or ``x-api-key: <key>``."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key") or None


def key_context(headers: Mapping[str, str], authenticate: Authenticate | None) -> object:
    """What ``authorize_tool`` receives: ``authenticate(headers)`` when given, else the raw key (or None).

    Raises:
        GatewayError: from ``authenticate`` (typically AuthenticationFailed), rendered as an HTTP error.
    """
    if authenticate is None:
        return caller_key(headers)
    return authenticate(headers)


def key_context_of(request: object, authenticate: Authenticate | None) -> object:
    """The key context of the HTTP request behind an MCP message (set by :class:`McpEndpoint`)."""
    if not isinstance(request, Request):
        return key_context({}, authenticate)
    state: dict[str, Any] = request.scope.get("state") or {}
    if KEY_CONTEXT_STATE in state:
        return state[KEY_CONTEXT_STATE]
    return key_context(request.headers, authenticate)


def _error_response(exc: GatewayError) -> Response:
    # JSON-RPC error shape, as the SDK's own transport errors use; the HTTP status carries the class.
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": exc.message}}
    headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
    return Response(orjson.dumps(body), status_code=exc.status, media_type="application/json", headers=headers)


class McpEndpoint:
    """ASGI app: authenticates each HTTP request, then hands it to the SDK's streamable-HTTP handler.

    A class rather than a function so Starlette's ``Route``/``Mount`` treat it as a raw ASGI app. It is
    path-agnostic: mount it with ``Mount("/mcp", app=...)`` (the SDK client follows the same-origin
    redirect from ``/mcp`` to ``/mcp/``) or ``Route("/mcp", endpoint=..., methods=["GET", "POST", "DELETE"])``.
    """

    def __init__(
        self,
        handler: Callable[[Scope, Receive, Send], Any],
        authenticate: Authenticate | None,
    ) -> None:
        self._handler = handler
        self._authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            context = key_context(Headers(scope=scope), self._authenticate)
        except GatewayError as exc:
            await _error_response(exc)(scope, receive, send)
            return
        # A fresh state dict: never write into one shared with the parent app.
        scope = {**scope, "state": {**(scope.get("state") or {}), KEY_CONTEXT_STATE: context}}
        await self._handler(scope, receive, send)
