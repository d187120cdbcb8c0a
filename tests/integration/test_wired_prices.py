"""Prices: the refreshed table bills models a team routes today (Gemini 3 behind OpenRouter, DeepSeek V4, Nova ids),
``validate`` names every routed model the budgets cannot count, and ``server.budgets_refuse_unpriced`` makes a
budgeted key refuse such a route rather than spend on it uncounted."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx
import orjson
import pytest
import yaml

from bifrostc.runtime.governance.pricing import find_price
from tests.integration.wired import FakeUpstreams, Wired, base_spec, compile_gateway, sha256, user, wired_server

BUDGETED = "sk-bfc-budgeted-0123456789"
FREE_RANGE = "sk-bfc-free-range-0123456789"
ENV = {"OR_KEY": "sk-or-up"}
USAGE = {"prompt_tokens": 1_000_000, "completion_tokens": 100_000, "total_tokens": 1_100_000}


async def openrouter(request: httpx.Request) -> httpx.Response:
    """OpenRouter's chat completions (OpenAI-compatible), usage in every answer; it wants a bearer key."""
    if request.headers.get("authorization") != "Bearer sk-or-up":
        return httpx.Response(401, json={"error": {"message": "No auth credentials found", "code": 401}})
    body = orjson.loads(request.content)
    message = {"role": "assistant", "content": "priced"}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    completion = {"id": "gen-1", "object": "chat.completion", "created": 1, "model": body["model"]}
    return httpx.Response(200, json={**completion, "choices": [choice], "usage": USAGE})


def _spec(tmp_path: Path) -> dict[str, object]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"]["budgets_refuse_unpriced"] = True
    spec["providers"]["or"] = {"type": "openrouter", "base_url": "http://or.test/api/v1", "api_key_env": "OR_KEY"}
    spec["models"] |= {
        "gem3": {"target": "or/google/gemini-3-pro-preview"},  # priced by the built-in table
        "mystery": {"target": "or/acme/unknown-model-7b"},  # priced nowhere
    }
    spec["virtual_keys"] = [
        {"name": "budgeted", "key_sha256": sha256(BUDGETED), "budget": {"max_usd": 100, "period": "1d"}},
        {"name": "free-range", "key_sha256": sha256(FREE_RANGE)},
    ]
    return spec


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Wired]:
    upstreams = FakeUpstreams(**{"or.test": openrouter})
    gateway = compile_gateway(tmp_path, _spec(tmp_path), ENV)
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        yield wired


async def test_a_gemini_3_route_behind_openrouter_is_billed_from_the_table(served: Wired) -> None:
    await served.anthropic(BUDGETED).messages.create(model="gem3", max_tokens=8, messages=user("hi"))
    (row,) = await served.logs(1)
    assert row["cost_usd"] == pytest.approx(2.0 * 1 + 12.0 * 0.1)  # $2 in, $12 out per million (ai.google.dev)
    spend = await served.spend()
    assert any(b["name"] == "budgeted" and b["spent_usd"] == pytest.approx(3.2) for b in spend["budgets"]), spend


async def test_a_budgeted_key_refuses_an_unpriced_route_others_may_use_it(served: Wired) -> None:
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        await served.anthropic(BUDGETED).messages.create(model="mystery", max_tokens=8, messages=user("hi"))
    assert "or/acme/unknown-model-7b" in refused.value.message and "no price" in refused.value.message
    reply = await served.anthropic(FREE_RANGE).messages.create(model="mystery", max_tokens=8, messages=user("hi"))
    assert reply.content[0].type == "text"


@pytest.mark.parametrize(
    "model", ["gemini-3-pro-preview", "gemini-3-flash-preview", "deepseek-v4-pro", "us.amazon.nova-pro-v1:0"]
)
def test_the_table_knows_the_models_teams_route_today(model: str) -> None:
    assert find_price("any", model) is not None


def test_validate_warns_for_every_routed_model_without_a_price(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec["models"]["mystery"]["fallbacks"] = ["or/acme/another-unknown"]  # type: ignore[index]
    spec["claude_code"] = {"haiku": "or/acme/tiny-unknown"}  # a tier straight to provider/model
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(spec))
    argv = [sys.executable, "-m", "bifrostc.compiler.cli", "validate", str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={"OR_KEY": "x", "PATH": ""})
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "budgets will not count this route" in line]
    assert len(lines) == 3, result.stderr
    assert "models.mystery.target: no price for or/acme/unknown-model-7b" in "".join(lines)
    assert "models.mystery.fallbacks[0]: no price for or/acme/another-unknown" in "".join(lines)
    assert "claude_code.haiku: no price for or/acme/tiny-unknown" in "".join(lines)
    assert all(line.endswith("add pricing:") for line in lines)
