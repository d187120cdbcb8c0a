"""Prompts, resources and resource templates through the gateway, and list changes announced by upstreams.

Two SDK upstreams (alpha over stdio, beta over streamable HTTP) both have a ``review`` prompt, a ``notes://readme``
resource and a ``notes://{name}`` template; the gateway must keep them apart and route each back to its server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged
from mcp_harness import gateway_app, http_servers, mcp_client, serve, stdio_spec

from bifrostc.runtime.config import McpServer
from bifrostc.runtime.governance.keys import KeyContext, mcp_server_allowed, tool_allowed
from bifrostc.runtime.mcp import McpGateway

README_ALPHA = "bifrostc://alpha/notes://readme"
README_BETA = "bifrostc://beta/notes://readme"


@asynccontextmanager
async def two_servers(**gateway_kwargs: Any) -> AsyncIterator[str]:
    """alpha (stdio) and beta (streamable HTTP) behind a gateway; yields the gateway's /mcp/ URL."""
    with anyio.fail_after(30):
        async with serve(http_servers.streamable_http_app()) as beta_url:
            servers = (stdio_spec("alpha"), McpServer(name="beta", transport="http", url=f"{beta_url}/mcp"))
            gateway = McpGateway(servers, backoff_initial=30, **gateway_kwargs)
            async with serve(gateway_app(gateway)) as url:
                yield f"{url}/mcp/"


def _prompt_text(result: types.GetPromptResult) -> str:
    content = result.messages[0].content
    assert isinstance(content, types.TextContent)
    return content.text


def _resource_text(result: types.ReadResourceResult) -> tuple[str, str]:
    content = result.contents[0]
    assert isinstance(content, types.TextResourceContents)
    return content.uri, content.text


async def test_prompts_of_both_servers_are_listed_under_prefixed_names_and_get_reaches_the_owner():
    async with two_servers() as url, mcp_client(url) as client:
        names = {prompt.name for prompt in (await client.list_prompts()).prompts}
        alpha = await client.get_prompt("alpha__review", {"code": "x = 1"})
        beta = await client.get_prompt("beta__review", {"code": "y = 2"})
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("gamma__review", {"code": ""})
    assert names == {"alpha__review", "beta__review"}
    assert "alpha review: x = 1" in _prompt_text(alpha)
    assert "beta review: y = 2" in _prompt_text(beta)
    assert caught.value.code == types.INVALID_PARAMS


async def test_the_same_resource_uri_on_two_servers_gets_two_gateway_uris_that_read_back_from_their_server():
    async with two_servers() as url, mcp_client(url) as client:
        resources = {r.uri: r.name for r in (await client.list_resources()).resources}
        alpha = _resource_text(await client.read_resource(README_ALPHA))
        beta = _resource_text(await client.read_resource(README_BETA))
        with pytest.raises(MCPError) as raw:
            await client.read_resource("notes://readme")  # only gateway URIs are routable
    assert resources == {README_ALPHA: "alpha__readme", README_BETA: "beta__readme"}
    assert alpha == (README_ALPHA, "alpha readme")
    assert beta == (README_BETA, "beta readme")
    assert raw.value.code == types.INVALID_PARAMS


async def test_templates_are_prefixed_and_the_uris_they_expand_to_are_read_from_their_server():
    async with two_servers() as url, mcp_client(url) as client:
        templates = {t.name: t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        expanded = templates["beta__note"].replace("{name}", "todo")
        read = _resource_text(await client.read_resource(expanded))
    assert templates == {
        "alpha__note": "bifrostc://alpha/notes://{name}",
        "beta__note": "bifrostc://beta/notes://{name}",
    }
    assert read == ("bifrostc://beta/notes://todo", "beta note todo")


def _keys(headers: Any) -> KeyContext:
    key = headers.get("authorization", "").removeprefix("Bearer ")
    return KeyContext(key, allowed_mcp_tools=("alpha__echo",) if key == "key-alpha" else ())


async def test_a_key_sees_only_the_prompts_and_resources_of_servers_its_tool_grants_reach():
    grants = {"authenticate": _keys, "authorize_tool": tool_allowed, "authorize_server": mcp_server_allowed}
    async with two_servers(**grants) as url, mcp_client(url, key="key-alpha") as client:
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        resources = {r.uri for r in (await client.list_resources()).resources}
        templates = {t.name for t in (await client.list_resource_templates()).resource_templates}
        assert "alpha review" in _prompt_text(await client.get_prompt("alpha__review", {"code": ""}))
        assert _resource_text(await client.read_resource("bifrostc://alpha/notes://a"))[1] == "alpha note a"
        refused = []
        for attempt in (
            client.get_prompt("beta__review", {"code": ""}),
            client.read_resource(README_BETA),
            client.read_resource("bifrostc://beta/notes://a"),
        ):
            with pytest.raises(MCPError) as caught:
                await attempt
            refused.append(caught.value.code)
        async with mcp_client(url, key="key-all") as everything:
            all_prompts = {p.name for p in (await everything.list_prompts()).prompts}
    assert (prompts, resources, templates) == ({"alpha__review"}, {README_ALPHA}, {"alpha__note"})
    assert refused == [types.INVALID_PARAMS] * 3
    assert all_prompts == {"alpha__review", "beta__review"}


async def test_without_a_server_grant_callback_prompts_follow_the_servers_whose_tools_the_key_may_use():
    def authorize(key_context: Any, name: str) -> bool:
        return name.startswith("beta__")

    async with two_servers(authorize_tool=authorize) as url, mcp_client(url) as client:
        prompts = {p.name for p in (await client.list_prompts()).prompts}
    assert prompts == {"beta__review"}


async def test_prompts_and_resources_are_advertised_only_when_an_upstream_offers_them():
    with anyio.fail_after(30):
        async with serve(http_servers.tools_only_app()) as delta_url:
            spec = McpServer(name="delta", transport="http", url=f"{delta_url}/mcp")
            async with serve(gateway_app(McpGateway((spec,)))) as url:
                async with mcp_client(f"{url}/mcp/") as modern, mcp_client(f"{url}/mcp/", mode="legacy") as legacy:
                    bare = [modern.server_capabilities, legacy.server_capabilities]
                    tools = (await modern.list_tools()).tools
    async with two_servers() as url, mcp_client(url) as modern, mcp_client(url, mode="legacy") as legacy:
        full = [modern.server_capabilities, legacy.server_capabilities]
    assert [tool.name for tool in tools] == ["delta__noop"]
    assert all(caps.tools and caps.prompts is None and caps.resources is None for caps in bare)
    assert all(caps.prompts and caps.resources and not caps.resources.subscribe for caps in full)
    assert full[0].prompts and full[0].prompts.list_changed  # 2026-07-28: announced on subscriptions/listen


async def test_an_upstream_list_change_reaches_listen_streams_and_the_next_listing_despite_the_ttl():
    async with two_servers(listing_ttl=3600) as url, mcp_client(url) as client:
        before = {p.name for p in (await client.list_prompts()).prompts}
        resources_before = {r.uri for r in (await client.list_resources()).resources}
        async with client.listen(prompts_list_changed=True, resources_list_changed=True) as changes:
            await client.call_tool("beta__grow_prompt", {"name": "fresh"})
            first = await changes.__anext__()
            after = {p.name for p in (await client.list_prompts()).prompts}
            await client.call_tool("beta__add_note", {"name": "added"})
            second = await changes.__anext__()
            resources_after = {r.uri for r in (await client.list_resources()).resources}
    assert isinstance(first, PromptsListChanged) and isinstance(second, ResourcesListChanged)
    assert after == before | {"beta__fresh"}
    assert resources_after == resources_before | {"bifrostc://beta/notes://added"}
