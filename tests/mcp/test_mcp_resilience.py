"""Upstream failures: the gateway reports them, keeps serving, and reconnects with backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import mcp_types as types
from mcp_harness import free_port, gateway_app, http_servers, mcp_client, serve, stdio_spec
from starlette.applications import Starlette
from starlette.routing import Route

from bifrostc.runtime.config import McpServer
from bifrostc.runtime.mcp import McpGateway


def _text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_a_crashed_stdio_upstream_fails_the_call_then_is_reconnected():
    gateway = McpGateway((stdio_spec("alpha"),), backoff_initial=0.01)
    with anyio.fail_after(30):
        async with serve(gateway_app(gateway)) as base, mcp_client(f"{base}/mcp/") as client:
            crashed = await client.call_tool("alpha__crash", {})
            await gateway.wait_connected("alpha")
            echoed = await client.call_tool("alpha__echo", {"text": "again"})
    assert crashed.is_error is True
    assert _text(echoed) == "alpha:again"
    assert gateway.health()["alpha"]["attempts"] == 2


async def test_an_upstream_that_is_down_at_start_is_picked_up_when_it_comes_back():
    port = free_port()
    spec = McpServer(name="beta", transport="http", url=f"http://127.0.0.1:{port}/mcp", timeout=5)
    gateway = McpGateway((spec,), backoff_initial=0.01, backoff_max=0.2)
    with anyio.fail_after(30):
        async with serve(gateway_app(gateway)) as base, mcp_client(f"{base}/mcp/") as client:
            before = (await client.list_tools()).tools
            assert gateway.health()["beta"]["connected"] is False
            async with serve(http_servers.streamable_http_app(), port=port):
                await gateway.wait_connected("beta")
                after = {tool.name for tool in (await client.list_tools()).tools}
    assert before == []
    assert "beta__echo" in after


async def test_a_misconfigured_upstream_reports_why():
    spec = McpServer(name="needs_env", transport="stdio", command=("true",), env=(("TOKEN", "MISSING_VAR"),))
    async with McpGateway((spec,), environ={}, backoff_initial=30).running() as gateway:
        health = gateway.health()["needs_env"]
    assert health["connected"] is False
    assert "MISSING_VAR" in health["last_error"]


async def test_the_endpoint_also_works_as_a_plain_route_without_trailing_slash():
    gateway = McpGateway((stdio_spec("alpha"),))
    route = Route("/mcp", endpoint=gateway.asgi_app(), methods=["GET", "POST", "DELETE"])

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with gateway.running():
            yield

    with anyio.fail_after(30):
        async with serve(Starlette(routes=[route], lifespan=lifespan)) as base, mcp_client(f"{base}/mcp") as client:
            result = await client.call_tool("alpha__add", {"a": 1, "b": 1})
    assert _text(result) == "2"
