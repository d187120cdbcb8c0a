"""The Starlette application: routes for the client dialects, state on app.state, hot-swappable runtime snapshot.

Every request reads `app.state.runtime` once; `swap_gateway` replaces it atomically, so new requests see the
new routes while in-flight streams finish on the snapshot they started with.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from bifrostc.runtime import config, rules
from bifrostc.runtime.context import Hooks
from bifrostc.runtime.dialects import DIALECTS, ClientDialect, Endpoint, tokenizer
from bifrostc.runtime.dispatch import BreakerBoard, Dispatcher
from bifrostc.runtime.exact_routes import serve_exact_paths
from bifrostc.runtime.handlers import catalog, extras, gemini, models, stored
from bifrostc.runtime.handlers.chat import handle_chat
from bifrostc.runtime.handlers.errors import http_exception_handler
from bifrostc.runtime.handlers.request import GatewayRequest
from bifrostc.runtime.http import build_client
from bifrostc.runtime.loadout import resolve_keys
from bifrostc.runtime.providers import adapter_class
from bifrostc.runtime.providers.notes import log_route_notes
from bifrostc.runtime.responses_store import ResponseStore
from bifrostc.runtime.responses_store.sqlite import SqliteResponseStore
from bifrostc.runtime.router import Router
from bifrostc.runtime.security import SecurityMiddleware
from bifrostc.runtime.sqlite_db import MEMORY
from bifrostc.runtime.transport import credentials

log = logging.getLogger("bifrostc.app")


@dataclass(slots=True)
class GatewayRuntime:
    """Everything a request needs, built from one Gateway; replaced as a whole on reload."""

    router: Router
    dispatcher: Dispatcher
    hooks: Hooks
    clock: Callable[[], float]
    # Salt of the client-credential labels (`transport.credentials`); None: no provider passes one through.
    credential_salt: str | None = None

    @property
    def gateway(self) -> config.Gateway:
        return self.router.gateway


def build_runtime(
    gateway: config.Gateway,
    client: httpx.AsyncClient,
    hooks: Hooks,
    *,
    breakers: BreakerBoard | None = None,
    environ: dict[str, str] | None = None,
    rng: random.Random | None = None,
    sleep: Any = None,
) -> GatewayRuntime:
    rng = rng or random.Random()
    router = Router(gateway, rng=rng)
    adapters = {name: adapter_class(p.type)(p, client) for name, p in gateway.providers.items()}
    extra = {"sleep": sleep} if sleep is not None else {}
    dispatcher = Dispatcher(
        router, adapters, resolve_keys(gateway, environ), breakers or BreakerBoard(), rand=rng.random, **extra
    )
    salt = None
    if credentials.any_passthrough(gateway):
        salt = (os.environ if environ is None else environ).get(credentials.SALT_ENV) or credentials.DEFAULT_SALT
    return GatewayRuntime(router, dispatcher, hooks, time.monotonic, salt)


def estimates_every_request(gateway: config.Gateway) -> bool:
    """Routes with a context window and rules reading ``input_tokens`` estimate each prompt's tokens
    (`dialects.tokenizer`); other gateways only for count_tokens without a counting API, so they leave the table
    (~0.2 s and ~40 MB) unread until then."""
    windows = any(route.context_window is not None for route in gateway.routes.values())
    return windows or "input_tokens" in rules.reads(gateway.rules)


def swap_gateway(app: Starlette, gateway: config.Gateway) -> None:
    """Atomically install a new Gateway (same client, hooks and breakers); raises if it cannot be built."""
    current: GatewayRuntime = app.state.runtime
    options = app.state.runtime_options
    factory = app.state.hooks_factory
    hooks = factory(gateway) if factory is not None else current.hooks
    if estimates_every_request(gateway):
        tokenizer.encoder()  # read once here, not by the first request of the new routes
    app.state.runtime = build_runtime(
        gateway, app.state.http_client, hooks, breakers=current.dispatcher.breakers, **options
    )
    log.info("gateway reloaded: %d routes, %d providers", len(gateway.routes), len(gateway.providers))


class ChatEndpoint:
    """One dialect endpoint as a plain ASGI app. Starlette would wrap a function endpoint in a second exception
    layer (the app's ExceptionMiddleware already maps the same handlers) around a Request whose header lookups
    each scan the list; this one builds a `GatewayRequest` (headers indexed once) and nothing more."""

    def __init__(self, dialect: ClientDialect, endpoint: Endpoint) -> None:
        self.dialect = dialect
        self.endpoint = endpoint
        self.__name__ = f"{dialect.name}_chat"  # the route's name, as the function's was

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.respond(GatewayRequest(scope, receive, send))
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        """The endpoint as a request handler (what the Claude Code sign-in routes wrap)."""
        return await handle_chat(request, self.dialect, self.endpoint)


def chat_routes(registry: Sequence[ClientDialect] = DIALECTS) -> list[BaseRoute]:
    """Every registered dialect's chat endpoints."""
    return [
        Route(ep.path, ChatEndpoint(dialect, ep), methods=list(ep.methods))
        for dialect in registry
        for ep in dialect.endpoints
    ]


def gateway_routes(registry: Sequence[ClientDialect] = DIALECTS) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/health", catalog.health, methods=["GET"]),
        Route("/health/live", catalog.health_live, methods=["GET"]),
        Route("/health/ready", catalog.health_ready, methods=["GET"]),
        *chat_routes(registry),
        Route("/anthropic/v1/messages/count_tokens", extras.count_tokens, methods=["POST"]),
        *gemini.routes(),
    ]
    for prefix in ("/anthropic/v1", "/v1", "/openai/v1"):
        routes += [
            Route(f"{prefix}/models", models.list_models, methods=["GET"]),
            Route(f"{prefix}/models/{{model_id:path}}", models.get_model, methods=["GET"]),
        ]
    routes += [Route(f"{prefix}/embeddings", extras.embeddings, methods=["POST"]) for prefix in ("/v1", "/openai/v1")]
    routes += [Route(path, stored.stored_response, methods=["GET", "DELETE"]) for path in stored.PATHS]
    return routes


def create_app(
    gateway: config.Gateway,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    hooks: Hooks | None = None,
    hooks_factory: Callable[[config.Gateway], Hooks] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    lifespan_hooks: Sequence[Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]] = (),
    environ: dict[str, str] | None = None,
    rng: random.Random | None = None,
    sleep: Any = None,
    breakers: BreakerBoard | None = None,
    dialects: Sequence[ClientDialect] = DIALECTS,
    responses_store: ResponseStore | None = None,
) -> Starlette:
    """Build the gateway app.

    `hooks`: the pipeline hooks; or `hooks_factory(gateway)`, which is also called on every hot reload so hooks
    holding gateway tables (virtual keys, budgets, routes) follow the new config. `extra_routes` (e.g.
    Mount("/mcp", ...), dashboard, /metrics) are tried before the gateway's own; `lifespan_hooks` are async
    context-manager factories entered at start-up (log sinks, MCP sessions...); `dialects` the client dialects
    served (the registry in runtime/dialects); `responses_store` keeps `store: true` Responses answers (default:
    in memory, unless `server.responses_store.enabled` is false; `gateway_app` opens the configured one)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for hook in lifespan_hooks:
                await stack.enter_async_context(hook(app))
            if estimates_every_request(app.state.runtime.gateway):
                await tokenizer.ready()  # the BPE table before the first request; otherwise at its first use
            try:
                yield
            finally:
                await app.state.http_client.aclose()

    app = Starlette(
        routes=[*extra_routes, *gateway_routes(dialects)],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception_handler},
        # Host, cross-site and key gates (runtime/security.py), once a Gemini ?key= is a header like the others.
        middleware=[Middleware(gemini.GoogleKeyParam), Middleware(SecurityMiddleware)],
    )
    serve_exact_paths(app.router)  # the chat endpoints without ~17 regex matches each
    # The client is created here, not in lifespan, so in-process ASGI tests (no lifespan events) work too.
    app.state.http_client = build_client(transport)
    app.state.runtime_options = {"environ": environ, "rng": rng, "sleep": sleep}
    app.state.hooks_factory = hooks_factory
    if responses_store is None and gateway.server.responses_store.enabled:
        bounds = gateway.server.responses_store
        responses_store = SqliteResponseStore(MEMORY, ttl_seconds=bounds.ttl_seconds, max_bytes=bounds.max_bytes)
    app.state.responses_store = responses_store
    first_hooks = hooks_factory(gateway) if hooks_factory is not None else (hooks or Hooks())
    app.state.runtime = build_runtime(
        gateway, app.state.http_client, first_hooks, breakers=breakers, **app.state.runtime_options
    )
    log_route_notes(gateway)  # what each route loses to its provider's request rules, said once
    return app
