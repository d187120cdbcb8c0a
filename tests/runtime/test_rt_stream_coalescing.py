"""The events of one upstream read reach the client in one send (issue 15: a send per event cost more than the
event), translated or relayed, in order and whole; events that arrive apart are still sent as they arrive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from rt_fakes import Upstream, anthropic_text_stream, app_for, gateway, openai_text_stream, provider, sse_reply

from bifrostc.runtime.translate.sse import SSEDecoder

WORDS = [f" w{n}" for n in range(30)]


async def _call(app: Any, path: str, body: dict[str, Any]) -> list[bytes]:
    """The ASGI `http.response.body` messages of one request, in order."""
    raw = orjson.dumps(body)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "state": {},
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
    }  # fmt: skip
    sent = False
    bodies: list[bytes] = []
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await done.wait()
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200
        elif message["type"] == "http.response.body":
            if message.get("body"):
                bodies.append(message["body"])
            if not message.get("more_body"):
                done.set()

    async with asyncio.timeout(10):
        await app(scope, receive, send)
    return bodies


def _events(bodies: list[bytes]) -> list[tuple[str | None, Any]]:
    decoder = SSEDecoder()
    return [(e.event, orjson.loads(e.data)) for e in decoder.feed(b"".join(bodies)) if e.data != "[DONE]"]


def _text(events: list[tuple[str | None, Any]]) -> str:
    return "".join(d["delta"]["text"] for kind, d in events if kind == "content_block_delta")


async def test_a_translated_stream_read_at_once_goes_out_in_a_few_sends() -> None:
    gw = gateway([provider("up", "openai", key_env="UP_KEY")], {"m": [("up", "gpt-up")]})
    app = app_for(gw, Upstream().add("up.test", sse_reply(openai_text_stream(*WORDS))))
    body = {"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    bodies = await _call(app, "/anthropic/v1/messages", body)
    events = _events(bodies)
    assert _text(events) == "".join(WORDS)
    assert events[-1][0] == "message_stop"
    assert len(bodies) <= 3 < len(events)  # the first event (primed before the response), then the rest together


async def test_a_relayed_stream_read_at_once_goes_out_in_a_few_sends_byte_for_byte() -> None:
    gw = gateway([provider("claude", "anthropic", key_env="UP_KEY")], {"m": [("claude", "claude-up")]})
    upstream_body = anthropic_text_stream(*WORDS, model="claude-up")
    app = app_for(gw, Upstream().add("claude.test", sse_reply(upstream_body)))
    body = {"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    bodies = await _call(app, "/anthropic/v1/messages", body)
    assert _text(_events(bodies)) == "".join(WORDS)
    assert b"".join(bodies).count(b"event: ") == upstream_body.count(b"event: ")
    assert len(bodies) <= 3


async def test_events_that_arrive_apart_are_sent_apart() -> None:
    frames = [f + b"\n\n" for f in openai_text_stream(*WORDS[:5]).split(b"\n\n") if f]

    async def paced() -> AsyncIterator[bytes]:
        for frame in frames:
            yield frame
            await asyncio.sleep(0)  # each frame its own upstream read

    gw = gateway([provider("up", "openai", key_env="UP_KEY")], {"m": [("up", "gpt-up")]})
    app = app_for(gw, Upstream().add("up.test", sse_reply(paced())))
    body = {"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    bodies = await _call(app, "/anthropic/v1/messages", body)
    assert _text(_events(bodies)) == "".join(WORDS[:5])
    assert _events(bodies)[-1][0] == "message_stop"
