"""One upstream MCP server: a supervised SDK client that reconnects with backoff, plus its cached listings.

Each upstream owns one long-running task (:meth:`Upstream.run`). The SDK's transports and sessions hold anyio
task groups that must be entered and left by the same task, so the connection lives entirely inside that task;
request handlers only borrow the connected session. A failure marks the upstream unhealthy and the loop retries
with exponential backoff; the gateway keeps serving the other upstreams meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types as types
from anyio.abc import TaskStatus
from mcp.client import Client, ClientSession, IncomingMessage
from mcp.client.subscriptions import ListenNotSupportedError, SubscriptionLost
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bifrostc.runtime.config import McpServer
from bifrostc.runtime.mcp.listings import KINDS, Kind, Listing, announces_changes, changed_kinds, fetch_all, offered
from bifrostc.runtime.mcp.transports import open_transport

logger = logging.getLogger(__name__)

CLIENT_INFO = types.Implementation(name="bifrostc-mcp-gateway", version="0.1.0")
# Errors that mean the connection itself is gone (as opposed to a tool or protocol error worth relaying).
_CONNECTION_ERRORS = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, httpx2.HTTPError)
_T = TypeVar("_T")
OnChange = Callable[[str, tuple[Kind, ...]], None]  # (server, listings that changed)


class UpstreamUnavailable(Exception):
    """The upstream is not connected (or its connection just dropped)."""


def describe_error(exc: BaseException) -> str:
    """A one-line reason, unwrapping the exception groups anyio task groups raise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:500]


class Upstream:
    """A connection to one configured MCP server plus its cached listings.

    ``on_change(server, kinds)`` is called (synchronously) whenever listings of this upstream change as seen
    from outside: announced by the server, or because it connected or dropped.
    """

    def __init__(
        self,
        spec: McpServer,
        *,
        environ: Mapping[str, str],
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        listing_ttl: float = 60.0,
        on_change: OnChange | None = None,
    ) -> None:
        self.spec = spec
        self._environ = environ
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._listing_ttl = listing_ttl
        self._on_change = on_change
        self._client: Client | None = None
        # Last known, kept while disconnected so the gateway's advertised capabilities do not flap.
        self.capabilities: types.ServerCapabilities | None = None
        self._listings: dict[Kind, Listing] = {kind: Listing() for kind in KINDS}
        self._last_error: str | None = None
        self._attempts = 0
        self._lost = anyio.Event()
        self.first_attempt_done = anyio.Event()
        self._up = anyio.Event()  # set while connected; replaced by a fresh one when the connection drops
        # Per kind: fired (then replaced) when the upstream announces a new list.
        self._changed: dict[Kind, anyio.Event] = {kind: anyio.Event() for kind in KINDS}

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
            "tools": len(self._listings["tools"].items) if self.connected else 0,
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
            self.capabilities = client.server_capabilities
            self._listings = {kind: Listing() for kind in KINDS}
            if self._wants_listen(client):
                # Subscribed before the first listing, so no change between the two goes unnoticed.
                await tg.start(self._listen_for_changes, client)
            if offered(self.capabilities, "tools"):
                await self._fetch(client, "tools")
            self._client = client
            self._last_error = None
            self._up.set()
            self.first_attempt_done.set()
            logger.info("MCP upstream %r connected with %d tools", self.name, len(self._listings["tools"].items))
            self._announce(KINDS)
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
        was_up = self._client is not None
        self._client = None
        if self._up.is_set():
            self._up = anyio.Event()
        if was_up:
            self._announce(KINDS)  # its entries leave the aggregate listings

    async def wait_connected(self) -> None:
        """Return once the upstream is connected (immediately if it already is)."""
        await self._up.wait()

    def next_change(self, kind: Kind = "tools") -> anyio.Event:
        """An event set at the upstream's next announced change of ``kind`` (take it before causing one)."""
        return self._changed[kind]

    def _note_changed(self, kinds: tuple[Kind, ...]) -> None:
        for kind in kinds:
            self._listings[kind].stale = True  # the next read refetches, whatever the TTL says
            changed, self._changed[kind] = self._changed[kind], anyio.Event()
            changed.set()
        self._announce(kinds)

    def _announce(self, kinds: tuple[Kind, ...]) -> None:
        kinds = tuple(kind for kind in kinds if offered(self.capabilities, kind))
        if self._on_change is not None and kinds:
            self._on_change(self.name, kinds)

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            self.mark_lost(describe_error(message))
        else:
            self._note_changed(changed_kinds(message))  # handshake-era servers send plain notifications

    @staticmethod
    def _wants_listen(client: Client) -> bool:
        wanted = announces_changes(client.server_capabilities)
        return client.protocol_version in MODERN_PROTOCOL_VERSIONS and any(wanted.values())

    async def _listen_for_changes(self, client: Client, *, task_status: TaskStatus[None]) -> None:
        """2026-era servers deliver ``*/list_changed`` only on a ``subscriptions/listen`` stream."""
        started = False
        try:
            async with client.listen(**announces_changes(client.server_capabilities)) as subscription:
                task_status.started()
                started = True
                async for event in subscription:
                    self._note_changed(changed_kinds(event))
        except (ListenNotSupportedError, SubscriptionLost, MCPError, TimeoutError) as exc:
            logger.info("MCP upstream %r: no change stream (%s); relying on the listing TTL", self.name, exc)
        if not started:
            task_status.started()

    async def _fetch(self, client: Client, kind: Kind) -> None:
        listing = self._listings[kind]
        listing.stale = False  # before the request: a change announced while it runs marks it stale again
        try:
            listing.store(await fetch_all(client.session, kind))
        except BaseException:
            listing.stale = True
            raise

    async def listing(self, kind: Kind) -> tuple[Any, ...]:
        """The upstream's items of ``kind``, refreshed when announced changed or older than the TTL.

        Empty when the upstream is down or does not offer ``kind``; on a failed refresh, the last good listing.
        """
        client = self._client
        if client is None or not offered(self.capabilities, kind):
            return ()
        listing = self._listings[kind]
        if listing.due(self._listing_ttl):
            async with listing.lock:
                if listing.due(self._listing_ttl):  # another request may have refreshed it meanwhile
                    try:
                        await self._fetch(client, kind)
                    except (MCPError, *_CONNECTION_ERRORS) as exc:
                        if not isinstance(exc, MCPError) or exc.code == CONNECTION_CLOSED:
                            self.mark_lost(describe_error(exc), client)
                            return ()
                        logger.warning("MCP upstream %r: listing %s failed: %s", self.name, kind, exc)
        return listing.items

    async def tools(self) -> tuple[types.Tool, ...]:
        return await self.listing("tools")

    async def _forward(self, what: str, request: Callable[[ClientSession], Awaitable[_T]]) -> _T:
        """Send one request on the live connection; a broken connection is marked lost.

        Raises:
            UpstreamUnavailable: not connected, or the connection broke during the request.
            MCPError: the upstream answered with a protocol error (relayed as is by the caller).
        """
        client = self._client
        if client is None:
            raise UpstreamUnavailable(f"MCP server {self.name!r} is unavailable: {self._last_error}")
        try:
            return await request(client.session)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self.mark_lost(describe_error(exc), client)
                raise UpstreamUnavailable(f"MCP server {self.name!r} closed the connection during {what}") from exc
            raise
        except _CONNECTION_ERRORS as exc:
            self.mark_lost(describe_error(exc), client)
            raise UpstreamUnavailable(f"MCP server {self.name!r} connection failed during {what}: {exc}") from exc

    async def call_tool(self, tool: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
        """Forward ``tools/call`` and return the upstream result untouched (errors as :meth:`_forward`)."""
        timeout = self.spec.timeout
        result = await self._forward("tools/call", lambda s: s.call_tool(tool, arguments, read_timeout_seconds=timeout))
        if not isinstance(result, types.CallToolResult):
            raise MCPError(types.INTERNAL_ERROR, f"MCP server {self.name!r} returned an unsupported result type")
        return result

    async def get_prompt(self, prompt: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        """Forward ``prompts/get`` and return the upstream result untouched (errors as :meth:`_forward`)."""
        return await self._forward("prompts/get", lambda s: s.get_prompt(prompt, arguments))

    async def read_resource(self, uri: str) -> types.ReadResourceResult:
        """Forward ``resources/read`` with the upstream's own URI (errors as :meth:`_forward`)."""
        return await self._forward("resources/read", lambda s: s.read_resource(uri))
