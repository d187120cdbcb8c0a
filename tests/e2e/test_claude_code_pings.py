"""Real Claude Code through a long upstream silence: the gateway's pings keep its idle watchdog quiet.

The OpenAI-shaped upstream sends its first chunk at once and then nothing for SILENCE_S before the first token (a
reasoning model thinking). Claude Code's stream watchdog is set to WATCHDOG_S, shorter than the silence and longer
than the gateway's default ping interval (15 s), so the run completes only because `event: ping` frames reached
it: the test sees them on the wire and sees one main request upstream (no retry after a watchdog abort). The
control run, with pings slower than the silence, shows the watchdog really is armed.

Slow on purpose (the real 15 s interval, a 40 s silence): `-m 'not slow'` leaves it out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from test_claude_code import (
    FINAL_TEXT,
    MARKER_PROMPT,
    TIERS,
    _text_reply,
    _tool_reply,
    claude_binary,
    headless_env,
    run_claude,
)

from bifrostc.runtime.app import create_app
from tests.runtime.rt_fakes import gateway, provider

pytestmark = [pytest.mark.claude_cli, pytest.mark.slow]
SILENCE_S = 40.0
WATCHDOG_MS = "20000"  # Claude Code's byte and event idle watchdogs (10 s is the least it accepts)
PING = b'event: ping\ndata: {"type": "ping"}\n\n'


class WireTap:
    """The bytes the gateway sent on /anthropic/v1/messages, as the client received them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.wire = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/anthropic/v1/messages"):
            await self.app(scope, receive, send)
            return

        async def tapped(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.wire += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, tapped)


def thinking_upstream(main_requests: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        messages = json.dumps(body.get("messages", []))
        stream = bool(body.get("stream"))
        if MARKER_PROMPT not in messages:
            return _text_reply("OK", stream)  # side requests: titles, topics
        if any(m.get("role") == "tool" for m in body.get("messages", [])):
            return _text_reply(FINAL_TEXT, stream)
        main_requests.append(body)
        first, rest = bytes(_tool_reply(stream, parallel=False).body).split(b"\n\n", 1)

        async def thinks() -> AsyncIterator[bytes]:
            yield first + b"\n\n"
            await asyncio.sleep(SILENCE_S)  # thinking: not a byte until the first token
            yield rest

        return StreamingResponse(thinks(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def _run(
    live_server: Any, tmp_path: pathlib.Path, ping_seconds: float | None
) -> tuple[dict[str, Any], bytes, int, pathlib.Path]:
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    main_requests: list[dict[str, Any]] = []
    async with live_server(thinking_upstream(main_requests)) as upstream_url:
        up = provider("fake", "openai", base_url=f"{upstream_url}/v1", key_env="UP_KEY")
        gw = gateway([up], {"fake-model": [("fake", "gpt-fake")]}, tiers=dict.fromkeys(TIERS, "fake-model"))
        if ping_seconds is not None:
            gw = dataclasses.replace(gw, server=dataclasses.replace(gw.server, stream_ping_seconds=ping_seconds))
        tap = WireTap(create_app(gw, environ={"UP_KEY": "sk-fake"}))
        async with live_server(tap) as gateway_url:
            env = headless_env(
                home,
                gateway_url,
                "fake-model",
                CLAUDE_ENABLE_BYTE_WATCHDOG="1",
                CLAUDE_ENABLE_STREAM_WATCHDOG="1",
                CLAUDE_BYTE_STREAM_IDLE_TIMEOUT_MS=WATCHDOG_MS,
                CLAUDE_STREAM_IDLE_TIMEOUT_MS=WATCHDOG_MS,
                CLAUDE_CODE_MAX_RETRIES="0",
            )
            _returncode, stdout, stderr = await run_claude(binary, env, work, "--model", "sonnet")
    result = json.loads(stdout) if stdout.strip() else {"stderr": stderr.decode()[-2000:]}
    return result, tap.wire, len(main_requests), work


async def test_claude_code_survives_a_40_s_silence_on_the_default_pings(
    live_server: Any, tmp_path: pathlib.Path
) -> None:
    result, wire, main_requests, work = await _run(live_server, tmp_path, ping_seconds=None)  # the 15 s default
    assert result.get("is_error") is False, result
    assert FINAL_TEXT in result["result"]
    assert (work / "marker.txt").read_text().strip() == "hi"  # the tool call after the silence ran
    assert wire.count(PING) >= 2  # 40 s of silence at one ping per 15 s
    assert main_requests == 1  # no watchdog abort and retry


async def test_without_pings_the_same_silence_trips_claude_codes_watchdog(
    live_server: Any, tmp_path: pathlib.Path
) -> None:
    result, wire, _main, work = await _run(live_server, tmp_path, ping_seconds=60)  # slower than the silence
    assert result.get("is_error") is True, result
    assert "idle" in json.dumps(result).lower(), result
    assert PING not in wire
    assert not (work / "marker.txt").exists()
