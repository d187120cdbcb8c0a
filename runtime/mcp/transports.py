"""Open an SDK client transport for one configured upstream MCP server.

Secrets are never in the config: stdio child env vars and HTTP header values are copied from the gateway's own
environment by *name* when the connection is opened, so a rotated secret is picked up on reconnect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.client import Transport
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from bifrostc.runtime.config import McpServer

# Streams stay open between messages; this bounds silence on the SSE/GET stream, not a tool call.
STREAM_READ_TIMEOUT = 300.0


class UpstreamConfigError(ValueError):
    """The upstream cannot be opened as configured (unknown transport, missing env var, no URL)."""


def resolve_env_refs(pairs: tuple[tuple[str, str], ...], environ: Mapping[str, str]) -> dict[str, str]:
    """Map each ``(target, source_env_var)`` pair to ``{target: environ[source]}``."""
    missing = [source for _, source in pairs if source not in environ]
    if missing:
        raise UpstreamConfigError(f"environment variable(s) not set: {', '.join(sorted(missing))}")
    return {target: environ[source] for target, source in pairs}


def _require_url(spec: McpServer) -> str:
    if not spec.url:
        raise UpstreamConfigError(f"MCP server {spec.name!r} uses transport {spec.transport!r} but has no url")
    return spec.url


@asynccontextmanager
async def _streamable_http(url: str, headers: dict[str, str], timeout: float) -> AsyncIterator[tuple[Any, Any]]:
    client = create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(timeout, read=STREAM_READ_TIMEOUT))
    async with client, streamable_http_client(url, http_client=client) as streams:
        yield streams


def open_transport(spec: McpServer, environ: Mapping[str, str]) -> Transport:
    """The SDK transport context manager for ``spec``; entering it connects (or spawns the process).

    Raises:
        UpstreamConfigError: the spec cannot be turned into a transport.
    """
    if spec.transport == "stdio":
        if not spec.command:
            raise UpstreamConfigError(f"MCP server {spec.name!r} uses transport 'stdio' but has no command")
        params = StdioServerParameters(
            command=spec.command[0], args=list(spec.command[1:]), env=resolve_env_refs(spec.env, environ)
        )
        return stdio_client(params)
    if spec.transport == "http":
        return _streamable_http(_require_url(spec), resolve_env_refs(spec.headers, environ), spec.timeout)
    if spec.transport == "sse":
        headers = resolve_env_refs(spec.headers, environ)
        return sse_client(
            _require_url(spec), headers=headers, timeout=spec.timeout, sse_read_timeout=STREAM_READ_TIMEOUT
        )
    raise UpstreamConfigError(f"MCP server {spec.name!r}: unknown transport {spec.transport!r} (stdio | http | sse)")
