"""Fixture upstreams over streamable HTTP and SSE, built with the SDK's MCPServer."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer
from starlette.applications import Starlette


def streamable_http_app() -> Starlette:
    server = MCPServer("beta")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back, tagged with this server's name."""
        return f"beta:{text}"

    @server.tool()
    def whoami(ctx: Context) -> str:
        """The x-upstream-token header the gateway sent (proves header env refs are applied)."""
        return (ctx.headers or {}).get("x-upstream-token", "<none>")

    @server.tool()
    def admin_delete() -> str:
        """A tool the gateway's deny list hides."""
        return "deleted"

    @server.tool()
    async def grow(name: str, ctx: Context) -> str:
        """Register a new tool called ``name`` and announce the changed tool list."""
        server.add_tool(lambda: name, name=name, description="added at run time")
        await ctx.notify_tools_changed()
        return "grown"

    return server.streamable_http_app()


def sse_app() -> Starlette:
    server = MCPServer("gamma")

    @server.tool()
    def ping() -> str:
        """Answer pong."""
        return "pong"

    return server.sse_app()
