"""Request bodies above server.max_request_mb are refused with a 413 in the caller's dialect, unread."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import anthropic
import pytest
from rt_fakes import Upstream, anthropic_message, app_for, asgi_client, gateway, json_reply, provider, sdk_http_client

from bifrostc.runtime import config

LIMIT_MB = 0.01  # 10,485 bytes


def _app(upstream: Upstream):
    gw = gateway([provider("ant", "anthropic", key_env="UP_KEY")], {"claude": [("ant", "claude-up")]})
    gw = dataclasses.replace(gw, server=config.Server(max_request_mb=LIMIT_MB))
    return app_for(gw, upstream)


def _body(size: int) -> dict:
    return {"model": "claude", "max_tokens": 8, "messages": [{"role": "user", "content": "x" * size}]}


async def test_an_oversized_body_is_a_413_in_each_dialect_and_never_forwarded():
    up = Upstream()
    async with asgi_client(_app(up)) as client:
        anth = await client.post("/anthropic/v1/messages", json=_body(20_000))
        oai = await client.post("/v1/chat/completions", json=_body(20_000))
    assert anth.status_code == oai.status_code == 413
    assert anth.json()["error"]["type"] == "request_too_large"
    assert oai.json()["error"]["code"] == "request_too_large"
    assert up.requests == []


async def test_a_chunked_upload_is_counted_as_it_arrives():
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"model": "claude", "max_tokens": 8, "messages": [{"role": "user", "content": "'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"}]}'

    async with asgi_client(_app(Upstream())) as client:
        response = await client.post("/anthropic/v1/messages", content=chunks())
    assert response.status_code == 413


async def test_a_body_under_the_limit_is_served_and_the_sdk_sees_413_as_its_error():
    up = Upstream().add("ant.test", json_reply(anthropic_message("fine")))
    claude = anthropic.AsyncAnthropic(
        base_url="http://localhost/anthropic", api_key="x", http_client=sdk_http_client(_app(up)), max_retries=0
    )
    small = await claude.messages.create(**_body(100))
    assert small.content[0].text == "fine"
    with pytest.raises(anthropic.APIStatusError) as refused:
        await claude.messages.create(**_body(20_000))
    assert refused.value.status_code == 413
