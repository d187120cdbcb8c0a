"""One upstream MCP server: a supervised SDK client that reconnects with backoff.

Each upstream owns one long-running task (:meth:`Upstream.run`). The SDK's transports and sessions hold anyio
task groups that must be entered and left by the same task, so the connection lives entirely inside that task;
request handlers only borrow the connected session. A failure marks the upstream unhealthy and the loop retries
with exponential backoff; the gateway keeps serving the other upstreams meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import anyio
import httpx2
import mcp_types as types
from anyio.abc import TaskStatus
from mcp.client import Client, IncomingMessage
from mcp.client.subscriptions import ListenNotSupportedError, SubscriptionLost
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bifrostc.runtime.config import McpServer
from bifrostc.runtime.mcp.transports import open_transport

logger = logging.getLogger(__name__)

CLIENT_INFO = types.Implementation(name="bifrostc-mcp-gateway", version="0.1.0")
# Errors that mean the connection itself is gone (as opposed to a tool or protocol error worth relaying).
_CONNECTION_ERRORS = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, httpx2.HTTPError)
_MAX_PAGES = 100  # a paginator that never ends must not hang a listing


class UpstreamUnavailable(Exception):
    """The upstream is not connected (or its connection just dropped)."""


def describe_error(exc: BaseException) -> str:
    """A one-line reason, unwrapping the exception groups anyio task groups raise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:500]


class Upstream:
    """A connection to one configured MCP server plus its cached tool list."""

    def __init__(
        self,
        spec: McpServer,
        *,
        environ: Mapping[str, str],
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        tools_ttl: float = 60.0,
    ) -> None:
        self.spec = spec
        self._environ = environ
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._tools_ttl = tools_ttl
        self._client: Client | None = None
        self._tools: tuple[types.Tool, ...] = ()
        self._fetched_at = 0.0
        self._stale = False
        self._last_error: str | None = None
        self._attempts = 0
        self._lost = anyio.Event()
        self.first_attempt_done = anyio.Event()
        self._up = anyio.Event()  # set while connected; replaced by a fresh one when the connection drops
        self._changed = anyio.Event()  # fired (then replaced) when the upstream announces a new tool list
        self._refresh_lock = anyio.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def connected(self) -> bool:
        return self._client is not None

    def health(self) -> dict[str, Any]:
        return {
            "transport": self.spec.transport,
            "connected": self.connected,
            "tools": len(self._tools) if self.connected else 0,
            "last_error": self._last_error,
            "attempts": self._attempts,
        }

    async def run(self) -> None:
        """Connect, serve until the connection is lost, then retry with backoff. Runs until cancelled."""
        delay = self._backoff_initial
        while True:
            self._attempts += 1
            try:
                await self._serve_one_connection()
                delay = self._backoff_initial  # it was healthy until it dropped: retry promptly
            except Exception as exc:  # supervisor boundary: no upstream failure may stop the gateway
                self._last_error = describe_error(exc)
                logger.warning("MCP upstream %r unavailable: %s", self.name, self._last_error)
            finally:
                self._set_down()
                self.first_attempt_done.set()
            await anyio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _serve_one_connection(self) -> None:
        self._lost = anyio.Event()
        client = Client(
            open_transport(self.spec, self._environ),
            read_timeout_seconds=self.spec.timeout,
            message_handler=self._on_message,
            client_info=CLIENT_INFO,
            cache=None,  # the gateway filters listings per caller and must always see fresh ones
        )
        async with client, anyio.create_task_group() as tg:
            if self._wants_listen(client):
                # Subscribed before the first listing, so no change between the two goes unnoticed.
                await tg.start(self._listen_for_changes, client)
            await self._fetch_tools(client)
            self._client = client
            self._last_error = None
            self._up.set()
            self.first_attempt_done.set()
            logger.info("MCP upstream %r connected with %d tools", self.name, len(self._tools))
            await self._lost.wait()
            tg.cancel_scope.cancel()
        if self._last_error is None:
            self._last_error = "connection lost"

    def mark_lost(self, reason: str, client: Client | None = None) -> None:
        """Drop the connection (only if ``client``, when given, is still the live one); :meth:`run` reconnects."""
        if client is not None and client is not self._client:
            return  # a late failure report from a connection already replaced
        if self._client is not None:
            logger.warning("MCP upstream %r lost: %s", self.name, reason)
        self._last_error = reason
        self._set_down()
        self._lost.set()

    def _set_down(self) -> None:
        self._client = None
        if self._up.is_set():
            self._up = anyio.Event()

    async def wait_connected(self) -> None:
        """Return once the upstream is connected (immediately if it already is)."""
        await self._up.wait()

    def next_tools_change(self) -> anyio.Event:
        """An event set at the upstream's next announced tool-list change (take it before causing one)."""
        return self._changed

    def _note_tools_changed(self) -> None:
        self._stale = True
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            self.mark_lost(describe_error(message))
        elif isinstance(message, types.ToolListChangedNotification):
            self._note_tools_changed()  # handshake-era servers announce changes as plain notifications

    @staticmethod
    def _wants_listen(client: Client) -> bool:
        tools = client.server_capabilities.tools
        return client.protocol_version in MODERN_PROTOCOL_VERSIONS and bool(tools and tools.list_changed)

    async def _listen_for_changes(self, client: Client, *, task_status: TaskStatus[None]) -> None:
        """2026-era servers deliver tools/list_changed only on a ``subscriptions/listen`` stream."""
        started = False
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                task_status.started()
                started = True
                async for _event in subscription:
                    self._note_tools_changed()
        except (ListenNotSupportedError, SubscriptionLost, MCPError, TimeoutError) as exc:
            logger.info("MCP upstream %r: no change stream (%s); relying on the listing TTL", self.name, exc)
        if not started:
            task_status.started()

    async def _fetch_tools(self, client: Client) -> None:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await client.session.list_tools(params=params)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        self._tools = tuple(tools)
        self._fetched_at = time.monotonic()
        self._stale = False

    async def tools(self) -> tuple[types.Tool, ...]:
        """The upstream's tools, refreshed when announced changed or older than the TTL; empty when down."""
        client = self._client
        if client is None:
            return ()
        if self._stale or time.monotonic() - self._fetched_at > self._tools_ttl:
            async with self._refresh_lock:
                try:
                    await self._fetch_tools(client)
                except (MCPError, *_CONNECTION_ERRORS) as exc:
                    if not isinstance(exc, MCPError) or exc.code == CONNECTION_CLOSED:
                        self.mark_lost(describe_error(exc), client)
                        return ()
                    logger.warning("MCP upstream %r: tools/list failed: %s", self.name, exc)
        return self._tools

    async def call_tool(self, tool: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
        """Forward ``tools/call`` and return the upstream result untouched.

        Raises:
            UpstreamUnavailable: not connected, or the connection broke during the call.
            MCPError: the upstream answered with a protocol error (relayed as is by the caller).
        """
        client = self._client
        if client is None:
            raise UpstreamUnavailable(f"MCP server {self.name!r} is unavailable: {self._last_error}")
        try:
            result = await client.session.call_tool(tool, arguments, read_timeout_seconds=self.spec.timeout)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self.mark_lost(describe_error(exc), client)
                raise UpstreamUnavailable(f"MCP server {self.name!r} closed the connection") from exc
            raise
        except _CONNECTION_ERRORS as exc:
            self.mark_lost(describe_error(exc), client)
            raise UpstreamUnavailable(f"MCP server {self.name!r} connection failed: {exc}") from exc
        if not isinstance(result, types.CallToolResult):
            raise MCPError(types.INTERNAL_ERROR, f"MCP server {self.name!r} returned an unsupported result type")
        return result
