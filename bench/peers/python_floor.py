"""The Python floor: what uvicorn (uvloop + httptools, as `bifrostc serve` runs it) and bifrostc's own upstream
client cost with no gateway logic at all. A raw ASGI app that forwards each request's body to the same path
upstream and relays the answer read by read: no routing, key, translation, log row or metrics.

Run: python bench/peers/python_floor.py PORT UPSTREAM_URL   (bench/peers.py starts it as the `python-floor` peer)
"""

from __future__ import annotations

import ssl
import sys
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from bifrostc.runtime.transport.h1 import Origin, Pool, Timeouts, raw_head

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host"}


def make_app(upstream: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    parts = urllib.parse.urlsplit(upstream)
    origin = Origin("http", parts.hostname or "127.0.0.1", parts.port or 80, None)
    host = f"{origin.host}:{origin.port}".encode()
    timeouts = Timeouts(5.0, 60.0, 5.0)
    pool = Pool("floor", 0, 60.0, ssl.create_default_context, [])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/health":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        headers += [(b"host", host), (b"content-length", str(len(body)).encode())]
        conn = await pool.acquire(origin, timeouts)
        conn.send([raw_head(scope["method"], scope["raw_path"], headers), body], timeouts.read)
        await conn.wait_head()
        out = [(k.lower(), v) for k, v in conn.headers if k.lower() not in HOP_BY_HOP]
        await send({"type": "http.response.start", "status": conn.status, "headers": out})
        while data := await conn.read_some():
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        pool.release(conn, conn.finish())

    return app


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(make_app(upstream), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                lifespan="off", access_log=False, log_level="warning")  # fmt: skip


if __name__ == "__main__":
    main()
