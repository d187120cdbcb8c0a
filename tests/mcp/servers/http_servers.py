"""Fixture upstreams over streamable HTTP and SSE, built with the SDK's MCPServer."""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts import Prompt
from mcp.server.mcpserver.resources import TextResource
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

    @server.tool()
    async def grow_prompt(name: str, ctx: Context) -> str:
        """Register a new prompt called ``name`` and announce the changed prompt list."""
        server.add_prompt(Prompt.from_function(lambda: f"beta {name}", name=name, description="added at run time"))
        await ctx.notify_prompts_changed()
        return "grown"

    @server.tool()
    async def add_note(name: str, ctx: Context) -> str:
        """Register a static resource notes://<name> and announce the changed resource list."""
        server.add_resource(TextResource(uri=f"notes://{name}", name=name, text=f"beta added {name}"))
        await ctx.notify_resources_changed()
        return "added"

    @server.prompt()
    def review(code: str) -> str:
        """Ask for a review (alpha has a prompt of the same name)."""
        return f"beta review: {code}"

    @server.resource("notes://readme", name="readme", mime_type="text/plain")
    def readme() -> str:
        """Same URI as alpha's readme."""
        return "beta readme"

    @server.resource("notes://{name}", name="note", mime_type="text/plain")
    def note(name: str) -> str:
        """A resource template (alpha has the same one)."""
        return f"beta note {name}"

    return server.streamable_http_app()


def tools_only_app() -> Starlette:
    """A low-level server offering tools and nothing else (no prompts or resources capability)."""

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name="noop", input_schema={"type": "object"})])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text="ok")])

    return Server("delta", on_list_tools=list_tools, on_call_tool=call_tool).streamable_http_app()


def sse_app() -> Starlette:
    server = MCPServer("gamma")

    @server.tool()
    def ping() -> str:
        """Answer pong."""
        return "pong"

    return server.sse_app()
