"""The aggregate catalogs: every healthy upstream's tools, prompts, resources and resource templates, renamed.

Names follow ``<server>__<name>`` (naming.py), each kind in its own namespace; resource URIs become gateway URIs
(``bifrostc://<server>/<uri>``) and resource templates get the same prefix on their ``uri_template``. Catalogs
are built in configuration order, so names stay stable across calls. The per-server ``allow_tools``/``deny_tools``
lists filter tools only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
import mcp_types as types

from bifrostc.runtime.mcp.listings import Kind
from bifrostc.runtime.mcp.naming import gateway_uri, tool_allowed, unique_tool_name
from bifrostc.runtime.mcp.upstream import Upstream

ItemT = TypeVar("ItemT", types.Tool, types.Prompt, types.Resource, types.ResourceTemplate)


@dataclass(frozen=True, slots=True)
class CatalogEntry(Generic[ItemT]):
    upstream: Upstream
    original: str  # what the upstream knows it by: the tool or prompt name, the resource URI or template name
    item: ItemT  # the upstream definition, renamed for the gateway


async def _all(upstreams: Sequence[Upstream], kind: Kind) -> list[tuple[Any, ...]]:
    """Each upstream's listing, fetched concurrently (a refresh of one slow server must not serialise the rest)."""
    results: list[tuple[Any, ...]] = [()] * len(upstreams)

    async def fetch(index: int, upstream: Upstream) -> None:
        results[index] = await upstream.listing(kind)

    async with anyio.create_task_group() as tg:
        for index, upstream in enumerate(upstreams):
            tg.start_soon(fetch, index, upstream)
    return results


Rename = Callable[[Upstream, Any, str], tuple[str, str, Any]]  # (upstream, item, gateway name) -> (key, original, item)


async def _build(upstreams: Sequence[Upstream], kind: Kind, rename: Rename) -> dict[str, CatalogEntry[Any]]:
    catalog: dict[str, CatalogEntry[Any]] = {}
    taken: set[str] = set()
    for upstream, items in zip(upstreams, await _all(upstreams, kind), strict=True):
        for item in items:
            if kind == "tools" and not tool_allowed(item.name, upstream.spec.allow_tools, upstream.spec.deny_tools):
                continue
            name = unique_tool_name(upstream.name, item.name, taken)
            key, original, renamed = rename(upstream, item, name)
            if key in catalog:
                continue  # an upstream listing one URI twice: the first wins
            taken.add(name)
            catalog[key] = CatalogEntry(upstream, original, renamed)
    return catalog


def _by_name(_upstream: Upstream, item: Any, name: str) -> tuple[str, str, Any]:
    return name, item.name, item.model_copy(update={"name": name})


def _resource(upstream: Upstream, item: types.Resource, name: str) -> tuple[str, str, types.Resource]:
    uri = gateway_uri(upstream.name, item.uri)
    return uri, item.uri, item.model_copy(update={"name": name, "uri": uri})


def _template(upstream: Upstream, item: types.ResourceTemplate, name: str) -> tuple[str, str, types.ResourceTemplate]:
    template = gateway_uri(upstream.name, item.uri_template)
    return name, item.name, item.model_copy(update={"name": name, "uri_template": template})


async def build_catalog(upstreams: Sequence[Upstream]) -> dict[str, CatalogEntry[types.Tool]]:
    """Gateway tool name -> entry (tools the server's allow/deny lists filter out are left out)."""
    return await _build(upstreams, "tools", _by_name)


async def build_prompt_catalog(upstreams: Sequence[Upstream]) -> dict[str, CatalogEntry[types.Prompt]]:
    """Gateway prompt name -> entry."""
    return await _build(upstreams, "prompts", _by_name)


async def build_resource_catalog(upstreams: Sequence[Upstream]) -> dict[str, CatalogEntry[types.Resource]]:
    """Gateway resource URI -> entry."""
    return await _build(upstreams, "resources", _resource)


async def build_template_catalog(upstreams: Sequence[Upstream]) -> dict[str, CatalogEntry[types.ResourceTemplate]]:
    """Gateway template name -> entry."""
    return await _build(upstreams, "resource_templates", _template)
