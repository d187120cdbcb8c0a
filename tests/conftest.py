"""Shared test helpers: a real uvicorn server on 127.0.0.1 for any ASGI app (random port), in the test's event
loop or in a thread of its own (when the test's loop is blocked, e.g. by a sync SDK or a subprocess)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import uvicorn

# Every `bifrostc serve` a test starts runs one process unless the test asks for more (`--workers N`): the
# spec's default (auto: one per core) would make each test's server a supervisor with N workers.
os.environ.setdefault("BIFROSTC_WORKERS", "1")


@contextlib.asynccontextmanager
async def running_server(app: Any, http: Any = "auto") -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1:<random port> inside the current loop; yields its base URL. `http`: uvicorn's
    protocol (a class, e.g. `bifrostc serve`'s `http_server.protocol_class(...)`, or a name)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", loop="asyncio", http=http
    )
    server = uvicorn.Server(config)
    # Signals belong to pytest, not to this embedded server.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # surface start-up errors
                raise RuntimeError("uvicorn exited during start-up")
            await asyncio.sleep(0.01)  # uvicorn exposes no start-up event to await
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)


@contextlib.contextmanager
def server_thread(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:<random port> from its own thread and loop; yields its base URL."""
    # A socket bound and listening before the server thread starts: clients can connect at once.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live_server() -> Callable[[Any], contextlib.AbstractAsyncContextManager[str]]:
    """`async with live_server(app) as base_url: ...`"""
    return running_server
