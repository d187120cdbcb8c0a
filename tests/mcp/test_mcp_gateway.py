"""End to end: SDK upstreams (stdio, streamable HTTP, SSE) -> McpGateway under uvicorn -> the SDK's own client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError
from mcp_harness import gateway_app, http_servers, mcp_client, serve, stdio_spec

from bifrostc.runtime.config import McpServer
from bifrostc.runtime.errors import AuthenticationFailed
from bifrostc.runtime.mcp import McpGateway

ENV = {"ALPHA_SECRET": "s3cret-alpha", "BETA_TOKEN": "tok-beta"}


@dataclass
class Stack:
    gateway: McpGateway
    url: str


@asynccontextmanager
async def full_stack(**gateway_kwargs: Any) -> AsyncIterator[Stack]:
    """Three upstreams (one per transport) plus one unreachable, behind a gateway served at <url>/mcp/."""
    with anyio.fail_after(30):
        async with (
            serve(http_servers.streamable_http_app()) as beta_url,
            serve(http_servers.sse_app()) as gamma_url,
        ):
            servers = (
                stdio_spec("alpha", env=(("CHILD_SECRET", "ALPHA_SECRET"),)),
                McpServer(
                    name="beta",
                    transport="http",
                    url=f"{beta_url}/mcp",
                    headers=(("x-upstream-token", "BETA_TOKEN"),),
                    deny_tools=("admin_*",),
                ),
                McpServer(name="gamma", transport="sse", url=f"{gamma_url}/sse"),
                McpServer(name="down", transport="http", url="http://127.0.0.1:9/mcp", timeout=2),
            )
            gateway = McpGateway(servers, environ=ENV, backoff_initial=30, **gateway_kwargs)
            async with serve(gateway_app(gateway)) as url:
                yield Stack(gateway, f"{url}/mcp/")


def _text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def _tool_names(url: str, key: str | None = None) -> set[str]:
    async with mcp_client(url, key=key) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


async def test_tools_of_every_transport_are_listed_under_server_prefixed_names():
    async with full_stack() as stack:
        names = await _tool_names(stack.url)
    assert names == {
        "alpha__echo",
        "alpha__add",
        "alpha__env_value",
        "alpha__explode",
        "alpha__crash",
        "beta__echo",
        "beta__whoami",
        "beta__grow",
        "beta__grow_prompt",
        "beta__add_note",
        "gamma__ping",
    }


async def test_calls_reach_the_right_upstream_and_same_named_tools_do_not_collide():
    async with full_stack() as stack, mcp_client(stack.url) as client:
        assert _text(await client.call_tool("alpha__echo", {"text": "hi"})) == "alpha:hi"
        assert _text(await client.call_tool("beta__echo", {"text": "hi"})) == "beta:hi"
        assert _text(await client.call_tool("gamma__ping", {})) == "pong"
        added = await client.call_tool("alpha__add", {"a": 2, "b": 3})
        assert _text(added) == "5"
        assert added.structured_content == {"result": 5}


async def test_secrets_reach_upstreams_from_named_environment_variables():
    async with full_stack() as stack, mcp_client(stack.url) as client:
        assert _text(await client.call_tool("alpha__env_value", {"name": "CHILD_SECRET"})) == "s3cret-alpha"
        assert _text(await client.call_tool("beta__whoami", {})) == "tok-beta"


async def test_tool_errors_are_relayed_as_is_error_results():
    async with full_stack() as stack, mcp_client(stack.url) as client:
        result = await client.call_tool("alpha__explode", {})
    assert result.is_error is True
    assert "kaboom" in _text(result)


async def test_denied_tools_are_neither_listed_nor_callable():
    async with full_stack() as stack, mcp_client(stack.url) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("beta__admin_delete", {})
    assert caught.value.code == types.INVALID_PARAMS


async def test_unreachable_upstream_is_reported_unhealthy_while_the_rest_are_served():
    async with full_stack() as stack:
        names = await _tool_names(stack.url)  # answered only once the gateway's lifespan has started it
        health = stack.gateway.health()
    assert health["down"]["connected"] is False
    assert health["down"]["last_error"]
    assert health["alpha"] == {
        "transport": "stdio",
        "connected": True,
        "tools": 5,
        "last_error": None,
        "attempts": 1,
    }
    assert health["beta"]["connected"] and health["gamma"]["connected"]
    assert "gamma__ping" in names and not any(name.startswith("down__") for name in names)


def _authenticate(headers: Any) -> str:
    key = headers.get("authorization", "").removeprefix("Bearer ")
    if key not in {"key-alpha", "key-all"}:
        raise AuthenticationFailed("unknown virtual key")
    return key


def _authorize(key_context: Any, tool_name: str) -> bool:
    return key_context == "key-all" or tool_name.startswith("alpha__")


async def test_two_keys_see_different_tool_sets_and_hidden_tools_are_refused():
    async with full_stack(authenticate=_authenticate, authorize_tool=_authorize) as stack:
        limited = await _tool_names(stack.url, key="key-alpha")
        everything = await _tool_names(stack.url, key="key-all")
        async with mcp_client(stack.url, key="key-alpha") as client:
            assert _text(await client.call_tool("alpha__echo", {"text": "x"})) == "alpha:x"
            with pytest.raises(MCPError) as caught:
                await client.call_tool("beta__echo", {"text": "x"})
    assert limited == {"alpha__echo", "alpha__add", "alpha__env_value", "alpha__explode", "alpha__crash"}
    assert everything > limited and "gamma__ping" in everything
    assert caught.value.code == types.INVALID_PARAMS


async def test_unknown_keys_are_refused_with_401():
    async with full_stack(authenticate=_authenticate, authorize_tool=_authorize) as stack:
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer nope"}) as http:
            response = await http.post(stack.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
