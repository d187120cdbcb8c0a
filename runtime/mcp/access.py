"""Who sees what: the caller's key context and the per-key filters over tools, prompts and resources.

Tools are filtered by name: ``authorize_tool(key_context, gateway_tool_name)``. Prompts, resources and resource
templates are filtered per server: a caller sees those of server ``S`` when ``authorize_server(key_context, S)``
says so (bifrostc wires it to the key's ``allowed_mcp_tools``: a pattern that can match some ``S__<name>``), or,
without ``authorize_server``, when it may use at least one of ``S``'s tools. An item whose own gateway name
passes ``authorize_tool`` is visible either way. Without ``authorize_tool`` everything is visible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mcp.server.context import ServerRequestContext

from bifrostc.runtime.mcp.catalog import CatalogEntry, build_catalog
from bifrostc.runtime.mcp.endpoint import Authenticate, key_context_of
from bifrostc.runtime.mcp.upstream import Upstream

Authorize = Callable[[Any, str], bool]  # (key context, gateway tool name | server name) -> allowed


class Access:
    def __init__(
        self,
        upstreams: Sequence[Upstream],
        *,
        authenticate: Authenticate | None,
        authorize_tool: Authorize | None,
        authorize_server: Authorize | None,
    ) -> None:
        self._upstreams = upstreams
        self._authenticate = authenticate
        self._authorize_tool = authorize_tool
        self._authorize_server = authorize_server

    def key(self, ctx: ServerRequestContext[Any]) -> object:
        """The key context of the caller behind an MCP request."""
        return key_context_of(ctx.request, self._authenticate)

    def tool_allowed(self, key_context: object, name: str) -> bool:
        return self._authorize_tool is None or self._authorize_tool(key_context, name)

    async def servers_granted(self, key_context: object) -> frozenset[str] | None:
        """Servers whose prompts and resources the caller sees; None means every server."""
        if self._authorize_tool is None:
            return None
        if self._authorize_server is not None:
            return frozenset(u.name for u in self._upstreams if self._authorize_server(key_context, u.name))
        tools = await build_catalog(self._upstreams)
        return frozenset(entry.upstream.name for name, entry in tools.items() if self.tool_allowed(key_context, name))

    def visible(self, key_context: object, granted: frozenset[str] | None, entry: CatalogEntry[Any]) -> bool:
        """A prompt, resource or template entry: its server is granted, or its own gateway name is."""
        return granted is None or entry.upstream.name in granted or self.tool_allowed(key_context, entry.item.name)
