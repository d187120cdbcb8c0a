"""A real TCP fake upstream (aiohttp) that answers in any family's wire format with a scripted behaviour, so the
gateway's real pool (aiohttp fast path) meets real resets, refusals and malformed bodies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .refusals import refusal
from .wire import Family, Tokens, for_path

BEHAVIOURS = ("ok", "4xx", "429", "5xx", "529", "refused", "reset_before", "reset_after", "malformed")
STATUS = {"4xx": 400, "429": 429, "5xx": 500, "529": 529}
RETRY_AFTER = "7"  # above the test network's backoff_max: the gateway goes to the fallback at once


@dataclass
class Script:
    family: Family
    behaviour: str = "ok"
    tokens: Tokens | None = field(default_factory=Tokens)
    raw: tuple[int, str, bytes] | None = None  # (status, content type, body) answered as is, for odd replies
    hits: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # what the gateway sent, in order
    headers: list[dict[str, str]] = field(default_factory=list)
    refused: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # what the provider would refuse
    reply: dict[str, Any] | None = None  # a whole JSON reply (non-streaming) instead of the family's "hi"


SCRIPT = web.AppKey("script", Script)


async def _handle(request: web.Request) -> web.StreamResponse:
    script = request.app[SCRIPT]
    family = for_path(script.family, request.path)
    body = await request.json()
    script.hits.append(request.path)
    script.bodies.append(body)
    script.headers.append({k.lower(): v for k, v in request.headers.items()})
    stream = family.is_stream(request.path, body)
    behaviour = script.behaviour
    refused = refusal(script.family.name, request.path, request.query, request.headers, body)
    if refused is not None:  # the provider's documented status and message for a rule it enforces
        script.refused.append(refused)
        status, error = refused
        headers = {"content-type": "application/json", **family.error_headers(status)}
        return web.Response(status=status, body=json.dumps(error), headers=headers)
    if script.reply is not None and not stream:
        return web.Response(body=json.dumps(script.reply), headers={"content-type": "application/json"})
    if script.raw is not None:
        status, content_type, raw = script.raw
        return web.Response(status=status, body=raw, headers={"content-type": content_type})
    if behaviour == "overflow":
        body = json.dumps(family.error(400, family.overflow))
        return web.Response(
            status=400, body=body, headers={"content-type": "application/json", **family.error_headers(400)}
        )
    if behaviour in STATUS:
        status = STATUS[behaviour]
        headers = {"content-type": "application/json", **family.error_headers(status)}
        if status == 429:
            headers["retry-after"] = RETRY_AFTER
        return web.Response(status=status, body=json.dumps(family.error(status, f"scripted {status}")), headers=headers)
    content_type = family.stream_type if stream else "application/json"
    if behaviour == "malformed":
        if stream:
            return web.Response(body=family.corrupt_frame, headers={"content-type": content_type})
        return web.Response(body=b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
    response = web.StreamResponse(headers={"content-type": content_type})
    await response.prepare(request)
    frames = family.stream(script.tokens) if stream else [json.dumps(family.message(script.tokens)).encode()]
    if behaviour == "reset_before":
        return await _reset(request, response)
    if behaviour == "reset_after":
        first = frames[0] if stream else frames[0][: len(frames[0]) // 2]
        await response.write(first)
        await asyncio.sleep(0.05)  # the first event reaches the gateway before the connection breaks
        return await _reset(request, response)
    for frame in frames:
        await response.write(frame)
    await response.write_eof()
    return response


async def _reset(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.abort()
    return response


def closed_port() -> int:
    """A port nothing listens on (connect refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def fake_upstream(script: Script) -> AsyncIterator[str]:
    app = web.Application()
    app[SCRIPT] = script
    app.router.add_route("POST", "/{tail:.*}", _handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server: Any = site._server
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
