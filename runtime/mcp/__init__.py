"""MCP gateway: upstream MCP servers aggregated behind one streamable-HTTP endpoint (thin layer over the `mcp` SDK).

Public names load lazily (module ``__getattr__``): the MCP SDK costs ~0.5 s and ~35 MB to import, so it is
loaded only when a spec has ``mcp_servers``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use, so importing one submodule does not import them all."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
