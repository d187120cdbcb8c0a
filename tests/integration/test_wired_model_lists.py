"""The model lists and model pages through the wired gateway, with the official SDKs: keys required, cut to the
caller's grants, and the ``claude-<route>`` ids Claude Code's discovery keeps, which route like any name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from bifrostc.compiler.validate import validate_text
from tests.integration.wired import base_spec, compile_gateway, sha256, user, wired_server

ALICE = "sk-bfc-alice-0123456789"  # may use echo only
BOB = "sk-bfc-bob-0123456789"  # may use everything
CLAUDE_CODE_KEEPS = re.compile("claude|anthropic", re.IGNORECASE)  # Claude Code's filter on discovered ids


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["models"] |= {"gpt-big": {"target": "mock/gpt-5"}, "claude-native": {"target": "mock/claude-sonnet-4-5"}}
    spec["claude_code"] = {"sonnet": "gpt-big"}
    spec["virtual_keys"] = [
        {"name": "alice", "key_sha256": sha256(ALICE), "allowed_models": ["echo"]},
        {"name": "bob", "key_sha256": sha256(BOB)},
    ]
    return spec


@pytest.fixture
async def served(tmp_path: Path):
    async with wired_server(compile_gateway(tmp_path, _spec(tmp_path))) as wired:
        yield wired


async def test_the_lists_need_a_key_and_hold_only_what_it_may_use(served) -> None:
    for path in ("/anthropic/v1/models", "/v1/models", "/anthropic/v1/models/echo", "/v1/models/echo"):
        refused = await served.http.get(f"{served.url}{path}")
        assert refused.status_code == 401, path
    with pytest.raises(anthropic.AuthenticationError):
        await served.anthropic("sk-bfc-nobody").models.list()
    alice = [m.id async for m in served.anthropic(ALICE).models.list()]
    bob = [m.id async for m in served.anthropic(BOB).models.list()]
    assert alice == ["claude-echo", "echo"]
    assert bob == ["claude-echo", "claude-gpt-big", "claude-native", "echo", "gpt-big", "sonnet"]
    # OpenAI clients get the public names (no generated ids), cut the same way
    assert [m.id async for m in served.openai(ALICE).models.list()] == ["echo"]
    assert [m.id async for m in served.openai(BOB).models.list()] == ["claude-native", "echo", "gpt-big", "sonnet"]


async def test_every_route_has_an_id_claude_code_keeps_saying_where_it_goes(served) -> None:
    listed = [m async for m in served.anthropic(BOB).models.list()]
    kept = [m for m in listed if CLAUDE_CODE_KEEPS.search(m.id)]
    routes = {m.display_name.partition(" → ")[0] for m in kept}
    assert routes == {"echo", "gpt-big", "claude-native"}
    big = next(m for m in kept if m.id == "claude-gpt-big")
    assert big.display_name == "gpt-big → mock/gpt-5"


async def test_a_generated_id_routes_and_is_granted_as_its_route(served) -> None:
    reply = await served.anthropic(BOB).messages.create(model="claude-gpt-big", max_tokens=8, messages=user("hi"))
    assert reply.model == "claude-gpt-big"
    via_alice = await served.anthropic(ALICE).messages.create(model="claude-echo", max_tokens=8, messages=user("hi"))
    assert via_alice.content[0].type == "text"
    with pytest.raises(anthropic.BadRequestError):  # alice may use echo only, under any of its ids (400: a grant)
        await served.anthropic(ALICE).messages.create(model="claude-gpt-big", max_tokens=8, messages=user("hi"))


async def test_model_pages_answer_in_each_dialect(served) -> None:
    page = await served.anthropic(BOB).models.retrieve("claude-gpt-big")
    assert page.id == "claude-gpt-big" and page.display_name == "gpt-big → mock/gpt-5"
    tier = await served.anthropic(BOB).models.retrieve("claude-sonnet-4-5-20250929")  # a Claude id: the tier
    assert tier.display_name == "gpt-big → mock/gpt-5"
    oai = await served.openai(BOB).models.retrieve("echo")
    assert oai.id == "echo" and oai.object == "model"
    with pytest.raises(anthropic.NotFoundError):
        await served.anthropic(BOB).models.retrieve("no-such-model")
    with pytest.raises(anthropic.NotFoundError):  # a route alice may not use is not hers to see
        await served.anthropic(ALICE).models.retrieve("gpt-big")
    with pytest.raises(openai.NotFoundError):
        await served.openai(ALICE).models.retrieve("gpt-big")


def test_validate_warns_for_a_route_claude_code_would_hide(tmp_path: Path) -> None:
    spec = """
version: 1
providers: {mock: {type: mock}}
models:
  fast: {target: mock/fast}
  claude-fast: {target: mock/other}
"""
    found = validate_text(spec)
    warnings = [d.message for d in found.diagnostics if not d.is_error]
    assert any("Claude Code's model discovery hides route 'fast'" in w for w in warnings), warnings
