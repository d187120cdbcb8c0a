"""The Gemini API's other endpoints: ``models/{model}:countTokens``, ``GET models`` and ``GET models/{model}``;
and ``?key=`` (the Gemini API's query-string key) moved into the ``x-goog-api-key`` header before anything reads
the request, so the key is checked like any other and never reaches a log line with the URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.dialects import tokenizer
from bifrostc.runtime.dialects.gemini import CALL_PREFIXES, PREFIXES
from bifrostc.runtime.dialects.relay import request_estimate
from bifrostc.runtime.errors import GatewayError, UpstreamError
from bifrostc.runtime.handlers.chat import read_json
from bifrostc.runtime.handlers.errors import error_response
from bifrostc.runtime.handlers.extras import COUNT_SOURCE
from bifrostc.runtime.handlers.models import usable
from bifrostc.runtime.translate import gemini_inbound, gemini_reply

if TYPE_CHECKING:
    from bifrostc.runtime.app import GatewayRuntime

GOOGLE_KEY_PATHS = ("/genai/", "/v1beta/", "/v1/models/")
_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


class GoogleKeyParam:
    """ASGI middleware: ``?key=K`` on a Gemini path becomes ``x-goog-api-key: K`` (unless one is sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and b"key=" in scope.get("query_string", b""):
            path: str = scope["path"]
            if path.startswith(GOOGLE_KEY_PATHS):
                move_key_param(scope)
        await self.app(scope, receive, send)


def move_key_param(scope: Scope) -> None:
    """In place, so the server's own access log (which holds this scope) never sees the key either."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    keys = [value for name, value in pairs if name == "key"]
    scope["query_string"] = urlencode([(n, v) for n, v in pairs if n != "key"]).encode("latin-1")
    if keys and not any(name == b"x-goog-api-key" for name, _ in scope["headers"]):
        scope["headers"] = [*scope["headers"], (b"x-goog-api-key", keys[0].encode("latin-1"))]


def _model(name: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "baseModelId": name,
        "version": "bifrostc",
        "displayName": name,
        "supportedGenerationMethods": _METHODS,
    }


async def list_models(request: Request) -> Response:
    try:
        listed = await usable(request, "gemini")  # the same names and grants as every model list
    except GatewayError as exc:
        return error_response("gemini", exc)
    body = {"models": [_model(name) for name, _ in listed]}
    return Response(orjson.dumps(body), media_type="application/json")


async def get_model(request: Request) -> Response:
    name = request.path_params["model"].removeprefix("models/")
    rt: GatewayRuntime = request.app.state.runtime
    try:
        rt.router.resolve(name)
    except GatewayError as exc:
        return error_response("gemini", exc)
    return Response(orjson.dumps(_model(name)), media_type="application/json")


def _generate_request(body: dict[str, Any]) -> dict[str, Any]:
    """countTokens takes ``contents`` alone or a whole ``generateContentRequest``."""
    inner = body.get("generateContentRequest")
    return inner if isinstance(inner, dict) else {"contents": body.get("contents", [])}


async def count_tokens(request: Request) -> Response:
    """A Gemini upstream counts when the route's first allowed target is one; otherwise an estimate."""
    rt: GatewayRuntime = request.app.state.runtime
    ctx = RequestContext(dialect="gemini", endpoint="count_tokens", headers=request.headers)
    try:
        ctx.key = await rt.hooks.authenticate(request.headers, ctx)  # before the body is read (see handle_chat)
        body = await read_json(request)
        ctx.requested_model = request.path_params["model"].removeprefix("models/")
        inner = _generate_request(body)
        chat = gemini_inbound.parse_request(inner, model=ctx.requested_model, stream=False)  # checks the body
        route = rt.router.resolve(ctx.requested_model)
        await rt.hooks.authorize(ctx, route)  # grants apply; counting admits nothing and costs nothing
        allowed = ctx.provider_filter or (lambda _provider: True)
        target = next((t for t in route.targets if allowed(t.provider)), None)
        adapter: Any = rt.dispatcher.adapters.get(target.provider) if target else None
        if target is not None and hasattr(adapter, "count_tokens_native"):
            provider = rt.router.gateway.providers[target.provider]
            key = rt.router.choose_key(provider, target.model, lambda k: k.env in rt.dispatcher.secrets)
            forwarded = {**body, "generateContentRequest": {**inner, "model": f"models/{target.model}"}}
            forwarded.pop("contents", None)
            try:
                result = await adapter.count_tokens_native(
                    forwarded, model=target.model, api_key=rt.dispatcher.secrets.get(key.env) if key else None
                )
                headers = {COUNT_SOURCE: provider.type}
                return Response(orjson.dumps(result), media_type="application/json", headers=headers)
            except UpstreamError:
                pass  # an estimate beats an error for a token count
        await tokenizer.ready()
        estimate = request_estimate(chat)  # the one prompt estimate (dialects/relay), as count_tokens answers
        content = orjson.dumps(gemini_reply.count_tokens_body(estimate))
        return Response(content, media_type="application/json", headers={COUNT_SOURCE: tokenizer.source()})
    except GatewayError as exc:
        return error_response("gemini", exc)


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = [
        Route(f"{prefix}/models/{{model:path}}:countTokens", count_tokens, methods=["POST"]) for prefix in CALL_PREFIXES
    ]
    for prefix in PREFIXES:
        out += [
            Route(f"{prefix}/models", list_models, methods=["GET"]),
            Route(f"{prefix}/models/{{model:path}}", get_model, methods=["GET"]),
        ]
    return out
