"""MCP gateway: upstream MCP servers aggregated behind one streamable-HTTP endpoint (thin layer over the `mcp` SDK).

Public names load lazily (module ``__getattr__``): the MCP SDK costs ~0.5 s and ~35 MB to import, so it is
loaded only when a spec has ``mcp_servers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bifrostc.runtime.lazy import lazy_exports

if TYPE_CHECKING:
    from bifrostc.runtime.mcp.gateway import McpGateway
    from bifrostc.runtime.mcp.naming import gateway_tool_name

_EXPORTS: dict[str, str] = {
    "McpGateway": "bifrostc.runtime.mcp.gateway",
    "gateway_tool_name": "bifrostc.runtime.mcp.naming",
}

__all__ = [
    "McpGateway",
    "gateway_tool_name",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
