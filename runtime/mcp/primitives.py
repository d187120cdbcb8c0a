"""Prompts and resources through the gateway: aggregated listings, and get/read forwarded to the owning upstream.

Resource URIs are always rewritten to ``bifrostc://<server>/<upstream uri>`` (naming.py): clients pass URIs back
verbatim, two servers may list the same URI, and a rewritten URI stays valid whichever servers are up. Resource
templates get the same prefix, so whatever a client expands one to is a gateway URI too; a read strips the
prefix, and the upstream gets exactly the URI its own template would have produced. The contents of a read carry
gateway URIs as well. Hidden and unknown prompts and resources get the same error, so a key cannot probe for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from bifrostc.runtime.mcp.access import Access
from bifrostc.runtime.mcp.catalog import (
    build_prompt_catalog,
    build_resource_catalog,
    build_template_catalog,
)
from bifrostc.runtime.mcp.naming import gateway_uri, split_gateway_uri
from bifrostc.runtime.mcp.upstream import Upstream, UpstreamUnavailable

Ctx = ServerRequestContext[Any]


class PromptsAndResources:
    """The ``prompts/*`` and ``resources/*`` request handlers of the gateway's low-level server."""

    def __init__(self, upstreams: Sequence[Upstream], access: Access) -> None:
        self._upstreams = upstreams
        self._by_name = {upstream.name: upstream for upstream in upstreams}
        self._access = access

    async def _visible(self, ctx: Ctx, build_catalog: Callable[[Sequence[Upstream]], Awaitable[Any]]) -> list[Any]:
        """The items of one aggregated catalog this caller's key may see."""
        key = self._access.key(ctx)
        granted = await self._access.servers_granted(key)
        catalog = await build_catalog(self._upstreams)
        return [entry.item for entry in catalog.values() if self._access.visible(key, granted, entry)]

    async def list_prompts(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        prompts = await self._visible(ctx, build_prompt_catalog)
        # Private and immediately stale: the listing depends on the caller's key and on upstream health.
        return types.ListPromptsResult(prompts=prompts, ttl_ms=0, cache_scope="private")

    async def get_prompt(self, ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        key = self._access.key(ctx)
        entry = (await build_prompt_catalog(self._upstreams)).get(params.name)
        if entry is None or not self._access.visible(key, await self._access.servers_granted(key), entry):
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")
        try:
            return await entry.upstream.get_prompt(entry.original, params.arguments)
        except UpstreamUnavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from exc

    async def list_resources(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        resources = await self._visible(ctx, build_resource_catalog)
        return types.ListResourcesResult(resources=resources, ttl_ms=0, cache_scope="private")

    async def list_resource_templates(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        templates = await self._visible(ctx, build_template_catalog)
        return types.ListResourceTemplatesResult(resource_templates=templates, ttl_ms=0, cache_scope="private")

    async def read_resource(self, ctx: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        key = self._access.key(ctx)
        split = split_gateway_uri(params.uri)
        upstream = self._by_name.get(split[0]) if split else None
        if split is None or upstream is None or not await self._may_read(key, upstream, params.uri):
            # As the SDK's own servers answer an unknown resource.
            raise MCPError(types.INVALID_PARAMS, f"Unknown resource: {params.uri}", data={"uri": params.uri})
        try:
            result = await upstream.read_resource(split[1])
        except UpstreamUnavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from exc
        contents = [item.model_copy(update={"uri": gateway_uri(upstream.name, item.uri)}) for item in result.contents]
        return result.model_copy(update={"contents": contents})

    async def _may_read(self, key: object, upstream: Upstream, uri: str) -> bool:
        """Any URI of a granted server (templates expand to unlisted ones), else only a listed, visible resource."""
        granted = await self._access.servers_granted(key)
        if granted is None or upstream.name in granted:
            return True
        entry = (await build_resource_catalog(self._upstreams)).get(uri)
        return entry is not None and self._access.visible(key, granted, entry)
