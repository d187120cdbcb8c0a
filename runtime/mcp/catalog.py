"""The aggregate tool catalog: every allowed tool of every healthy upstream under a collision-free name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import mcp_types as types

from bifrostc.runtime.mcp.naming import tool_allowed, unique_tool_name
from bifrostc.runtime.mcp.upstream import Upstream


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    upstream: Upstream
    upstream_tool: str  # the name the upstream knows the tool by
    tool: types.Tool  # the upstream definition, renamed to the gateway name


async def _all_tools(upstreams: Sequence[Upstream]) -> list[tuple[types.Tool, ...]]:
    """Each upstream's tool list, fetched concurrently (a refresh of one slow server must not serialise the rest)."""
    results: list[tuple[types.Tool, ...]] = [()] * len(upstreams)

    async def fetch(index: int, upstream: Upstream) -> None:
        results[index] = await upstream.tools()

    async with anyio.create_task_group() as tg:
        for index, upstream in enumerate(upstreams):
            tg.start_soon(fetch, index, upstream)
    return results


async def build_catalog(upstreams: Sequence[Upstream]) -> dict[str, CatalogEntry]:
    """Gateway tool name -> entry, in configuration order so names are stable across calls."""
    catalog: dict[str, CatalogEntry] = {}
    taken: set[str] = set()
    for upstream, tools in zip(upstreams, await _all_tools(upstreams), strict=True):
        spec = upstream.spec
        for tool in tools:
            if not tool_allowed(tool.name, spec.allow_tools, spec.deny_tools):
                continue
            name = unique_tool_name(spec.name, tool.name, taken)
            taken.add(name)
            catalog[name] = CatalogEntry(upstream, tool.name, tool.model_copy(update={"name": name}))
    return catalog
