"""Issue 10 item 10: shutdown, a hung upstream and a slow or oversized client each cost a bounded time.

All against a real `bifrostc serve` process and a fake OpenAI upstream (its wire format) that can stall a stream
after its first chunk, or hang before sending any header.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.integration.serve_process import Served, serve_spec

SPEC = """\
version: 1
server: {{port: {{port}}, shutdown_grace_seconds: 1, header_timeout_seconds: 1}}
providers:
  stalling: {{type: openai, base_url: "{up}/stall/v1", api_key_env: UP_KEY, network: {{max_retries: 0}}}}
  hung:
    type: openai
    base_url: "{up}/hang/v1"
    api_key_env: UP_KEY
    network: {{first_byte_timeout: 1, max_retries: 1, backoff_initial: 0, backoff_max: 0}}
  good: {{type: openai, base_url: "{up}/good/v1", api_key_env: UP_KEY}}
models:
  stalls: {{target: stalling/gpt-4o}}
  hangs: {{target: hung/gpt-4o, fallbacks: [steady]}}
  steady: {{target: good/gpt-4o}}
observability: {{log_store: none}}
"""
ENV = {"UP_KEY": "sk-upstream-0123456789"}
CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}


def _frame(delta: dict[str, object], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    chunk = {**CHUNK, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        chunk = {**CHUNK, "choices": [], "usage": usage}
    return f"data: {json.dumps(chunk)}\n\n".encode()


def upstream(release: asyncio.Event) -> Starlette:
    async def stall(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield _frame({"role": "assistant", "content": "thinking about it"})
            await release.wait()  # the upstream goes silent for longer than any grace period

        return StreamingResponse(body(), media_type="text/event-stream")

    async def hang(request: Request) -> Response:
        await release.wait()  # accepted, never answers: no status line, no headers
        return JSONResponse({}, status_code=500)

    async def good(request: Request) -> Response:
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        frames = _frame({"role": "assistant", "content": "from the fallback"}) + _frame({}, "stop")
        return Response(frames + _frame({}, usage=usage) + b"data: [DONE]\n\n", media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/stall/v1/chat/completions", stall, methods=["POST"]),
            Route("/hang/v1/chat/completions", hang, methods=["POST"]),
            Route("/good/v1/chat/completions", good, methods=["POST"]),
        ]
    )


@pytest.fixture
async def served(live_server, tmp_path: Path) -> AsyncIterator[Served]:
    release = asyncio.Event()
    async with live_server(upstream(release)) as up:
        try:
            async with serve_spec(tmp_path, SPEC.format(up=up), ENV) as gateway:
                yield gateway
        finally:
            release.set()  # before the fake upstream's own shutdown waits for its hung handlers


def _anthropic_stream(model: str) -> dict[str, object]:
    return {"model": model, "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def _openai_stream(model: str) -> dict[str, object]:
    body: dict[str, object] = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    return {**body, "stream_options": {"include_usage": True}}  # same dialect: relayed by passthrough


async def test_sigterm_ends_stalled_streams_with_an_error_event_within_the_grace_period(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        paths = (
            ("/anthropic/v1/messages", _anthropic_stream("stalls")),
            ("/v1/chat/completions", _openai_stream("stalls")),
        )
        async with contextlib_stack(http, paths) as streams:
            readers = [stream.aiter_bytes() for stream in streams]
            for reader in readers:  # both streams are open and past their first delta
                seen = b""
                while b"thinking about it" not in seen:
                    seen += await anext(reader)
            served.terminate()
            started = time.monotonic()
            tails = [b"".join([chunk async for chunk in reader]) for reader in readers]
            waited = time.monotonic() - started
        exit_after = await served.wait_exit(10)
    assert waited < 4, f"streams held for {waited:.1f}s past SIGTERM (grace 1s)"
    assert exit_after < 5
    anthropic_tail, openai_tail = tails
    assert b"event: error" in anthropic_tail and b"overloaded_error" in anthropic_tail
    assert b"shutting down" in openai_tail and b'"error"' in openai_tail


class contextlib_stack:
    """Open several streamed POSTs at once and close them all on exit."""

    def __init__(self, http: httpx.AsyncClient, requests: tuple[tuple[str, dict[str, object]], ...]) -> None:
        self.http, self.requests = http, requests
        self.streams: list[httpx.Response] = []

    async def __aenter__(self) -> list[httpx.Response]:
        for path, body in self.requests:
            request = self.http.build_request("POST", path, json=body)
            response = await self.http.send(request, stream=True)
            assert response.status_code == 200
            self.streams.append(response)
        return self.streams

    async def __aexit__(self, *_exc: object) -> None:
        for stream in self.streams:
            await stream.aclose()


@pytest.mark.parametrize(
    ("path", "body"),
    [("/anthropic/v1/messages", _anthropic_stream("hangs")), ("/v1/chat/completions", _openai_stream("hangs"))],
)
async def test_an_upstream_hung_before_headers_falls_back_within_the_first_byte_timeout(
    served: Served, path, body
) -> None:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=served.url, timeout=20) as http:
        response = await http.post(path, json=body)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert b"from the fallback" in response.content
    assert elapsed < 6, f"fallback answered after {elapsed:.1f}s (2 attempts x first_byte_timeout 1s)"


def _raw_exchange(port: int, request: bytes, wait_s: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


async def test_oversized_or_too_many_headers_are_refused_with_431(served: Served) -> None:
    big = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
    many = (
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(10_000)) + b"\r\n"
    )
    for request in (big, many):
        answer = await asyncio.to_thread(_raw_exchange, served.port, request)
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    ok = await asyncio.to_thread(
        _raw_exchange, served.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert ok.startswith(b"HTTP/1.1 200")


async def test_slowloris_connections_are_dropped_after_the_header_timeout(served: Served) -> None:
    def trickle() -> tuple[bytes, float]:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        return received, time.monotonic() - started

    def silent() -> float:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
            while sock.recv(65536):  # a 408, then the close
                pass
        return time.monotonic() - started

    (answer, slow_s), silent_s = await asyncio.gather(asyncio.to_thread(trickle), asyncio.to_thread(silent))
    assert answer.startswith(b"HTTP/1.1 408") and slow_s < 3
    assert silent_s < 3
