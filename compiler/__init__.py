"""bifrostc compiler: gateway.yaml -> a generated routing module, env.sh and MCP config."""

__version__ = "0.1.0"
