"""MCP gateway: upstream MCP servers aggregated behind one streamable-HTTP endpoint (thin layer over the `mcp` SDK)."""

from bifrostc.runtime.mcp.gateway import McpGateway
from bifrostc.runtime.mcp.naming import gateway_tool_name

__all__ = ["McpGateway", "gateway_tool_name"]
