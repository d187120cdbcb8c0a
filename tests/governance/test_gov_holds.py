"""Budget holds: admission reserves a request's largest cost, settlement swaps it for the real one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import openai
import pytest
from gov_helpers import FakeClock, make_gateway

from bifrostc.runtime.config import Budget, VirtualKey
from bifrostc.runtime.errors import BudgetExceeded, RateLimited
from bifrostc.runtime.governance import governor as governor_module
from bifrostc.runtime.governance.governor import Governor
from bifrostc.runtime.governance.keys import KeyRing, hash_key
from bifrostc.runtime.governance.store import CounterStore
from tests.integration.wired import (
    FakeUpstreams,
    base_spec,
    budget_row,
    compile_gateway,
    openai_completion,
    sha256,
    user,
    wired_server,
)

KEY = "sk-bfc-holds-0123456789"
ENV = {"LLM_KEY": "sk-upstream-llm-0123456789"}


def _spec(tmp_path: Path, budget: float) -> dict[str, object]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"] = {"llm": {"type": "openai", "base_url": "http://llm.test/v1", "api_key_env": "LLM_KEY"}}
    # $1 a token, out only: a request with max_tokens 7 holds $7; the upstream answers 2 tokens ($2).
    spec["models"] = {"chat": {"target": "llm/gpt-chat", "pricing": {"input": 0, "output": 1_000_000}}}
    spec["virtual_keys"] = [{"name": "holds", "key_sha256": sha256(KEY), "budget": {"max_usd": budget}}]
    return spec


async def test_concurrent_requests_on_one_replica_never_pass_the_budget(tmp_path: Path) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)  # every request is in flight before any settles
        return httpx.Response(200, json=openai_completion("ok", json.loads(request.content)["model"]))

    upstreams = FakeUpstreams(**{"llm.test": slow})
    gateway = compile_gateway(tmp_path, _spec(tmp_path, 15), ENV)
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        client = wired.openai(KEY)

        async def ask() -> int:
            try:
                await client.chat.completions.create(model="chat", max_tokens=7, messages=user("hi"))
            except openai.APIStatusError as exc:
                return exc.status_code
            return 200

        statuses = await asyncio.gather(*(ask() for _ in range(10)))
        await wired.settled(10)
        spend = await wired.spend()
    # $15 holds two $7 requests at a time: two admitted, eight refused; $4 spent, never past $15.
    assert sorted(statuses) == [200, 200] + [429] * 8
    assert budget_row(spend, "key", "holds")["spent_usd"] == pytest.approx(4.0)
    assert len(upstreams.requests) == 2


async def test_a_failed_request_releases_its_hold(tmp_path: Path) -> None:
    replies = [httpx.Response(400, json={"error": {"message": "bad", "type": "invalid_request_error"}})]

    async def upstream(request: httpx.Request) -> httpx.Response:
        if replies:
            return replies.pop()
        return httpx.Response(200, json=openai_completion("ok", json.loads(request.content)["model"]))

    upstreams = FakeUpstreams(**{"llm.test": upstream})
    gateway = compile_gateway(tmp_path, _spec(tmp_path, 10), ENV)
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        client = wired.openai(KEY)
        with pytest.raises(openai.BadRequestError, match="bad"):
            await client.chat.completions.create(model="chat", max_tokens=7, messages=user("hi"))
        # The $7 hold of the failed request is gone: another $7 hold fits the $10 budget.
        answer = await client.chat.completions.create(model="chat", max_tokens=7, messages=user("hi"))
        await wired.settled(2)
        spend = await wired.spend()
    assert answer.choices[0].message.content == "ok"
    assert budget_row(spend, "key", "holds")["spent_usd"] == pytest.approx(2.0)


async def test_a_hold_nobody_settles_expires(
    store: CounterStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica that died mid-request never settles: its hold stops counting after its TTL."""
    monkeypatch.setattr(governor_module, "HOLD_TTL_SECONDS", 1)
    gateway = make_gateway(VirtualKey("alice", sha256=hash_key("sk-bfc-alice"), budget=Budget(1.0)))
    gov = Governor(gateway, store, keyring=KeyRing(gateway, {}), clock=clock)
    alice = gov.authenticate({"x-api-key": "sk-bfc-alice"})
    await gov.admit(alice, 0.8)  # never settled
    with pytest.raises(RateLimited) as refused:  # not a billing refusal: the budget is not spent
        await gov.admit(alice, 0.8)
    assert refused.value.retry_after == 1.0  # only a hold is in the way
    await asyncio.sleep(1.2)  # holds expire on the store's own clock (Redis TIME / wall clock)
    await gov.settle(await gov.admit(alice, 0.8), 0.5, 0)
    with pytest.raises(BudgetExceeded) as spent:
        await gov.admit(alice, 0.8)  # $0.50 spent + $0.80 does not fit, and no hold is in the way
    assert spent.value.retry_after is None


async def test_a_request_without_max_tokens_holds_the_configured_default(tmp_path: Path) -> None:
    async def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=openai_completion("ok", json.loads(request.content)["model"]))

    upstreams = FakeUpstreams(**{"llm.test": upstream})
    refused_spec = _spec(tmp_path, 10)  # gpt-chat documents no maximum: 32,000 tokens ($32,000) do not fit
    allowed_spec = _spec(tmp_path, 10) | {"server": {"require_key": True, "budget_default_max_tokens": 8}}
    for spec, expected in ((refused_spec, 429), (allowed_spec, 200)):
        gateway = compile_gateway(tmp_path, spec, ENV)
        async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
            try:
                await wired.openai(KEY).chat.completions.create(model="chat", messages=user("hi"))
                status = 200
            except openai.APIStatusError as exc:
                status = exc.status_code
        assert status == expected
