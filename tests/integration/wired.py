"""Helpers for in-process tests of the fully wired gateway (`assembly.gateway_app`) served on 127.0.0.1.

A spec is written as a Python dict, compiled with the real compiler, and served with governance, cache,
observability and MCP wired exactly as `bifrostc serve` wires them. Clients are the official SDKs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import yaml
from starlette.applications import Starlette

from bifrostc.compiler.api import compile_spec
from bifrostc.runtime import config
from bifrostc.runtime.assembly import Parts, gateway_app
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.telemetry import Telemetry
from bifrostc.runtime.types import ChatRequest
from tests.conftest import running_server

WAIT_S = 10.0  # guard against a hang only; every awaited event normally fires in milliseconds
# $1 per output token: spend equals the mock's output tokens, easy to reason about.
DOLLAR_PER_TOKEN = {"input": 0, "output": 1_000_000}


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def base_spec(db: Path) -> dict[str, Any]:
    """A spec every test starts from: the offline mock provider, keys required, SQLite log in tmp."""
    return {
        "version": 1,
        "server": {"require_key": True},
        "providers": {"mock": {"type": "mock"}},
        "models": {"echo": {"target": "mock/echo", "pricing": dict(DOLLAR_PER_TOKEN)}},
        "observability": {"log_store": "sqlite", "sqlite_path": str(db), "log_bodies": True},
    }


def compile_gateway(
    tmp_path: Path, spec: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> config.Gateway:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(dict(spec)), sort_keys=False))
    result = compile_spec(path, environ=dict(environ or {}))
    assert result.gateway is not None, [d.message for d in result.validated.diagnostics]
    return result.gateway


async def _no_sleep(_seconds: float) -> None:
    """Retry backoff without waiting: the retry order is what the tests check, not the delay."""


class LogWaiter:
    """Counts records handed to Telemetry.record, so a test can await the log of a finished stream."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.records: list[RequestRecord] = []
        self._event = asyncio.Event()
        original = telemetry.record

        def record(rec: RequestRecord) -> None:
            original(rec)
            self.records.append(rec)
            self._event.set()

        telemetry.record = record  # type: ignore[method-assign]

    async def wait_for(self, count: int) -> list[RequestRecord]:
        async with asyncio.timeout(WAIT_S):
            while len(self.records) < count:
                self._event.clear()
                await self._event.wait()
        return self.records


@dataclass
class Wired:
    app: Starlette
    url: str
    waiter: LogWaiter
    admin_key: str | None = None
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=WAIT_S))

    @property
    def parts(self) -> Parts:
        return self.app.state.parts

    def anthropic(self, key: str | None = None, *, bearer: bool = False) -> anthropic.AsyncAnthropic:
        auth = {"auth_token": key} if bearer else {"api_key": key}
        return anthropic.AsyncAnthropic(base_url=f"{self.url}/anthropic", max_retries=0, timeout=WAIT_S, **auth)

    def openai(self, key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=WAIT_S)

    def _admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_key}"} if self.admin_key else {}

    async def settled(self, count: int) -> None:
        """Wait until `count` requests were logged and their rows written to the log store."""
        await self.waiter.wait_for(count)
        sink = self.parts.telemetry.sink
        assert sink is not None
        await sink.flush()

    async def logs(self, count: int) -> list[dict[str, Any]]:
        """The /api/logs rows once `count` requests were logged and written (newest first)."""
        await self.settled(count)
        response = await self.http.get(f"{self.url}/api/logs?limit=500", headers=self._admin_headers())
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def spend(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.url}/api/spend", headers=self._admin_headers())
        assert response.status_code == 200, response.text
        return response.json()


def budget_row(spend: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    return next(r for r in spend["budgets"] if r["kind"] == kind and r["name"] == name)


@contextlib.asynccontextmanager
async def wired_server(
    gateway: config.Gateway,
    environ: Mapping[str, str] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    **app_options: Any,
) -> AsyncIterator[Wired]:
    """The wired app for `gateway` on a real 127.0.0.1 port (lifespan run), with a log waiter attached."""
    env = dict(environ or {})
    app_options.setdefault("sleep", _no_sleep)
    app = gateway_app(gateway, environ=env, transport=transport, **app_options)
    waiter = LogWaiter(app.state.parts.telemetry)
    admin_env = gateway.server.admin_key_env
    async with running_server(app) as url:
        wired = Wired(app, url, waiter, admin_key=env.get(admin_env) if admin_env else None)
        try:
            yield wired
        finally:
            await wired.http.aclose()


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


class FakeUpstreams:
    """A MockTransport handler dispatching on the upstream host; records every request it received."""

    def __init__(self, **handlers: Callable[[httpx.Request], Awaitable[httpx.Response]]) -> None:
        self.handlers = handlers
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.handlers[request.url.host](request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def sent_to(self, host: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == host]


async def hang_forever(_request: httpx.Request) -> httpx.Response:
    """An upstream that accepts the request and never answers (the gateway's deadline must end it)."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


class StallingStream(httpx.AsyncByteStream):
    """A response body that sends `first` and then stalls forever."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        await asyncio.Event().wait()


def openai_completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def openai_sse(text: str, model: str, *, completion_tokens: int) -> bytes:
    """An OpenAI chat stream with a final usage chunk, as sent when stream_options.include_usage is set."""
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": completion_tokens}},
    ]
    frames = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return ("".join(frames) + "data: [DONE]\n\n").encode()


def spy_on_parses(monkeypatch: pytest.MonkeyPatch, dialect: type[Any]) -> list[ChatRequest]:
    """Every ChatRequest `dialect.parse` returns from now on (relay_parse sets `history_omitted`/`tools_omitted`
    on it after the parse, so read those once the request is done)."""
    parsed: list[ChatRequest] = []
    original = dialect.parse

    def spy(self: Any, call: Any) -> ChatRequest:
        chat: ChatRequest = original(self, call)
        parsed.append(chat)
        return chat

    monkeypatch.setattr(dialect, "parse", spy)
    return parsed
