"""``max_concurrent_requests`` on a key and on a team, in one embedded gateway (leases in the SQLite store).

The upstream holds every request until the test opens a gate, so the requests in flight are exactly the ones
admitted; the one past the limit is a 429 in the caller's dialect with ``retry-after``, and once the gate
opens the leases are released and the next request is served.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai

from tests.integration.wired import (
    FakeUpstreams,
    base_spec,
    compile_gateway,
    openai_completion,
    sha256,
    user,
    wired_server,
)

KEYS = {name: f"sk-bfc-{name}-0123456789" for name in ("solo", "t1", "t2")}
ENV = {"LLM_KEY": "sk-upstream-llm-0123456789"}


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"] = {"llm": {"type": "openai", "base_url": "http://llm.test/v1", "api_key_env": "LLM_KEY"}}
    spec["models"] = {"chat": {"target": "llm/gpt-chat"}}
    spec["teams"] = {"platform": {"max_concurrent_requests": 3}}
    spec["virtual_keys"] = [
        {"name": "solo", "key_sha256": sha256(KEYS["solo"]), "max_concurrent_requests": 2},
        {"name": "t1", "key_sha256": sha256(KEYS["t1"]), "team": "platform"},
        {"name": "t2", "key_sha256": sha256(KEYS["t2"]), "team": "platform"},
    ]
    return spec


class Gate:
    """An upstream that answers only once ``open`` is called; counts the requests waiting at it."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = 0
        self.arrived = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.waiting += 1
        self.arrived.set()
        await self.opened.wait()
        return httpx.Response(200, json=openai_completion("ok", json.loads(request.content)["model"]))

    async def until_waiting(self, count: int) -> None:
        async with asyncio.timeout(10):
            while self.waiting < count:
                self.arrived.clear()
                await self.arrived.wait()


async def test_a_key_past_its_concurrency_limit_gets_a_429_in_each_dialect(tmp_path: Path) -> None:
    gate = Gate()
    gateway = compile_gateway(tmp_path, _spec(tmp_path), ENV)
    async with wired_server(gateway, ENV, transport=FakeUpstreams(**{"llm.test": gate}).transport()) as wired:
        client = wired.openai(KEYS["solo"])
        held = [
            asyncio.create_task(client.chat.completions.create(model="chat", max_tokens=5, messages=user("hi")))
            for _ in range(2)
        ]
        await gate.until_waiting(2)
        try:
            await client.chat.completions.create(model="chat", max_tokens=5, messages=user("hi"))
            raise AssertionError("a third request in flight was admitted")
        except openai.RateLimitError as exc:
            oai = exc
        try:
            await wired.anthropic(KEYS["solo"]).messages.create(model="chat", max_tokens=5, messages=user("hi"))
            raise AssertionError("a third request in flight was admitted")
        except anthropic.RateLimitError as exc:
            anth = exc
        gate.opened.set()
        await asyncio.gather(*held)
        # The leases went with their requests: the key is served again at once.
        again = await client.chat.completions.create(model="chat", max_tokens=5, messages=user("hi"))
    assert again.choices[0].message.content == "ok"
    assert oai.body["code"] == "rate_limit_exceeded"
    assert anth.body["error"]["type"] == "rate_limit_error"
    for error in (oai, anth):
        assert error.response.headers["retry-after"] == "1"
    assert "concurrency limit of key 'solo' reached: 2 requests in flight" in anth.body["error"]["message"]
    assert gate.waiting == 3


async def test_a_team_limit_is_shared_by_its_keys(tmp_path: Path) -> None:
    gate = Gate()
    gateway = compile_gateway(tmp_path, _spec(tmp_path), ENV)
    async with wired_server(gateway, ENV, transport=FakeUpstreams(**{"llm.test": gate}).transport()) as wired:
        one, two = wired.anthropic(KEYS["t1"]), wired.anthropic(KEYS["t2"])
        held = [
            asyncio.create_task(key.messages.create(model="chat", max_tokens=5, messages=user("hi")))
            for key in (one, two, one)
        ]
        await gate.until_waiting(3)
        try:
            await two.messages.create(model="chat", max_tokens=5, messages=user("hi"))
            raise AssertionError("a fourth request of the team was admitted")
        except anthropic.RateLimitError as exc:
            refused = exc
        gate.opened.set()
        await asyncio.gather(*held)
    assert "concurrency limit of team 'platform' reached: 3 requests in flight" in refused.body["error"]["message"]
