"""Assemble the full gateway from one Gateway: governance, cache, observability and the MCP gateway.

`create_app` alone runs a bare gateway (no-op hooks); `gateway_app(gateway)` is what `bifrostc serve` runs.
The long-lived parts (counter store, cache, log sink, MCP sessions) are built once; the hooks that read the
gateway's tables (virtual keys, routes) are rebuilt by `hooks_factory` on every hot reload. Changes to
`mcp_servers`, `cache` or `observability` need a restart; routes, keys, budgets and grants reload live.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from bifrostc.runtime import config
from bifrostc.runtime.cache import ResponseCache
from bifrostc.runtime.cache.hooks import CacheHooks
from bifrostc.runtime.claude_gateway import routes as claude_gateway
from bifrostc.runtime.claude_gateway.service import SignedInHooks, SignInService
from bifrostc.runtime.context import Hooks, RequestContext
from bifrostc.runtime.dispatch import Attempt
from bifrostc.runtime.governance import Governor
from bifrostc.runtime.governance import keys as key_policy
from bifrostc.runtime.governance.keys import KeyContext, KeyRing
from bifrostc.runtime.health import HealthSource
from bifrostc.runtime.http import UpstreamTransport
from bifrostc.runtime.observability.dashboard import dashboard_routes
from bifrostc.runtime.observability.log_hooks import TelemetryHooks
from bifrostc.runtime.observability.telemetry import Telemetry
from bifrostc.runtime.probe.results import PROBE_FILE
from bifrostc.runtime.responses_store import ResponseStore, open_store
from bifrostc.runtime.router import Router
from bifrostc.runtime.transport import credentials
from bifrostc.runtime.types import Usage
from bifrostc.runtime.workers import WorkersHealth, expected_workers

if TYPE_CHECKING:  # the MCP SDK costs ~0.5 s and ~35 MB to import: only loaded when the spec has mcp_servers
    from bifrostc.runtime.mcp.gateway import McpGateway

log = logging.getLogger("bifrostc.assembly")


class GovernanceHooks(Hooks):
    """Virtual keys, model/provider grants, budgets and rate limits through the Governor."""

    def __init__(self, governor: Governor) -> None:
        self.governor = governor
        self.router = Router(governor.gateway)  # the grant rule reads route names and fallback chains

    async def authenticate(self, headers: Mapping[str, str], ctx: RequestContext) -> Any:
        # A virtual key presented in Authorization / x-api-key is ours, never the client's credential to forward.
        ctx.credential = credentials.without(ctx.credential, self.governor.keyring.knows)
        return self.governor.authenticate(headers)

    async def authorize(self, ctx: RequestContext, route: config.Route) -> None:
        key: KeyContext | None = ctx.key
        ctx.provider_filter = key_policy.authorize(key, self.router, ctx.requested_model or route.name, route)

    async def capacity(self, ctx: RequestContext, names: frozenset[str]) -> Mapping[str, float]:
        return await self.governor.capacity(ctx.key, names)

    async def before_call(self, ctx: RequestContext, route: config.Route) -> None:
        await self.authorize(ctx, route)
        if ctx.key is not None:
            max_cost = self.governor.max_cost(ctx.key, route, ctx.chat, ctx.headers.get("content-length"))
            if credentials.billed_to_client_only(self.governor.gateway, self.router.chain(route), ctx.credential):
                max_cost = 0.0  # the client's own account pays and the spec does not count it: nothing to hold
            ctx.extras["reservation"] = await self.governor.admit(ctx.key, max_cost)
            ctx.answer_headers.update(await self.governor.usage_headers(ctx.key))

    async def after_call(self, ctx: RequestContext, usage: Usage | None) -> None:
        """Swap the admission's hold for the real cost; a cache hit or a failure with no usage releases it."""
        reservation = ctx.extras.get("reservation")
        if reservation is None:
            return
        cost, tokens = 0.0, 0
        if usage is not None and ctx.provider and ctx.upstream_model and not ctx.cache_hit:
            cost = self.governor.cost_usd(ctx.provider, ctx.upstream_model, usage)
            provider = self.governor.gateway.providers.get(ctx.provider)
            if ctx.billed_to == "client" and not (provider and provider.count_client_spend):
                cost = 0.0  # billed to the client's own account: tokens count, the spend is not the gateway's
            tokens = usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        await self.governor.settle(reservation, cost, tokens)


@dataclass(slots=True)
class Parts:
    """The long-lived subsystems of one served gateway; `governor` follows hot reloads."""

    governor: Governor
    cache: ResponseCache
    telemetry: Telemetry
    mcp: McpGateway | None
    responses: ResponseStore | None = None  # stored Responses (runtime/responses_store); None: off
    app: Starlette | None = None
    claude_code: SignInService | None = None  # /claude-code sign-in, when the spec has claude_code.sign_in
    health_sources: list[HealthSource] = field(default_factory=list)  # what /health and /health/ready check


@dataclass(slots=True)
class McpHealth:
    """Optional: a disconnected MCP server degrades /health but the model routes stay ready."""

    mcp: McpGateway
    name: str = "mcp"
    required: bool = False

    async def check(self) -> bool:
        return all(server["connected"] for server in self.mcp.health().values())


def _embedder(parts: Parts, route_name: str) -> Callable[[str], Any]:
    """Embeddings for the semantic cache, served through the gateway's own routing (retries, fallbacks)."""

    async def embed(text: str) -> list[float]:
        assert parts.app is not None
        rt = parts.app.state.runtime
        ctx = RequestContext(dialect="openai", endpoint="embeddings", requested_model=route_name)

        async def call(attempt: Attempt) -> dict[str, Any]:
            body = {"model": attempt.model, "input": text}
            adapter = attempt.adapter
            answer: dict[str, Any] = await adapter.embeddings(body, model=attempt.model, api_key=attempt.api_key)
            return answer

        result = await rt.dispatcher.run(ctx, rt.router.resolve(route_name), call)
        return [float(x) for x in result["data"][0]["embedding"]]

    return embed


def build_parts(gateway: config.Gateway, environ: Mapping[str, str]) -> Parts:
    sqlite_path = gateway.observability.sqlite_path
    try:
        governor = Governor.from_gateway(gateway, sqlite_path=sqlite_path, environ=environ)
    except ValueError as exc:  # an env var named by server.redis is not set
        raise RuntimeError(str(exc)) from exc
    telemetry = Telemetry.from_config(gateway.observability, environ=environ)
    parts = Parts(governor=governor, cache=ResponseCache.from_config(config.Cache()), telemetry=telemetry, mcp=None)
    embed = _embedder(parts, gateway.cache.embedding_route) if gateway.cache.embedding_route else None
    redis_state = None
    if gateway.cache.mode != "off" and gateway.cache.backend == "redis":
        from bifrostc.runtime.redis_client import settings as redis_settings  # loads redis only when used

        redis_state = redis_settings(gateway.server)
    parts.cache = ResponseCache.from_config(gateway.cache, redis_state=redis_state, environ=environ, embed=embed)
    try:
        parts.responses = open_store(gateway, environ, sqlite_path=sqlite_path)
    except ValueError as exc:
        raise RuntimeError(str(exc)) from exc
    if telemetry.metrics is not None:
        telemetry.metrics.describe_cache(gateway.cache.mode, gateway.cache.backend)
    if gateway.mcp_servers:
        from bifrostc.runtime.mcp.gateway import McpGateway

        parts.mcp = McpGateway(
            gateway.mcp_servers,
            authenticate=lambda headers: parts.governor.authenticate(headers),
            authorize_tool=lambda key, tool: parts.governor.tool_allowed(key, tool),
            authorize_server=lambda key, server: parts.governor.mcp_server_allowed(key, server),
            environ=environ,
            on_tool_call=telemetry.metrics.observe_tool_call if telemetry.metrics is not None else None,
        )
        parts.health_sources.append(McpHealth(parts.mcp))
    if expected_workers(environ) > 1:
        parts.health_sources.append(WorkersHealth())
    sink = telemetry.sink
    for source in (sink.store if sink is not None else None, governor.store):
        if isinstance(source, HealthSource):  # the log store; Redis governance state (ResilientCounterStore)
            parts.health_sources.append(source)
    return parts


def _hooks_factory(parts: Parts, environ: Mapping[str, str]) -> Callable[[config.Gateway], Hooks]:
    def factory(gateway: config.Gateway) -> Hooks:
        if parts.governor.gateway is not gateway:  # hot reload: new key tables, same counter store
            parts.governor = Governor(gateway, parts.governor.store, keyring=KeyRing(gateway, environ))
        hooks: Hooks = SignedInHooks(GovernanceHooks(parts.governor))  # /claude-code bearers map to their key
        hooks = CacheHooks(hooks, parts.cache, passthrough=gateway.cache.passthrough)
        return TelemetryHooks(hooks, parts.telemetry, gateway)

    return factory


def _routes(parts: Parts, gateway: config.Gateway, environ: Mapping[str, str]) -> list[BaseRoute]:
    parts.claude_code = claude_gateway.service_for(gateway, lambda: parts.governor.keyring, environ)
    routes = claude_gateway.claude_code_routes(parts.claude_code) if parts.claude_code is not None else []
    if parts.mcp is not None:
        endpoint = parts.mcp.asgi_app()
        # Both spellings: Claude Code's mcp.json says /mcp, and a Mount alone answers it with a 307 to /mcp/.
        routes += [Route("/mcp", endpoint=endpoint, methods=["GET", "POST", "DELETE"]), Mount("/mcp", app=endpoint)]
    if parts.telemetry.metrics is not None:
        routes += parts.telemetry.metrics.routes()
    if parts.telemetry.sink is not None:
        routes += dashboard_routes(
            parts.telemetry.sink.store,
            spend_report=lambda: parts.governor.spend_report(),
            admin_key=_admin_key(gateway, environ),
            probe_file=lambda: _probe_file(parts),
            tool_calls=parts.telemetry.metrics.usage.tool_call_counts if parts.telemetry.metrics is not None else None,
            session_telemetry=parts.claude_code.telemetry_store.session_telemetry if parts.claude_code else None,
        )
    return routes


def _probe_file(parts: Parts) -> pathlib.Path | None:
    """out/probe.json next to the routing.py being served (`bifrostc probe --out out/` writes it)."""
    routing = getattr(parts.app.state, "routing_path", None) if parts.app is not None else None
    return pathlib.Path(routing).parent / PROBE_FILE if routing is not None else None


def _admin_key(gateway: config.Gateway, environ: Mapping[str, str]) -> str | None:
    """The dashboard's admin key. When the spec names an env var that is unset, the dashboard is locked
    (a random key nobody knows) rather than left open: logs may hold prompts and spend."""
    name = gateway.server.admin_key_env
    if not name:
        return None
    value = environ.get(name)
    if not value:
        log.error("server.admin_key_env is %s but it is not set: the dashboard is locked until it is", name)
        return secrets.token_urlsafe(32)
    return value


def _lifespan(parts: Parts) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await parts.telemetry.start()
        try:
            if parts.mcp is not None:
                async with parts.mcp.running():
                    yield
            else:
                yield
        finally:
            await parts.telemetry.aclose()
            if parts.claude_code is not None:
                await parts.claude_code.aclose()
            await parts.cache.close()
            await parts.governor.aclose()
            if parts.responses is not None:
                await parts.responses.close()

    return lifespan


def _attach(parts: Parts, app: Starlette) -> None:
    parts.app = app
    metrics = parts.telemetry.metrics
    transport = app.state.http_client._transport  # stable private attribute (see runtime/http.py)
    if metrics is not None and isinstance(transport, UpstreamTransport):
        transport.pool_wait_observers.append(metrics.observe_pool_wait)


def gateway_app_options(gateway: config.Gateway, *, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for create_app/build_server_app that wire every subsystem for `gateway`."""
    env = os.environ if environ is None else environ
    parts = build_parts(gateway, env)
    return {
        "hooks_factory": _hooks_factory(parts, env),
        "extra_routes": _routes(parts, gateway, env),
        "lifespan_hooks": [_lifespan(parts)],
        "on_app": lambda app: _attach(parts, app),
        "parts": parts,
        "responses_store": parts.responses,
    }


def gateway_app(gateway: config.Gateway, *, environ: Mapping[str, str] | None = None, **app_options: Any) -> Starlette:
    """The fully wired app for one Gateway (what `bifrostc serve` runs)."""
    from bifrostc.runtime.app import create_app

    options = gateway_app_options(gateway, environ=environ)
    on_app, parts = options.pop("on_app"), options.pop("parts")
    if environ is not None:  # provider keys come from the same environment as virtual keys and DSNs
        options["environ"] = dict(environ)
    app = create_app(gateway, **options, **app_options)
    on_app(app)
    app.state.parts = parts
    return app
