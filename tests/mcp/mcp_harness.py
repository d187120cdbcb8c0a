"""Serve ASGI apps with uvicorn on 127.0.0.1 inside the test's own task, and connect SDK clients to them."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import ModuleType

import httpx2
import uvicorn
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from bifrostc.runtime.config import McpServer
from bifrostc.runtime.mcp import McpGateway

SERVERS = Path(__file__).parent / "servers"
STDIO_SERVER = SERVERS / "stdio_server.py"


def _load_http_servers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bifrostc_test_mcp_http_servers", SERVERS / "http_servers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


http_servers = _load_http_servers()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bound_socket(port: int) -> socket.socket:
    # Bound and listening before uvicorn starts: clients can connect at once (the backlog holds them).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


@asynccontextmanager
async def serve(app: ASGIApp, port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 (a free port unless given); yields its base URL."""
    sock = _bound_socket(port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def stdio_spec(name: str = "alpha", **overrides: object) -> McpServer:
    return McpServer(name=name, transport="stdio", command=(sys.executable, str(STDIO_SERVER)), **overrides)  # type: ignore[arg-type]


def gateway_app(gateway: McpGateway) -> Starlette:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with gateway.running():
            yield

    return Starlette(routes=[Mount("/mcp", app=gateway.asgi_app())], lifespan=lifespan)


@asynccontextmanager
async def mcp_client(url: str, *, key: str | None = None, mode: str = "auto") -> AsyncIterator[Client]:
    """The SDK's own client on ``url``, presenting ``key`` as a bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=10))
        client = Client(streamable_http_client(url, http_client=http), mode=mode, cache=None)
        yield await stack.enter_async_context(client)
