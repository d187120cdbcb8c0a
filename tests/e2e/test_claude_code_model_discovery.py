"""Real Claude Code's gateway model discovery (``CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1``) against the wired
gateway with keys required: it asks ``/anthropic/v1/models`` with its key, keeps the ids holding "claude" or
"anthropic" (what its ``/model`` picker shows, cached in ``~/.claude/cache/gateway-models.json``), and a
``-p --model <generated id>`` run goes through that route to an OpenAI-shaped upstream."""

from __future__ import annotations

import asyncio
import json
import pathlib
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from test_claude_code import FINAL_TEXT, claude_binary, fake_openai_upstream, headless_env, run_claude

from bifrostc.runtime.assembly import gateway_app
from tests.conftest import running_server
from tests.integration.wired import base_spec, compile_gateway, sha256

pytestmark = pytest.mark.claude_cli
KEY = "sk-bfc-dev-0123456789"
OTHER = "sk-bfc-other-0123456789"


class SeenPaths:
    """ASGI wrapper recording (path, query, credential present) of every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, str, bool]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            keyed = KEY.encode() in (headers.get(b"x-api-key", b""), headers.get(b"authorization", b"")[7:])
            self.seen.append((scope["path"], scope["query_string"].decode(), keyed))
        await self.app(scope, receive, send)


def _spec(tmp_path: pathlib.Path, upstream_url: str) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"]["fake"] = {"type": "openai", "base_url": f"{upstream_url}/v1", "api_key_env": "UP_KEY"}
    spec["models"] |= {
        "gpt-big": {"target": "fake/gpt-fake", "pricing": {"input": 1, "output": 1}},
        "secret": {"target": "mock/secret"},
    }
    spec["virtual_keys"] = [
        {"name": "dev", "key_sha256": sha256(KEY), "allowed_models": ["echo", "gpt-big"]},
        {"name": "other", "key_sha256": sha256(OTHER)},
    ]
    return spec


async def _discovered(cache: pathlib.Path) -> list[str]:
    for _ in range(50):  # discovery is fire-and-forget at start-up: the file may land just after the run
        if cache.exists():
            return [m["id"] for m in json.loads(cache.read_text())["models"]]
        await asyncio.sleep(0.1)
    return []


async def test_claude_code_discovers_the_keys_routes_and_runs_one_by_its_generated_id(live_server, tmp_path):
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    seen_upstream: list[dict[str, Any]] = []
    environ = {"UP_KEY": "sk-up"}
    async with live_server(fake_openai_upstream(seen_upstream)) as upstream_url:
        gateway = compile_gateway(tmp_path, _spec(tmp_path, upstream_url), environ)
        app = SeenPaths(gateway_app(gateway, environ=environ))
        work, home = tmp_path / "work", tmp_path / "home"
        work.mkdir()
        home.mkdir()
        async with running_server(app) as url:
            env = headless_env(home, url, "claude-gpt-big", ANTHROPIC_API_KEY=KEY)
            env["CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY"] = "1"
            env.pop("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC")
            code, out, err = await run_claude(binary, env, work, "--model", "claude-gpt-big")
            discovered = await _discovered(home / ".claude" / "cache" / "gateway-models.json")
    assert code == 0, err.decode()[-2000:] + out.decode()[-2000:]
    assert FINAL_TEXT in json.loads(out)["result"]
    assert ("/anthropic/v1/models", "limit=1000", True) in app.seen  # asked with its key
    assert discovered == ["claude-echo", "claude-gpt-big"]  # the key's routes, under ids it keeps; no "secret"
    assert seen_upstream and all(body["model"] == "gpt-fake" for body in seen_upstream)
