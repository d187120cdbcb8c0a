"""One usage parser per dialect: a DeepSeek stream with 800 of 1,000 prompt tokens cached bills the same on the
OpenAI passthrough path (stream or not) as on the translated path: 200 uncached + 800 cache reads, reasoning
tokens kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bifrostc.runtime.context import Hooks, RequestContext
from bifrostc.runtime.types import Usage
from tests.integration.wired import WAIT_S, FakeUpstreams, Wired, base_spec, compile_gateway, sha256, wired_server
from tests.runtime.rt_fakes import Upstream, app_for, asgi_client, gateway, openai_chunk, provider, sse

KEY = "sk-bfc-usage-0123456789"
ENV = {"DEEPSEEK_KEY": "sk-upstream-deepseek"}
# DeepSeek's documented usage: prompt_tokens include the cache hits, reported as prompt_cache_hit_tokens.
DEEPSEEK_USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 50,
    "total_tokens": 1050,
    "prompt_cache_hit_tokens": 800,
    "prompt_cache_miss_tokens": 200,
    "completion_tokens_details": {"reasoning_tokens": 30},
}
# $1 per uncached input token, $0.1 per cached one, $2 per output token.
PRICING = {"input": 1_000_000, "cache_read": 100_000, "output": 2_000_000}
EXPECTED_COST = 200 * 1 + 800 * 0.1 + 50 * 2


def _completion() -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "deepseek-reasoner",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": DEEPSEEK_USAGE,
    }


def _stream() -> bytes:
    return sse(
        [
            (None, openai_chunk({"role": "assistant", "reasoning_content": "thinking"})),
            (None, openai_chunk({"content": "hi"})),
            (None, openai_chunk({}, finish="stop")),
            (None, openai_chunk({}, usage=DEEPSEEK_USAGE)),
            (None, b"[DONE]"),
        ]
    )


async def deepseek(request: httpx.Request) -> httpx.Response:
    body = orjson.loads(request.content)
    assert request.url.path == "/v1/chat/completions"
    if not body.get("stream"):
        return httpx.Response(200, json=_completion())
    options = body.get("stream_options") or {}
    if not options.get("include_usage"):
        return httpx.Response(200, content=_stream().replace(orjson.dumps(DEEPSEEK_USAGE), b"null"))
    return httpx.Response(200, content=_stream(), headers={"content-type": "text/event-stream"})


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Wired]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"]["ds"] = {"type": "deepseek", "base_url": "http://ds.test/v1", "api_key_env": "DEEPSEEK_KEY"}
    spec["models"]["reasoner"] = {"target": "ds/deepseek-reasoner", "pricing": PRICING}
    spec["virtual_keys"] = [{"name": "dev", "key_sha256": sha256(KEY)}]
    upstreams = FakeUpstreams(**{"ds.test": deepseek})
    async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV, transport=upstreams.transport()) as wired:
        yield wired


CHAT = {"model": "reasoner", "messages": [{"role": "user", "content": "hi"}]}
CASES = {
    "openai passthrough, stream": (
        "/v1/chat/completions",
        {**CHAT, "stream": True, "stream_options": {"include_usage": True}},
    ),
    "openai passthrough": ("/v1/chat/completions", CHAT),
    "anthropic, translated stream": ("/anthropic/v1/messages", {**CHAT, "max_tokens": 64, "stream": True}),
    "anthropic, translated": ("/anthropic/v1/messages", {**CHAT, "max_tokens": 64}),
}


@pytest.mark.parametrize("case", CASES)
async def test_cached_prompt_tokens_bill_alike_on_every_path(served: Wired, case: str) -> None:
    path, body = CASES[case]
    response = await served.http.post(f"{served.url}{path}", json=body, headers={"authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    (row,) = await served.logs(1)
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (200, 800, 50)
    assert row["cost_usd"] == pytest.approx(EXPECTED_COST)
    assert not row["usage_estimated"]
    # The passthrough cases relayed DeepSeek's own body; the translated ones did not.
    assert (b"prompt_cache_hit_tokens" in response.content) == ("passthrough" in case)


class UsageSeen(Hooks):
    def __init__(self) -> None:
        self.usage: list[Usage | None] = []

    async def after_call(self, ctx: RequestContext, usage: Usage | None) -> None:
        self.usage.append(usage)


async def test_passthrough_stream_keeps_reasoning_tokens() -> None:
    gw = gateway([provider("ds", "deepseek", base_url="http://ds.test/v1", key_env="UP_KEY")], {"r": [("ds", "m")]})
    upstream = Upstream().add("ds.test", deepseek)
    hooks = UsageSeen()
    async with asgi_client(app_for(gw, upstream, hooks=hooks)) as client:
        body = {**CHAT, "model": "r", "stream": True, "stream_options": {"include_usage": True}}
        response = await client.post("/v1/chat/completions", json=body, timeout=WAIT_S)
    assert response.status_code == 200 and b"prompt_cache_hit_tokens" in response.content  # relayed as is
    (usage,) = hooks.usage
    assert usage == Usage(input_tokens=200, output_tokens=50, cache_read_tokens=800, reasoning_tokens=30)


async def test_stream_without_include_usage_is_relayed_and_billed_from_the_upstream_count(served: Wired) -> None:
    """The client did not ask for usage: the gateway asks the upstream for it, bills DeepSeek's own count and
    relays DeepSeek's bytes unchanged but for the usage chunk, which the client never sees."""
    response = await served.http.post(
        f"{served.url}/v1/chat/completions",
        json={**CHAT, "stream": True},
        headers={"authorization": f"Bearer {KEY}"},
    )
    usage_frame = sse([(None, openai_chunk({}, usage=DEEPSEEK_USAGE))])
    assert response.content == _stream().replace(usage_frame, b"")  # relayed, not re-encoded
    client = served.openai(KEY)  # and a strict parser takes it
    stream = await client.chat.completions.create(model="reasoner", messages=CHAT["messages"], stream=True)
    chunks = [chunk async for chunk in stream]
    assert chunks and all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "hi"
    for row in await served.logs(2):
        assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (200, 800, 50)
        assert not row["usage_estimated"]
