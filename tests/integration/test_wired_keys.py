"""Virtual keys through the wired gateway: authentication, grants, rate limits and budgets in both dialects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.integration.wired import DOLLAR_PER_TOKEN, base_spec, budget_row, compile_gateway, sha256, user, wired_server

ALICE = "sk-bfc-alice-0123456789"
BOB = "sk-bfc-bob-0123456789"
CAROL = "sk-bfc-carol-0123456789"
ENV = {"ADMIN_KEY": "admin-secret", "CAROL_KEY": CAROL}


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"]["admin_key_env"] = "ADMIN_KEY"
    spec["providers"] |= {"mock_a": {"type": "mock"}, "mock_b": {"type": "mock"}}
    spec["models"] |= {
        "private": {"target": "mock/private", "pricing": dict(DOLLAR_PER_TOKEN)},
        "spread": {"targets": [{"provider": "mock_a", "model": "echo"}, {"provider": "mock_b", "model": "echo"}]},
        "only_a": {"target": "mock_a/echo"},
    }
    spec["virtual_keys"] = [
        {"name": "alice", "key_sha256": sha256(ALICE), "allowed_models": ["echo", "spread", "only_a"]},
        {"name": "bob", "key_sha256": sha256(BOB), "allowed_providers": ["mock_b"]},
        {"name": "carol", "key_env": "CAROL_KEY"},
    ]
    return spec


@pytest.fixture
async def served(tmp_path: Path):
    async with wired_server(compile_gateway(tmp_path, _spec(tmp_path), ENV), ENV) as wired:
        yield wired


async def test_missing_key_is_401_in_each_dialects_error_json(served) -> None:
    body = {"model": "echo", "max_tokens": 8, "messages": user("hi")}
    anth = await served.http.post(f"{served.url}/anthropic/v1/messages", json=body)
    oai = await served.http.post(f"{served.url}/v1/chat/completions", json=body)
    assert anth.status_code == oai.status_code == 401
    assert anth.json()["type"] == "error" and anth.json()["error"]["type"] == "authentication_error"
    assert oai.json()["error"]["code"] == "invalid_api_key"


async def test_unknown_key_raises_the_sdks_authentication_error(served) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        await served.anthropic("sk-bfc-nobody").messages.create(model="echo", max_tokens=8, messages=user("hi"))
    with pytest.raises(openai.AuthenticationError):
        await served.openai("sk-bfc-nobody").chat.completions.create(model="echo", messages=user("hi"))


async def test_x_api_key_and_bearer_both_authenticate(served) -> None:
    via_header = await served.anthropic(ALICE).messages.create(model="echo", max_tokens=8, messages=user("one"))
    via_bearer = await served.anthropic(ALICE, bearer=True).messages.create(
        model="echo", max_tokens=8, messages=user("two")
    )
    via_openai = await served.openai(CAROL).chat.completions.create(model="echo", messages=user("three"))
    assert [via_header.content[0].text, via_bearer.content[0].text] == ["one", "two"]
    assert via_openai.choices[0].message.content == "three"
    rows = await served.logs(3)
    assert sorted(r["virtual_key"] for r in rows) == ["alice", "alice", "carol"]


async def test_model_outside_the_keys_grant_is_a_400(served) -> None:
    """Claude Code's gateway contract: a denied model is a 400 invalid_request_error (a 403 means "not allowed at
    all"), in both dialects."""
    with pytest.raises(anthropic.BadRequestError) as anth:
        await served.anthropic(ALICE).messages.create(model="private", max_tokens=8, messages=user("hi"))
    with pytest.raises(openai.BadRequestError) as oai:
        await served.openai(ALICE).chat.completions.create(model="private", messages=user("hi"))
    assert anth.value.status_code == 400
    assert anth.value.body["error"]["type"] == "invalid_request_error"
    assert oai.value.body["type"] == "invalid_request_error" and oai.value.body["code"] == "model_not_allowed"


async def test_allowed_providers_steer_the_target_choice(served) -> None:
    client = served.anthropic(BOB)
    for n in range(6):
        raw = await client.messages.with_raw_response.create(model="spread", max_tokens=8, messages=user(f"q{n}"))
        assert raw.headers["x-bifrostc-provider"] == "mock_b"
    # A route whose every target is a provider the key may not use is refused, not served elsewhere.
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.create(model="only_a", max_tokens=8, messages=user("hi"))


async def test_a_route_outside_allowed_providers_does_not_charge_the_key(served) -> None:
    with pytest.raises(openai.BadRequestError):
        await served.openai(BOB).chat.completions.create(model="only_a", messages=user("hi"))
    row = budget_row(await served.spend(), "key", "bob")
    assert row["spent_usd"] == 0


async def test_count_tokens_honours_the_keys_model_grant(served) -> None:
    client = served.anthropic(ALICE)
    counted = await client.messages.count_tokens(model="echo", messages=user("how many tokens is this?"))
    assert counted.input_tokens > 0
    with pytest.raises(anthropic.BadRequestError):
        await client.messages.count_tokens(model="private", messages=user("hi"))
    with pytest.raises(anthropic.AuthenticationError):
        await served.anthropic("sk-bfc-nobody").messages.count_tokens(model="echo", messages=user("hi"))
