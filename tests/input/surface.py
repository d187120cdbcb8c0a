"""The gateway's HTTP surface for bad-input tests: the ASGI app through httpx, on fake OpenAI and Anthropic
upstreams that answer in their documented wire format (a stream when asked for one) and refuse, with their own
400, the bodies those APIs refuse for the fields checked here.

``Surface.post`` sends raw bytes and checks what every answer must be: never a 5xx, every error in the caller's
dialect (Anthropic's shape under /anthropic, OpenAI's elsewhere), a stream without an error event (the fakes never
fail one) and exactly one request-log record per request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from bifrostc.runtime.context import Hooks, LogRecord
from tests.runtime.rt_fakes import (
    Upstream,
    anthropic_message,
    anthropic_text_stream,
    app_for,
    asgi_client,
    gateway,
    json_reply,
    openai_completion,
    openai_text_stream,
    provider,
    sse_reply,
)

ANTHROPIC_ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "billing_error",
        "not_supported",
        "api_error",
        "overloaded_error",
    }
)
# Routes: "gpt" on an OpenAI upstream, "claude" on an Anthropic one, so each dialect meets passthrough and
# translation.
MODELS = ("gpt", "claude")


class CountingHooks(Hooks):
    """No-op hooks that keep every request-log record."""

    def __init__(self) -> None:
        self.logged: list[LogRecord] = []

    async def on_log(self, record: LogRecord) -> None:
        self.logged.append(record)


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value < 2**63


def openai_upstream(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    problem = None
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        problem = "messages: expected a non-empty array"
    for key in ("max_tokens", "max_completion_tokens"):
        if key in body and body[key] is not None and not _is_int(body[key], 1):
            problem = f"{key}: expected an integer >= 1"
    if problem is not None:
        error = {"message": problem, "type": "invalid_request_error", "param": None, "code": None}
        return json_reply({"error": error}, 400)
    return sse_reply(openai_text_stream("hi")) if body.get("stream") is True else json_reply(openai_completion())


def anthropic_upstream(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    problem = None
    if not _is_int(body.get("max_tokens"), 1):
        problem = "max_tokens: Field required (an integer >= 1)"
    elif not isinstance(body.get("messages"), list):
        problem = "messages: Input should be a valid list"
    if problem is not None:
        return json_reply({"type": "error", "error": {"type": "invalid_request_error", "message": problem}}, 400)
    return sse_reply(anthropic_text_stream("hi")) if body.get("stream") is True else json_reply(anthropic_message())


class Surface:
    """One app and one event loop for many requests (a property test sends hundreds)."""

    def __init__(self) -> None:
        self.hooks = CountingHooks()
        gw = gateway(
            [provider("oai", "openai", key_env="UP_KEY"), provider("ant", "anthropic", key_env="UP_KEY")],
            {"gpt": [("oai", "gpt-up")], "claude": [("ant", "claude-up")]},
        )
        upstream = Upstream(default={"oai.test": openai_upstream, "ant.test": anthropic_upstream})
        self.app = app_for(gw, upstream, hooks=self.hooks)
        self.runner = asyncio.Runner()
        self.client = asgi_client(self.app)

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.close()

    def post(self, path: str, content: bytes) -> httpx.Response:
        """POST ``content`` and check the answer (see the module docstring); returns it for further checks."""
        before = len(self.hooks.logged)
        response = self.runner.run(
            self.client.post(path, content=content, headers={"content-type": "application/json"})
        )
        assert response.status_code < 500, (response.status_code, response.text, content[:2000])
        if response.status_code >= 400:
            assert_dialect_error(path, response)
        elif response.headers["content-type"].startswith("text/event-stream"):
            assert b"event: error" not in response.content and b'{"error"' not in response.content, response.text
        assert len(self.hooks.logged) == before + 1, "every request leaves exactly one log record"
        return response


def assert_dialect_error(path: str, response: httpx.Response) -> None:
    """A 4xx body in the shape the caller's SDK parses."""
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    if path.startswith("/anthropic"):
        assert set(body) == {"type", "error"} and body["type"] == "error", body
        assert set(body["error"]) == {"type", "message"}, body
        assert body["error"]["type"] in ANTHROPIC_ERROR_TYPES and isinstance(body["error"]["message"], str), body
    else:
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
        assert isinstance(body["error"]["message"], str) and isinstance(body["error"]["type"], str), body


@contextmanager
def surface() -> Iterator[Surface]:
    s = Surface()
    try:
        yield s
    finally:
        s.close()


def encode(body: Any) -> bytes:
    """JSON bytes for any body a strategy builds (the stdlib writes integers past 64 bits and deep nesting,
    which orjson refuses to)."""
    return json.dumps(body).encode()
