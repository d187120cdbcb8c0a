"""Fake upstreams (OpenAI and Anthropic wire formats, as documented) and small Gateway builders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from bifrostc.runtime import config
from bifrostc.runtime.app import create_app


def provider(name: str, type_: str, *, base_url: str = "", key_env: str | None = None, **net: float) -> config.Provider:
    keys = (config.KeyRef(env=key_env),) if key_env else ()
    network = config.Network(backoff_initial=0.01, backoff_max=0.05, **net)  # type: ignore[arg-type]
    return config.Provider(
        name=name, type=type_, base_url=base_url or f"http://{name}.test", keys=keys, network=network
    )


def gateway(
    providers: list[config.Provider],
    routes: dict[str, list[tuple[str, str]]],
    *,
    fallbacks: dict[str, tuple[str, ...]] | None = None,
    tiers: dict[str, str] | None = None,
    default_provider: str | None = None,
) -> config.Gateway:
    built = {
        name: config.Route(
            name=name,
            targets=tuple(config.Target(provider=p, model=m) for p, m in targets),
            fallbacks=(fallbacks or {}).get(name, ()),
        )
        for name, targets in routes.items()
    }
    return config.Gateway(
        providers={p.name: p for p in providers},
        routes=built,
        tiers=tiers or {},
        server=config.Server(default_provider=default_provider),
    )


def sse(events: list[tuple[str | None, Any]]) -> bytes:
    out = b""
    for event, data in events:
        head = f"event: {event}\n".encode() if event else b""
        payload = data if isinstance(data, bytes) else orjson.dumps(data)
        out += head + b"data: " + payload + b"\n\n"
    return out


# --- OpenAI Chat Completions wire format -----------------------------------------------------------
def openai_completion(text: str | None = "hi", *, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def openai_chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> dict:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def openai_text_stream(*pieces: str, reasoning: str | None = None) -> bytes:
    events: list[tuple[str | None, Any]] = [(None, openai_chunk({"role": "assistant", "content": ""}))]
    if reasoning:
        events.append((None, openai_chunk({"reasoning_content": reasoning})))
    events += [(None, openai_chunk({"content": p})) for p in pieces]
    events.append((None, openai_chunk({}, "stop")))
    events.append((None, openai_chunk({}, usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8})))
    return sse(events) + b"data: [DONE]\n\n"


def openai_tool_stream(calls: list[tuple[str, str, str]]) -> bytes:
    """Streamed (parallel) tool calls: (id, name, arguments JSON), arguments split in two pieces each."""
    events: list[tuple[str | None, Any]] = [(None, openai_chunk({"role": "assistant", "content": None}))]
    for slot, (call_id, name, args) in enumerate(calls):
        head = {"index": slot, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        events.append((None, openai_chunk({"tool_calls": [head]})))
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            events.append((None, openai_chunk({"tool_calls": [{"index": slot, "function": {"arguments": piece}}]})))
    events.append((None, openai_chunk({}, "tool_calls")))
    events.append((None, openai_chunk({}, usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13})))
    return sse(events) + b"data: [DONE]\n\n"


# --- Anthropic Messages wire format ----------------------------------------------------------------
def anthropic_message(text: str = "hello", model: str = "claude-up") -> dict[str, Any]:
    return {
        "id": "msg_up",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 3},
    }


def anthropic_text_stream(*pieces: str, model: str = "claude-up") -> bytes:
    start = anthropic_message("", model) | {"content": [], "stop_reason": None, "usage": {"input_tokens": 12}}
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
    ]
    for p in pieces:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
        events.append(("content_block_delta", delta))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 4},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return sse(events)


def anthropic_tool_stream(
    calls: list[tuple[str, str, str]], model: str = "claude-up", *, thinking: tuple[str, str] | None = None
) -> bytes:
    """Streamed tool_use blocks: (id, name, input JSON), each input sent as input_json_delta fragments in two pieces;
    with ``thinking`` = (text, signature), a signed thinking block first."""
    start = anthropic_message("", model) | {"content": [], "stop_reason": None, "usage": {"input_tokens": 12}}
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": start})]
    if thinking is not None:
        block = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": thinking[0]},
            {"type": "signature_delta", "signature": thinking[1]},
        ]
        events.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    for index, (call_id, name, args) in enumerate(calls, start=1 if thinking is not None else 0):
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": block}))
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            delta = {"type": "input_json_delta", "partial_json": piece}
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    end = {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}}
    events += [("message_delta", end | {"usage": {"output_tokens": 9}}), ("message_stop", {"type": "message_stop"})]
    return sse(events)


# --- a scripted upstream -----------------------------------------------------------------------------
Reply = httpx.Response | Callable[[httpx.Request], Any]


@dataclass
class Upstream:
    """A MockTransport handler replaying scripted replies per host, recording every request it got."""

    script: dict[str, list[Reply]] = field(default_factory=dict)
    default: dict[str, Reply] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def add(self, host: str, *replies: Reply) -> Upstream:
        self.script.setdefault(host, []).extend(replies)
        return self

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.script.get(request.url.host, [])
        reply = queue.pop(0) if queue else self.default.get(request.url.host)
        if reply is None:
            return httpx.Response(599, json={"error": f"no scripted reply for {request.url}"})
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
            if asyncio.iscoroutine(reply):
                reply = await reply
        return reply

    def bodies(self, host: str) -> list[dict[str, Any]]:
        return [orjson.loads(r.content) for r in self.requests if r.url.host == host]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(body), headers={"content-type": "application/json", **(headers or {})}
    )


def sse_reply(body: bytes | AsyncIterator[bytes]) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def app_for(gw: config.Gateway, upstream: Upstream, **kwargs: Any) -> Any:
    return create_app(gw, transport=upstream.transport(), environ={"UP_KEY": "sk-test"}, **kwargs)


def asgi_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost", timeout=30)


def sdk_http_client(app: Any) -> Any:
    """The anthropic/openai SDKs here are built on httpx2 and refuse httpx objects: give them httpx2's ASGI client."""
    import httpx2

    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), timeout=30)
