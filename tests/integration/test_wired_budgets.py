"""Rate limits and budgets through the wired gateway: 429s in both dialects, spend in /api/spend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.integration.wired import (
    DOLLAR_PER_TOKEN,
    FakeUpstreams,
    Wired,
    base_spec,
    budget_row,
    compile_gateway,
    openai_sse,
    sha256,
    user,
    wired_server,
)

KEYS = {name: f"sk-bfc-{name}-0123456789" for name in ("rl_a", "rl_o", "bud_a", "bud_o", "t1", "t2", "t3")}
ONE_DOLLAR = {"max_usd": 1, "period": "never"}  # one mock answer of one output token spends it
# Admission holds max_tokens at the output price ($1 a token here): one token is all a $1 budget admits.


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["customers"] = {"acme": {"budget": {"max_usd": 3, "period": "1M"}}}
    spec["teams"] = {
        "platform": {"customer": "acme", "budget": {"max_usd": 2, "period": "1d"}},
        "data": {"customer": "acme"},
    }
    one_rpm = {"requests_per_minute": 1}
    spec["virtual_keys"] = [
        {"name": "rl_a", "key_sha256": sha256(KEYS["rl_a"]), "rate_limit": one_rpm},
        {"name": "rl_o", "key_sha256": sha256(KEYS["rl_o"]), "rate_limit": one_rpm},
        {"name": "bud_a", "key_sha256": sha256(KEYS["bud_a"]), "budget": ONE_DOLLAR},
        {"name": "bud_o", "key_sha256": sha256(KEYS["bud_o"]), "budget": ONE_DOLLAR},
        {"name": "t1", "key_sha256": sha256(KEYS["t1"]), "team": "platform"},
        {"name": "t2", "key_sha256": sha256(KEYS["t2"]), "team": "platform"},
        {"name": "t3", "key_sha256": sha256(KEYS["t3"]), "team": "data"},
    ]
    return spec


@pytest.fixture
async def served(tmp_path: Path):
    async with wired_server(compile_gateway(tmp_path, _spec(tmp_path))) as wired:
        yield wired


async def _ask_anthropic(wired: Wired, key: str) -> None:
    await wired.anthropic(KEYS[key]).messages.create(model="echo", max_tokens=1, messages=user("hi"))


async def _ask_openai(wired: Wired, key: str) -> None:
    await wired.openai(KEYS[key]).chat.completions.create(model="echo", max_tokens=1, messages=user("hi"))


async def test_rate_limit_is_429_with_retry_after_in_both_dialects(served: Wired) -> None:
    # One request per sliding minute: the second is refused whatever the clock says.
    with pytest.raises(anthropic.RateLimitError) as anth:
        for _ in range(3):
            await _ask_anthropic(served, "rl_a")
    with pytest.raises(openai.RateLimitError) as oai:
        for _ in range(3):
            await _ask_openai(served, "rl_o")
    assert anth.value.body["error"]["type"] == "rate_limit_error"
    assert oai.value.body["code"] == "rate_limit_exceeded"
    for error in (anth.value, oai.value):
        # The estimate frees the slot once the counted request's minute has fully slid out: < 2 minutes.
        assert 1 <= int(error.response.headers["retry-after"]) <= 120


async def test_exhausted_budget_is_429_in_each_dialects_terms(served: Wired) -> None:
    await _ask_anthropic(served, "bud_a")
    await _ask_openai(served, "bud_o")
    with pytest.raises(anthropic.RateLimitError) as anth:
        await _ask_anthropic(served, "bud_a")
    with pytest.raises(openai.RateLimitError) as oai:
        await _ask_openai(served, "bud_o")
    assert anth.value.body["error"]["type"] == "billing_error"
    message = anth.value.body["error"]["message"]
    assert message == "The lifetime budget of key 'bud_a' is used up: $1.00 of $1.00 spent; it does not reset."
    assert oai.value.body["type"] == "insufficient_quota" and oai.value.body["code"] == "insufficient_quota"
    for error in (anth.value, oai.value):  # no retry into the block, whatever the dialect
        assert error.response.headers["x-should-retry"] == "false"
        assert error.response.headers["anthropic-ratelimit-unified-status"] == "rejected"
    await served.settled(4)
    spend = await served.spend()
    assert budget_row(spend, "key", "bud_a")["spent_usd"] == pytest.approx(1.0)
    assert budget_row(spend, "key", "bud_o")["spent_usd"] == pytest.approx(1.0)
    by_key = {row["key"]: row for row in spend["keys"]}
    assert by_key["bud_a"]["cost_usd"] == pytest.approx(1.0)


async def test_team_and_customer_budgets_are_shared_by_their_keys(served: Wired) -> None:
    await _ask_anthropic(served, "t1")
    await _ask_openai(served, "t2")  # the team's $2 is now spent, by two different keys
    with pytest.raises(anthropic.RateLimitError) as team_refusal:
        await _ask_anthropic(served, "t1")
    assert "team 'platform'" in team_refusal.value.body["error"]["message"]

    await _ask_anthropic(served, "t3")  # another team of the same customer: the customer's $3 is now spent
    with pytest.raises(openai.RateLimitError) as customer_refusal:
        await _ask_openai(served, "t3")
    assert "customer 'acme'" in customer_refusal.value.body["message"]

    spend = await served.spend()
    assert budget_row(spend, "team", "platform")["spent_usd"] == pytest.approx(2.0)
    assert budget_row(spend, "team", "data")["spent_usd"] == pytest.approx(1.0)
    assert budget_row(spend, "customer", "acme")["spent_usd"] == pytest.approx(3.0)
    assert budget_row(spend, "key", "t1")["spent_usd"] == pytest.approx(1.0)


async def _openai_stream_upstream(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    assert body["stream"] and body["stream_options"]["include_usage"]
    content = openai_sse("streamed", body["model"], completion_tokens=3)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=content)


async def test_streamed_requests_are_charged_canonical_and_passthrough(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec["providers"]["llm"] = {"type": "openai", "base_url": "http://llm.test/v1", "api_key_env": "LLM_KEY"}
    spec["models"]["chat"] = {"target": "llm/gpt-chat", "pricing": dict(DOLLAR_PER_TOKEN)}
    environ = {"LLM_KEY": "sk-upstream-llm-0123456789"}
    upstreams = FakeUpstreams(**{"llm.test": _openai_stream_upstream})
    gateway = compile_gateway(tmp_path, spec, environ)
    async with wired_server(gateway, environ, transport=upstreams.transport()) as wired:
        async with wired.anthropic(KEYS["t3"]).messages.stream(
            model="echo",
            max_tokens=3,
            messages=user("one two three"),  # 3 tokens: the customer's $3
        ) as stream:
            canonical = await stream.get_final_message()
        # An OpenAI client asking for usage on an OpenAI upstream: upstream bytes are relayed unchanged.
        relayed = await wired.openai(KEYS["rl_o"]).chat.completions.create(
            model="chat", messages=user("hi"), stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in relayed]
        await wired.settled(2)  # streams are charged after their last byte
        spend = await wired.spend()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert budget_row(spend, "key", "t3")["spent_usd"] == pytest.approx(canonical.usage.output_tokens)
    assert budget_row(spend, "customer", "acme")["spent_usd"] == pytest.approx(canonical.usage.output_tokens)
    assert budget_row(spend, "key", "rl_o")["spent_usd"] == pytest.approx(3.0)


async def _embeddings_upstream(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    data = [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]
    usage = {"prompt_tokens": 4, "total_tokens": 4}
    return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"], "usage": usage})


async def test_embeddings_are_charged_to_the_keys_budget(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec["providers"]["emb"] = {"type": "openai", "base_url": "http://emb.test/v1", "api_key_env": "EMB_KEY"}
    spec["models"]["embed"] = {"target": "emb/text-embedding-3-small", "pricing": {"input": 1_000_000, "output": 0}}
    environ = {"EMB_KEY": "sk-upstream-emb-0123456789"}
    upstreams = FakeUpstreams(**{"emb.test": _embeddings_upstream})
    gateway = compile_gateway(tmp_path, spec, environ)
    async with wired_server(gateway, environ, transport=upstreams.transport()) as wired:
        # rl_o has no budget: at $1 a token acme's $3 could not hold this body's input estimate.
        result = await wired.openai(KEYS["rl_o"]).embeddings.create(model="embed", input="some text")
        assert result.data[0].embedding == [0.1, 0.2]
        await wired.settled(1)
        spend = await wired.spend()
    assert budget_row(spend, "key", "rl_o")["spent_usd"] == pytest.approx(4.0)  # 4 prompt tokens at $1 each
