"""McpGateway: many upstream MCP servers behind one streamable-HTTP MCP endpoint.

Tools, prompts, resources and resource templates are aggregated (catalog.py, primitives.py) and filtered per
caller (access.py); capabilities and list_changed notifications follow the upstreams (server.py).

Lifecycle: Starlette's ``Mount`` does not run a sub-app's lifespan, so the host app calls :meth:`McpGateway.start`
and :meth:`McpGateway.aclose` from its own lifespan, **in the same task** (both hold anyio task groups), or uses
``async with gateway.running():``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import version
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from starlette.types import Receive, Scope, Send

from bifrostc.runtime.config import McpServer
from bifrostc.runtime.mcp.access import Access, Authorize
from bifrostc.runtime.mcp.catalog import CatalogEntry, build_catalog
from bifrostc.runtime.mcp.endpoint import Authenticate, McpEndpoint
from bifrostc.runtime.mcp.primitives import PromptsAndResources
from bifrostc.runtime.mcp.server import ChangeFanout, GatewayServer
from bifrostc.runtime.mcp.upstream import Upstream, UpstreamUnavailable
from bifrostc.runtime.observability.metrics_usage import ToolCall, ToolCallSink

logger = logging.getLogger(__name__)
# The SDK logs "Terminating session: None" at INFO for every stateless request; the gateway logs each call itself.
logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)

SERVER_NAME = "bifrostc"


class McpGateway:
    """Aggregates upstream MCP servers' tools, prompts and resources and serves them, filtered per caller.

    ``authenticate(headers)`` turns a request's headers into a key context (raise a ``GatewayError`` such as
    ``AuthenticationFailed`` to refuse the HTTP request); without it the key context is the raw virtual key
    from ``Authorization: Bearer`` / ``x-api-key`` (or None). ``authorize_tool(key_context, gateway_tool_name)``
    decides which tools the caller sees and may call; without it everything is allowed.
    ``authorize_server(key_context, server)`` decides whose prompts and resources the caller sees (access.py has
    the whole rule). Listings are cached per upstream for ``listing_ttl`` seconds or until the upstream announces
    a change.
    """

    def __init__(
        self,
        servers: tuple[McpServer, ...],
        *,
        authorize_tool: Authorize | None = None,
        authorize_server: Authorize | None = None,
        authenticate: Authenticate | None = None,
        environ: Mapping[str, str] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        listing_ttl: float = 60.0,
        startup_timeout: float = 10.0,
        on_tool_call: ToolCallSink | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._on_tool_call = on_tool_call  # metrics: one ToolCall per call, whatever its outcome
        self._changes = ChangeFanout()
        self._upstreams = tuple(
            Upstream(
                spec,
                environ=env,
                backoff_initial=backoff_initial,
                backoff_max=backoff_max,
                listing_ttl=listing_ttl,
                on_change=self._changes.upstream_changed,
            )
            for spec in servers
        )
        self._access = Access(
            self._upstreams,
            authenticate=authenticate,
            authorize_tool=authorize_tool,
            authorize_server=authorize_server,
        )
        self._authenticate = authenticate
        self._startup_timeout = startup_timeout
        primitives = PromptsAndResources(self._upstreams, self._access)
        self._server = GatewayServer(
            SERVER_NAME,
            self._upstreams,
            version=version("bifrostc"),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_prompts=primitives.list_prompts,
            on_get_prompt=primitives.get_prompt,
            on_list_resources=primitives.list_resources,
            on_list_resource_templates=primitives.list_resource_templates,
            on_read_resource=primitives.read_resource,
            on_subscriptions_listen=self._changes.listen_handler,
        )
        self._session_manager: StreamableHTTPSessionManager | None = None
        self._stack: AsyncExitStack | None = None

    async def start(self) -> None:
        """Start serving and connect every upstream.

        Waits (up to ``startup_timeout``) for each upstream's first connection attempt, so a healthy
        gateway lists its tools right away; failed upstreams keep retrying in the background.
        """
        if self._stack is not None:
            raise RuntimeError("McpGateway is already started")
        stack = AsyncExitStack()
        # Stateless: every POST stands alone, so a key is checked per request and no session outlives it.
        manager = StreamableHTTPSessionManager(app=self._server, json_response=True, stateless=True)
        await stack.enter_async_context(manager.run())
        task_group = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(task_group.cancel_scope.cancel)  # LIFO: cancel the supervisors before joining them
        self._changes.start(task_group)
        stack.callback(self._changes.stop)  # first of all: end listen streams so they do not hold requests open
        for upstream in self._upstreams:
            task_group.start_soon(upstream.run, name=f"mcp-upstream-{upstream.name}")
        self._session_manager = manager
        self._stack = stack
        with anyio.move_on_after(self._startup_timeout):
            for upstream in self._upstreams:
                await upstream.first_attempt_done.wait()

    async def aclose(self) -> None:
        """Disconnect every upstream (stdio children are terminated) and stop serving."""
        stack, self._stack = self._stack, None
        self._session_manager = None
        if stack is not None:
            await stack.aclose()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[McpGateway]:
        await self.start()
        try:
            yield self
        finally:
            await self.aclose()

    def asgi_app(self) -> McpEndpoint:
        """The ASGI app to mount at ``/mcp`` (see :class:`McpEndpoint` for how to mount it)."""
        return McpEndpoint(self._handle_http, self._authenticate)

    def health(self) -> dict[str, dict[str, Any]]:
        """Per upstream: transport, connected, tools (count), last_error, attempts."""
        return {upstream.name: upstream.health() for upstream in self._upstreams}

    async def wait_connected(self, server: str) -> None:
        """Return once upstream ``server`` is connected; pair with ``anyio.fail_after`` to bound the wait.

        Raises:
            KeyError: no upstream of that name is configured.
        """
        upstream = next((u for u in self._upstreams if u.name == server), None)
        if upstream is None:
            raise KeyError(server)
        await upstream.wait_connected()

    async def _handle_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = self._session_manager
        if manager is None:
            await _unavailable(send)
            return
        await manager.handle_request(scope, receive, send)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        key_context = self._access.key(ctx)
        catalog = await build_catalog(self._upstreams)
        tools = [entry.item for name, entry in catalog.items() if self._access.tool_allowed(key_context, name)]
        # Private and immediately stale: the listing depends on the caller's key and on upstream health.
        return types.ListToolsResult(tools=tools, ttl_ms=0, cache_scope="private")

    async def _call_tool(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> Any:
        key_context = self._access.key(ctx)
        entry: CatalogEntry[types.Tool] | None = (await build_catalog(self._upstreams)).get(params.name)
        started, status, server = time.monotonic(), "error", entry.upstream.name if entry else "-"
        try:
            if entry is None or not self._access.tool_allowed(key_context, params.name):
                status = "denied"
                # Hidden and unknown tools get the same answer, so a key cannot probe for tools it may not use.
                raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
            try:
                result = await entry.upstream.call_tool(entry.original, params.arguments)
            except UpstreamUnavailable as exc:
                status = "unavailable"
                # A tool-level error, so the model sees why and can carry on without the tool.
                return types.CallToolResult(content=[types.TextContent(type="text", text=str(exc))], is_error=True)
            status = "error" if getattr(result, "is_error", False) else "ok"
            return result
        finally:
            key_name = getattr(key_context, "key_name", None)  # a KeyContext when keys are configured
            elapsed = time.monotonic() - started
            logger.info(
                "mcp tool call key=%s server=%s tool=%s status=%s latency_ms=%.1f",
                key_name or "-",
                server,
                params.name,
                status,
                elapsed * 1000,
            )
            if self._on_tool_call is not None:  # unknown names are client-chosen: not a metric label
                self._on_tool_call(ToolCall(key_name, server, params.name if entry else "-", status, elapsed))


async def _unavailable(send: Send) -> None:
    await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"MCP gateway is not started"})
