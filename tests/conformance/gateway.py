"""The gateway under test: one family's provider behind routes with and without a fallback, served by the real
app (real aiohttp pool) through httpx's ASGI transport, and what a client sees of one request."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from bifrostc.runtime import config
from bifrostc.runtime.app import create_app
from bifrostc.runtime.context import Hooks, LogRecord, RequestContext
from bifrostc.runtime.dispatch import BreakerBoard
from bifrostc.runtime.types import Usage

from .upstream import Script, closed_port, fake_upstream
from .wire import Family

NETWORK = config.Network(connect_timeout=2.0, read_timeout=5.0, total_timeout=10.0, max_retries=0, backoff_max=0.05)
MODEL = "m1"


class BillingHooks(Hooks):
    """Records what the gateway bills (after_call's usage)."""

    def __init__(self) -> None:
        self.billed: list[Usage | None] = []
        self.logged: list[int] = []  # the status each request was logged with

    async def after_call(self, ctx: RequestContext, usage: Usage | None) -> None:
        self.billed.append(usage)

    async def on_log(self, record: LogRecord) -> None:
        self.logged.append(record.context.status)


def _options(family: Family) -> Any:
    """The family's options: typed per family once the provider registry is merged (issue 9 finding 4), the
    string pairs of d6706f8 before that."""
    if family.api:
        return config.OpenAIOptions(api={MODEL: family.api})  # type: ignore[dict-item]
    typed = getattr(config, "VertexOptions", None)
    if typed is None:
        return family.options
    return typed(**dict(family.options)) if family.options else None


def _provider(name: str, family: Family, base: str) -> config.Provider:
    return config.Provider(
        name=name,
        type=family.type or family.name,
        base_url=base + family.base_path,
        keys=(config.KeyRef(env="UP_KEY"),),
        network=NETWORK,
        options=_options(family),
    )


def _gateway(family: Family, base: str) -> config.Gateway:
    refused = f"http://127.0.0.1:{closed_port()}"
    providers = {
        "up": _provider("up", family, base),
        "down": _provider("down", family, refused),
        "backup": config.Provider(name="backup", type="mock", base_url=""),
    }

    def route(name: str, provider: str, fallbacks: tuple[str, ...] = ()) -> config.Route:
        model = "mock-model" if provider == "backup" else MODEL
        return config.Route(name=name, targets=(config.Target(provider=provider, model=model),), fallbacks=fallbacks)

    routes = [
        route("solo", "up"),
        route("main", "up", ("backup-route",)),
        route("solo-refused", "down"),
        route("main-refused", "down", ("backup-route",)),
        route("backup-route", "backup"),
    ]
    return config.Gateway(providers=providers, routes={r.name: r for r in routes})


@dataclass(frozen=True)
class Seen:
    """What a client sees of one request (and the breaker's verdict on the provider)."""

    status: int
    error_type: str | None
    fallback: bool
    retry_after: str | None
    error_event: bool  # a 200 stream that ends with the dialect's error event
    breaker_failed: bool
    message: str | None = None


@dataclass
class Rig:
    script: Script
    client: httpx.AsyncClient
    board: BreakerBoard
    hooks: BillingHooks

    async def call(self, dialect: str, route: str, *, stream: bool) -> Seen:
        self.board.breakers.clear()
        messages = [{"role": "user", "content": "hello"}]
        if dialect == "anthropic":
            path = "/anthropic/v1/messages"
            body: dict[str, Any] = {"model": route, "max_tokens": 64, "stream": stream, "messages": messages}
        else:
            path = "/v1/chat/completions"
            body = {"model": route, "stream": stream, "messages": messages}
            if stream:
                body["stream_options"] = {"include_usage": True}
        response = await self.client.post(path, json=body)
        error_type = message = None
        if response.status_code != 200:
            error = orjson.loads(response.content)["error"]
            error_type, message = error["type"], error["message"]
        text = response.text
        error_event = response.status_code == 200 and stream and ("event: error" in text or '{"error"' in text)
        failures = sum(breaker.failures for breaker in self.board.breakers.values())
        return Seen(
            status=response.status_code,
            error_type=error_type,
            fallback="x-bifrostc-fallback" in response.headers,
            retry_after=response.headers.get("retry-after"),
            error_event=error_event,
            breaker_failed=failures > 0,
            message=message,
        )


@contextlib.asynccontextmanager
async def rig(family: Family) -> AsyncIterator[Rig]:
    script = Script(family)
    async with fake_upstream(script) as base:
        board = BreakerBoard()
        hooks = BillingHooks()
        app = create_app(_gateway(family, base), environ={"UP_KEY": "sk-test"}, breakers=board, hooks=hooks)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=30) as client:
            try:
                yield Rig(script, client, board, hooks)
            finally:
                await app.state.http_client.aclose()
