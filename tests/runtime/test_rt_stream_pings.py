"""Keep-alives during upstream silences, at the HTTP surface of a real uvicorn gateway (and what still holds during
one: a client leaving closes the upstream and logs 499; shutdown ends the stream with the error event).

Each upstream sends its first event, then says nothing until the test has seen a keep-alive on the client's
wire (an `asyncio.Event`, so no test waits on a clock): an Anthropic-dialect client gets `event: ping`, an
OpenAI-dialect client (chat or responses) an SSE comment, whether its stream is translated or relayed byte for
byte. The stream then completes as usual, and the keep-alives never land inside a frame.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from rt_fakes import (
    Upstream,
    anthropic_text_stream,
    gateway,
    openai_text_stream,
    provider,
    sse_reply,
)

from bifrostc.runtime.app import create_app
from bifrostc.runtime.context import Hooks, LogRecord
from bifrostc.runtime.dispatch import OPEN_STREAMS
from bifrostc.runtime.http_server import protocol_class
from bifrostc.runtime.translate.sse import SSEDecoder

WAIT_S = 10.0  # a guard against a hang only
ANTHROPIC_PING = b'event: ping\ndata: {"type": "ping"}\n\n'
COMMENT_PING = b": ping\n\n"
PING_SECONDS = 0.05


def _silent_after_first_frame(body: bytes, resume: asyncio.Event) -> AsyncIterator[bytes]:
    first, rest = body.split(b"\n\n", 1)

    async def frames() -> AsyncIterator[bytes]:
        yield first + b"\n\n"
        await asyncio.wait_for(resume.wait(), WAIT_S)  # the upstream "thinks" until the client saw a ping
        yield rest

    return frames()


def _gateway(upstream_type: str) -> Any:
    gw = gateway([provider("up", upstream_type, key_env="UP_KEY")], {"m": [("up", "up-model")]})
    return dataclasses.replace(gw, server=dataclasses.replace(gw.server, stream_ping_seconds=PING_SECONDS))


REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "anthropic": ("/anthropic/v1/messages", {"model": "m", "max_tokens": 64, "stream": True}),
    "chat": ("/v1/chat/completions", {"model": "m", "stream": True, "stream_options": {"include_usage": True}}),
    "responses": ("/v1/responses", {"model": "m", "stream": True, "input": "hi"}),
}
UPSTREAM_BODIES = {"anthropic": anthropic_text_stream("Hello", " there"), "openai": openai_text_stream("Hello", "!")}
CASES = [  # (client dialect, upstream family, the keep-alive frame, the frame that ends the stream)
    ("anthropic", "openai", ANTHROPIC_PING, b"event: message_stop"),  # translated
    ("anthropic", "anthropic", ANTHROPIC_PING, b"event: message_stop"),  # passthrough
    ("chat", "openai", COMMENT_PING, b"data: [DONE]"),  # passthrough
    ("chat", "anthropic", COMMENT_PING, b"data: [DONE]"),  # translated
    ("responses", "openai", COMMENT_PING, b"event: response.completed"),  # translated
]


async def _read_until_ping(response: httpx.Response, ping: bytes, resume: asyncio.Event) -> bytes:
    wire = b""
    async for chunk in response.aiter_raw():
        wire += chunk
        if ping in wire:
            resume.set()
    return wire


@pytest.mark.parametrize(("client", "family", "ping", "end"), CASES, ids=[f"{c}<-{f}" for c, f, *_ in CASES])
async def test_a_silent_upstream_gets_the_client_keepalives_until_it_speaks(
    live_server: Any, client: str, family: str, ping: bytes, end: bytes
) -> None:
    resume = asyncio.Event()
    upstream = Upstream(
        default={"up.test": lambda _r: sse_reply(_silent_after_first_frame(UPSTREAM_BODIES[family], resume))}
    )
    app = create_app(_gateway(family), transport=upstream.transport(), environ={"UP_KEY": "sk-test"})
    path, body = REQUESTS[client]
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
        body = body | ({"messages": [{"role": "user", "content": "hi"}]} if client != "responses" else {})
        async with http.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            wire = await asyncio.wait_for(_read_until_ping(response, ping, resume), WAIT_S)
    assert wire.count(ping) >= 1
    assert end in wire
    # Every frame is whole: the pings sit between events, and the events still parse as before.
    frames = SSEDecoder().feed(wire)
    assert all(orjson.loads(f.data) == {"type": "ping"} for f in frames if f.event == "ping")
    payloads = [f.data for f in frames if f.data and f.data != "[DONE]"]
    assert all(isinstance(orjson.loads(p), dict) for p in payloads)
    assert wire.index(ping) < wire.index(end)  # no keep-alive after the terminal frame


async def test_no_keepalive_follows_the_terminal_frame(live_server: Any) -> None:
    """An upstream that keeps the connection open after message_stop: the client gets nothing more."""
    done = asyncio.Event()

    async def frames() -> AsyncIterator[bytes]:
        yield anthropic_text_stream("Hello")
        await asyncio.sleep(PING_SECONDS * 6)  # several ping intervals of silence after the end
        done.set()

    upstream = Upstream(default={"up.test": lambda _r: sse_reply(frames())})
    app = create_app(_gateway("anthropic"), transport=upstream.transport(), environ={"UP_KEY": "sk-test"})
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
        request = REQUESTS["anthropic"][1] | {"messages": [{"role": "user", "content": "hi"}]}
        async with http.stream("POST", "/anthropic/v1/messages", json=request) as response:
            wire = b"".join([chunk async for chunk in response.aiter_raw()])
    assert done.is_set()
    assert wire.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert wire.count(b"event: ping") == 1  # the upstream's own ping, relayed; none of ours


class Logged(Hooks):
    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.logged = asyncio.Event()

    async def on_log(self, record: LogRecord) -> None:
        self.records.append(record)
        self.logged.set()


def _silent_forever(closed: asyncio.Event) -> AsyncIterator[bytes]:
    async def frames() -> AsyncIterator[bytes]:
        try:
            yield openai_text_stream("never").split(b"\n\n", 1)[0] + b"\n\n"
            await asyncio.Event().wait()  # thinks until the gateway lets go
        finally:
            closed.set()

    return frames()


# A client's leaving reaches the stream from uvicorn's receive() (a watcher task), or from `bifrostc serve`'s own
# protocol, which calls back when the connection is lost (runtime/disconnect.py): both servers, the same outcome.
SERVERS = {"uvicorn": "auto", "serve": protocol_class(10.0)}


@pytest.mark.parametrize("server", SERVERS)
async def test_a_client_leaving_during_a_silence_closes_the_upstream_and_logs_a_499(
    live_server: Any, server: str
) -> None:
    closed, hooks = asyncio.Event(), Logged()
    upstream = Upstream(default={"up.test": lambda _r: sse_reply(_silent_forever(closed))})
    app = create_app(_gateway("openai"), transport=upstream.transport(), environ={"UP_KEY": "sk-test"}, hooks=hooks)
    path, body = REQUESTS["anthropic"]
    served = live_server(app, SERVERS[server])
    async with served as url, httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
        async with http.stream("POST", path, json=body | {"messages": [{"role": "user", "content": "hi"}]}) as response:
            async for chunk in response.aiter_raw():
                if ANTHROPIC_PING in chunk:
                    break  # the client goes away while the upstream is silent
        await asyncio.wait_for(closed.wait(), WAIT_S)
        await asyncio.wait_for(hooks.logged.wait(), WAIT_S)
    assert [r.context.status for r in hooks.records] == [499]


async def test_shutdown_during_a_silence_ends_the_stream_with_the_dialects_error_event(live_server: Any) -> None:
    closed = asyncio.Event()
    upstream = Upstream(default={"up.test": lambda _r: sse_reply(_silent_forever(closed))})
    app = create_app(_gateway("openai"), transport=upstream.transport(), environ={"UP_KEY": "sk-test"})
    path, body = REQUESTS["chat"]
    wire = b""
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
        async with http.stream("POST", path, json=body | {"messages": [{"role": "user", "content": "hi"}]}) as response:
            async for chunk in response.aiter_raw():
                wire += chunk
                if COMMENT_PING in chunk and not closed.is_set():
                    assert OPEN_STREAMS.abort_all() == 1
        await asyncio.wait_for(closed.wait(), WAIT_S)
    error = orjson.loads(wire.rsplit(b"data: ", 1)[1].split(b"\n\n", 1)[0])
    assert "shutting down" in error["error"]["message"]


# --- an upstream slower than one keep-alive interval to answer at all ---------------------------------------
def _answers_late(body: bytes, resume: asyncio.Event, closed: asyncio.Event, status: int = 200) -> Any:
    async def reply(_request: httpx.Request) -> httpx.Response:
        try:
            await asyncio.wait_for(resume.wait(), WAIT_S)  # no headers until the client saw a keep-alive
        finally:
            closed.set()
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "upstream broke", "type": "server_error"}})
        return sse_reply(body)

    return reply


LATE_CASES = [(c, f, p, e) for c, f, p, e in CASES if f == "openai"]


@pytest.mark.parametrize(("client", "family", "ping", "end"), LATE_CASES, ids=[f"{c}<-{f}" for c, f, *_ in LATE_CASES])
async def test_an_upstream_slow_to_answer_is_waited_for_behind_keepalives(
    live_server: Any, client: str, family: str, ping: bytes, end: bytes
) -> None:
    resume, closed, hooks = asyncio.Event(), asyncio.Event(), Logged()
    upstream = Upstream(default={"up.test": _answers_late(UPSTREAM_BODIES[family], resume, closed)})
    app = create_app(_gateway(family), transport=upstream.transport(), environ={"UP_KEY": "sk-test"}, hooks=hooks)
    path, body = REQUESTS[client]
    body = body | ({"messages": [{"role": "user", "content": "hi"}]} if client != "responses" else {})
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
        async with http.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            wire = await asyncio.wait_for(_read_until_ping(response, ping, resume), WAIT_S)
        await asyncio.wait_for(hooks.logged.wait(), WAIT_S)
    assert wire.startswith(ping) and end in wire  # keep-alives first, then the whole stream
    [record] = hooks.records
    assert record.context.status == 200 and record.context.provider == "up"
    assert record.context.usage is not None and record.context.usage.output_tokens == 3


ERROR_FRAMES = {"anthropic": b"event: error", "chat": b'"error"', "responses": b"event: response.failed"}


@pytest.mark.parametrize("client", ["anthropic", "chat", "responses"])
async def test_an_upstream_failing_after_the_first_keepalive_ends_the_stream_with_an_error_event(
    live_server: Any, client: str
) -> None:
    resume, closed, hooks = asyncio.Event(), asyncio.Event(), Logged()
    gw = gateway([provider("up", "openai", key_env="UP_KEY", max_retries=0)], {"m": [("up", "up-model")]})
    gw = dataclasses.replace(gw, server=dataclasses.replace(gw.server, stream_ping_seconds=PING_SECONDS))
    upstream = Upstream(default={"up.test": _answers_late(b"", resume, closed, status=500)})
    app = create_app(gw, transport=upstream.transport(), environ={"UP_KEY": "sk-test"}, hooks=hooks)
    path, body = REQUESTS[client]
    body = body | ({"messages": [{"role": "user", "content": "hi"}]} if client != "responses" else {})
    ping = ANTHROPIC_PING if client == "anthropic" else COMMENT_PING
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
        async with http.stream("POST", path, json=body) as response:
            assert response.status_code == 200  # committed before the upstream said anything
            wire = await asyncio.wait_for(_read_until_ping(response, ping, resume), WAIT_S)
        await asyncio.wait_for(hooks.logged.wait(), WAIT_S)
    assert ERROR_FRAMES[client] in wire and b"upstream broke" in wire
    [record] = hooks.records
    assert record.context.status == 500 and record.context.usage is None  # nothing served, nothing billed


@pytest.mark.parametrize("server", SERVERS)
async def test_a_client_leaving_before_the_upstream_answered_cancels_the_dispatch(
    live_server: Any, server: str
) -> None:
    resume, closed, hooks = asyncio.Event(), asyncio.Event(), Logged()
    upstream = Upstream(default={"up.test": _answers_late(UPSTREAM_BODIES["openai"], resume, closed)})
    app = create_app(_gateway("openai"), transport=upstream.transport(), environ={"UP_KEY": "sk-test"}, hooks=hooks)
    path, body = REQUESTS["anthropic"]
    served = live_server(app, SERVERS[server])
    async with served as url, httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
        async with http.stream("POST", path, json=body | {"messages": [{"role": "user", "content": "hi"}]}) as response:
            async for chunk in response.aiter_raw():
                if ANTHROPIC_PING in chunk:
                    break  # gone before the upstream sent a header
        await asyncio.wait_for(closed.wait(), WAIT_S)
        await asyncio.wait_for(hooks.logged.wait(), WAIT_S)
    assert not resume.is_set()  # the upstream's wait was cancelled, not answered
    [record] = hooks.records
    assert record.context.status == 499 and record.context.usage is None


# --- the official SDKs read through keep-alives, early and late ---------------------------------------------
def _pauses(body: bytes, *, before_headers: bool) -> Any:
    """Silences of several keep-alive intervals: before the headers, or after the first frame."""
    pause = PING_SECONDS * 6
    first, rest = body.split(b"\n\n", 1)

    async def frames() -> AsyncIterator[bytes]:
        yield first + b"\n\n"
        await asyncio.sleep(pause)
        yield rest

    async def reply(_request: httpx.Request) -> httpx.Response:
        if before_headers:
            await asyncio.sleep(pause)
            return sse_reply(body)
        return sse_reply(frames())

    return reply


@pytest.mark.parametrize("before_headers", [False, True], ids=["silent-after-first-frame", "silent-before-headers"])
async def test_the_sdks_stream_through_keepalives(live_server: Any, before_headers: bool) -> None:
    import anthropic
    import openai

    upstream = Upstream(default={"up.test": _pauses(UPSTREAM_BODIES["openai"], before_headers=before_headers)})
    app = create_app(_gateway("openai"), transport=upstream.transport(), environ={"UP_KEY": "sk-test"})
    async with live_server(app) as url:
        claude = anthropic.AsyncAnthropic(base_url=f"{url}/anthropic", api_key="k", max_retries=0, timeout=WAIT_S)
        async with claude.messages.stream(model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
            message = await s.get_final_message()
        oai = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=WAIT_S)
        chat = await oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in chat if c.choices])
        events = [e async for e in await oai.responses.create(model="m", input="hi", stream=True)]
        await claude.close()
        await oai.close()
    assert message.content[0].text == "Hello!"  # type: ignore[union-attr]
    assert text == "Hello!"
    assert events[-1].type == "response.completed" and events[-1].response.output_text == "Hello!"
