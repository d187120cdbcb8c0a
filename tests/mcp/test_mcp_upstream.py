"""Upstream on its own: tool-list change announcements refresh the cached listing."""

from __future__ import annotations

import anyio
from mcp_harness import http_servers, serve

from bifrostc.runtime.config import McpServer
from bifrostc.runtime.mcp.upstream import Upstream


async def test_an_announced_tool_list_change_is_picked_up_before_the_ttl():
    with anyio.fail_after(30):
        async with serve(http_servers.streamable_http_app()) as base, anyio.create_task_group() as tg:
            upstream = Upstream(McpServer(name="beta", transport="http", url=f"{base}/mcp"), environ={})
            tg.start_soon(upstream.run)
            await upstream.wait_connected()
            before = {tool.name for tool in await upstream.tools()}
            changed = upstream.next_change("tools")
            await upstream.call_tool("grow", {"name": "sprout"})
            await changed.wait()
            after = {tool.name for tool in await upstream.tools()}
            tg.cancel_scope.cancel()
    assert "sprout" not in before
    assert after == before | {"sprout"}
