"""The response cache through the wired gateway: exact hits, streamed replays, opt-out keys, semantic mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.wired import (
    DOLLAR_PER_TOKEN,
    FakeUpstreams,
    Wired,
    base_spec,
    compile_gateway,
    openai_completion,
    sha256,
    user,
    wired_server,
)

CACHED = "sk-bfc-cached-0123456789"
UNCACHED = "sk-bfc-uncached-0123456789"
ENV = {"LLM_KEY": "sk-upstream-llm-secret", "EMB_KEY": "sk-upstream-emb-secret"}

FRANCE = "What is the capital of France?"
FRANCE_PARAPHRASE = "Tell me France's capital city."
BREAD = "How do I bake bread?"
VECTORS = {FRANCE: [1.0, 0.0, 0.0], FRANCE_PARAPHRASE: [0.98, 0.2, 0.0], BREAD: [0.0, 1.0, 0.0]}


class CountingLLM:
    """An OpenAI-shaped upstream whose every answer is numbered, so a cache miss can never pass for a hit."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        body = json.loads(request.content)
        if body.get("stream"):
            return httpx.Response(400, json={"error": {"message": "this fake does not stream"}})
        return httpx.Response(200, json=openai_completion(f"answer #{self.calls}", body["model"]))


async def _embeddings(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    data = [{"object": "embedding", "index": 0, "embedding": VECTORS[body["input"]]}]
    usage = {"prompt_tokens": 4, "total_tokens": 4}
    return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"], "usage": usage})


def _spec(tmp_path: Path, mode: str) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"] |= {
        "llm": {"type": "openai", "base_url": "http://llm.test/v1", "api_key_env": "LLM_KEY"},
        "emb": {"type": "openai", "base_url": "http://emb.test/v1", "api_key_env": "EMB_KEY"},
    }
    spec["models"] |= {
        "chat": {"target": "llm/gpt-chat", "pricing": dict(DOLLAR_PER_TOKEN)},
        "embed": {"target": "emb/text-embedding-3-small"},
    }
    spec["virtual_keys"] = [
        {"name": "cached", "key_sha256": sha256(CACHED)},
        {"name": "uncached", "key_sha256": sha256(UNCACHED), "cache": False},
    ]
    spec["cache"] = {"mode": mode, "backend": "memory", "ttl_seconds": 600}
    if mode == "semantic":
        spec["cache"] |= {"embedding_model": "embed", "semantic_threshold": 0.9}
    return spec


@pytest.fixture
def llm() -> CountingLLM:
    return CountingLLM()


@pytest.fixture
def upstreams(llm: CountingLLM) -> FakeUpstreams:
    return FakeUpstreams(**{"llm.test": llm, "emb.test": _embeddings})


async def _serve(tmp_path: Path, mode: str, upstreams: FakeUpstreams):
    gateway = compile_gateway(tmp_path, _spec(tmp_path, mode), ENV)
    return wired_server(gateway, ENV, transport=upstreams.transport())


@pytest.fixture
async def exact(tmp_path: Path, upstreams: FakeUpstreams):
    async with await _serve(tmp_path, "exact", upstreams) as wired:
        yield wired


@pytest.fixture
async def semantic(tmp_path: Path, upstreams: FakeUpstreams):
    async with await _serve(tmp_path, "semantic", upstreams) as wired:
        yield wired


async def test_exact_hit_has_the_header_and_the_same_content(exact: Wired, llm: CountingLLM) -> None:
    client = exact.anthropic(CACHED)
    first = await client.messages.with_raw_response.create(model="chat", max_tokens=32, messages=user("hello"))
    second = await client.messages.with_raw_response.create(model="chat", max_tokens=32, messages=user("hello"))
    assert "x-bifrostc-cache" not in first.headers and second.headers["x-bifrostc-cache"] == "hit"
    assert (await first.parse()).content == (await second.parse()).content
    assert llm.calls == 1
    rows = await exact.logs(2)
    assert [r["cache_hit"] for r in rows] == [True, False]  # newest first
    assert rows[0]["cost_usd"] == 0 and rows[1]["cost_usd"] > 0
    assert rows[0]["finish_reason"] == rows[1]["finish_reason"] == "end_turn"  # a hit says how it ended too


async def test_streamed_requests_replay_a_cached_answer_the_sdks_parse(exact: Wired, llm: CountingLLM) -> None:
    anth = exact.anthropic(CACHED)
    stored = await anth.messages.create(model="chat", max_tokens=32, messages=user("stream me"))
    async with anth.messages.stream(model="chat", max_tokens=32, messages=user("stream me")) as stream:
        replayed = await stream.get_final_message()
        assert stream.response.headers["x-bifrostc-cache"] == "hit"
    assert replayed.content[0].text == stored.content[0].text == "answer #1"
    assert replayed.stop_reason == stored.stop_reason

    oai = exact.openai(CACHED)
    plain = await oai.chat.completions.create(model="chat", messages=user("openai stream"), max_tokens=32)
    stream = await oai.chat.completions.create(model="chat", messages=user("openai stream"), max_tokens=32, stream=True)
    assert stream.response.headers["x-bifrostc-cache"] == "hit"
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content == "answer #2"
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    assert llm.calls == 2


async def test_a_key_with_cache_false_never_hits(exact: Wired, llm: CountingLLM) -> None:
    client = exact.openai(UNCACHED)
    answers = []
    for _ in range(2):
        raw = await client.chat.completions.with_raw_response.create(model="chat", messages=user("same"))
        assert "x-bifrostc-cache" not in raw.headers
        answers.append(raw.parse().choices[0].message.content)
    assert answers == ["answer #1", "answer #2"] and llm.calls == 2


async def test_semantic_paraphrase_hits_and_an_unrelated_question_misses(
    semantic: Wired, llm: CountingLLM, upstreams: FakeUpstreams
) -> None:
    client = semantic.anthropic(CACHED)
    first = await client.messages.create(model="chat", max_tokens=32, messages=user(FRANCE))
    paraphrase = await client.messages.with_raw_response.create(
        model="chat", max_tokens=32, messages=user(FRANCE_PARAPHRASE)
    )
    unrelated = await client.messages.with_raw_response.create(model="chat", max_tokens=32, messages=user(BREAD))
    assert paraphrase.headers["x-bifrostc-cache"] == "hit"
    assert (await paraphrase.parse()).content[0].text == first.content[0].text == "answer #1"
    assert "x-bifrostc-cache" not in unrelated.headers
    assert (await unrelated.parse()).content[0].text == "answer #2"
    embedded = [json.loads(r.content) for r in upstreams.sent_to("emb.test")]
    assert {e["input"] for e in embedded} == {FRANCE, FRANCE_PARAPHRASE, BREAD}
    assert all(e["model"] == "text-embedding-3-small" for e in embedded)


async def test_a_streamed_answer_is_cached_for_a_later_plain_request(exact: Wired) -> None:
    anth = exact.anthropic(CACHED)
    async with anth.messages.stream(model="echo", max_tokens=32, messages=user("streamed first")) as stream:
        streamed = await stream.get_final_message()
    await exact.waiter.wait_for(1)  # a stream is stored in the cache once its last byte went out
    raw = await anth.messages.with_raw_response.create(model="echo", max_tokens=32, messages=user("streamed first"))
    assert raw.headers["x-bifrostc-cache"] == "hit"
    assert (await raw.parse()).content[0].text == streamed.content[0].text == "streamed first"


async def test_a_cached_openai_stream_has_the_shape_of_an_uncached_one(exact: Wired) -> None:
    oai = exact.openai(CACHED)
    await oai.chat.completions.create(model="echo", messages=user("shape"))
    stream = await oai.chat.completions.create(model="echo", messages=user("shape"), stream=True)
    assert stream.response.headers["x-bifrostc-cache"] == "hit"
    chunks = [chunk async for chunk in stream]
    assert all(chunk.choices for chunk in chunks)  # no usage-only chunk: stream_options.include_usage was not set


async def test_a_claude_model_id_shares_entries_with_the_route_its_tier_names(
    tmp_path: Path, upstreams: FakeUpstreams, llm: CountingLLM
) -> None:
    # The cache keys on the route the one resolver picks: `claude-sonnet-4-5` (tier sonnet -> chat) and `chat`
    # are the same route, so the second request is a hit (it used to be keyed on the raw model string).
    spec = _spec(tmp_path, "exact") | {"claude_code": {"sonnet": "chat"}}
    gateway = compile_gateway(tmp_path, spec, ENV)
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        client = wired.anthropic(CACHED)
        tiered = await client.messages.create(model="claude-sonnet-4-5", max_tokens=32, messages=user("tiers"))
        raw = await client.messages.with_raw_response.create(model="chat", max_tokens=32, messages=user("tiers"))
        assert raw.headers["x-bifrostc-cache"] == "hit"
        assert (await raw.parse()).content[0].text == tiered.content[0].text == "answer #1"
        assert llm.calls == 1
