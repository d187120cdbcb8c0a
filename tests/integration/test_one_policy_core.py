"""One routing and policy core: the served gateway, count_tokens and `bifrostc explain` answer every model string
and every key grant alike (issue 9, findings 5 and 8).

The same table runs through each surface: Anthropic Messages, OpenAI Chat, count_tokens (HTTP status) and the
`bifrostc explain` command line (exit 0 served, 1 refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bifrostc.compiler.cli import main
from tests.integration.wired import base_spec, compile_gateway, sha256, user, wired_server

KEYS = ("by_route", "by_alias", "cheap_only", "glob", "only_b", "claude_glob", "anyone")
ALLOWED, DENIED = 200, 400  # a denied model: 400 invalid_request_error

# (key, model string, status): a grant matches the string asked for or any name of the route it resolves to.
TABLE = [
    ("by_route", "claude-opus-4-1-20250805", ALLOWED),  # a Claude model id on the opus tier route
    ("by_route", "brainy", ALLOWED),  # an alias of the granted route
    ("by_alias", "smart", ALLOWED),  # the route a granted alias names
    ("by_alias", "claude-sonnet-4-5", ALLOWED),  # the sonnet tier is that route too
    ("by_route", "cheap", DENIED),
    ("cheap_only", "claude-haiku-4-5", ALLOWED),
    ("cheap_only", "claude-sonnet-4-5", DENIED),
    ("cheap_only", "mock/cheap-model", DENIED),  # a provider/model string is its own name
    ("cheap_only", "bare-model", DENIED),  # a bare name for the default provider, too
    ("glob", "mock/anything", ALLOWED),
    ("glob", "smart", DENIED),
    ("only_b", "smart", ALLOWED),  # its targets are on `mock`, its fallback `backup` is on `mock_b`
    ("only_b", "cheap", DENIED),  # no route of the chain has a provider the key may use
    ("only_b", "mock_b/direct", ALLOWED),
    ("only_b", "mock/direct", DENIED),
    ("by_route", "claude-smart", ALLOWED),  # the generated discovery id the model lists offer Claude Code
    ("cheap_only", "claude-smart", DENIED),
    ("claude_glob", "claude-sonnet-4-5", ALLOWED),  # a Claude model id matches the glob
    ("claude_glob", "claude-smart", DENIED),  # a discovery id stands for its route's names only
]


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"] = {"require_key": True, "default_provider": "mock"}
    spec["providers"] |= {"mock_b": {"type": "mock"}}
    spec["models"] = {
        "smart": {"target": "mock/smart-model", "aliases": ["brainy"], "fallbacks": ["backup"]},
        "backup": {"target": "mock_b/backup-model"},
        "cheap": {"target": "mock/cheap-model"},
    }
    spec["claude_code"] = {"opus": "smart", "sonnet": "smart", "haiku": "cheap"}
    grants: dict[str, dict[str, list[str]]] = {
        "by_route": {"allowed_models": ["smart"]},
        "by_alias": {"allowed_models": ["brainy"]},
        "cheap_only": {"allowed_models": ["cheap"]},
        "glob": {"allowed_models": ["mock/*"]},
        "only_b": {"allowed_providers": ["mock_b"]},
        "claude_glob": {"allowed_models": ["claude-*"]},
        "anyone": {},
    }
    spec["virtual_keys"] = [{"name": name, "key_sha256": sha256(_secret(name)), **grants[name]} for name in KEYS]
    return spec


def _secret(name: str) -> str:
    return f"sk-bfc-{name}-0123456789"


async def test_every_surface_answers_the_grant_table_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gateway = compile_gateway(tmp_path, _spec(tmp_path))
    seen: dict[tuple[str, str], dict[str, int]] = {}
    async with wired_server(gateway) as served:
        for key, model, _ in TABLE:
            headers = {"x-api-key": _secret(key)}
            body = {"model": model, "max_tokens": 8, "messages": user("hi")}
            anthropic = await served.http.post(f"{served.url}/anthropic/v1/messages", json=body, headers=headers)
            openai = await served.http.post(f"{served.url}/v1/chat/completions", json=body, headers=headers)
            counted = await served.http.post(
                f"{served.url}/anthropic/v1/messages/count_tokens", json=body, headers=headers
            )
            code = main(["explain", str(tmp_path / "gateway.yaml"), model, "--key", key])
            explained = {0: ALLOWED, 1: DENIED}.get(code, code)
            seen[key, model] = {
                "messages": anthropic.status_code,
                "chat": openai.status_code,
                "count_tokens": counted.status_code,
                "explain": explained,
            }
    capsys.readouterr()
    expected = {
        (key, model): dict.fromkeys(("messages", "chat", "count_tokens", "explain"), status)
        for key, model, status in TABLE
    }
    assert seen == expected


async def test_explain_names_the_target_the_gateway_serves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each kind of model string the gateway accepts (tier name, Claude model id, alias, provider/model, a bare name
    for the default provider): explain exits 0 and names the target that answered; one it refuses: 404 and 1."""
    gateway = compile_gateway(tmp_path, _spec(tmp_path))
    headers = {"x-api-key": _secret("anyone")}
    async with wired_server(gateway) as served:
        for model in ("claude-opus-4-1-20250805", "opus", "brainy", "mock_b/direct", "bare-model", "nowhere/x"):
            body = {"model": model, "max_tokens": 8, "messages": user("hi")}
            response = await served.http.post(f"{served.url}/anthropic/v1/messages", json=body, headers=headers)
            code = main(["explain", str(tmp_path / "gateway.yaml"), model, "--key", "anyone"])
            out = capsys.readouterr().out
            if model == "nowhere/x":
                assert (response.status_code, code) == (404, 1)
                assert "model 'nowhere/x' is not served by this gateway" in out
                continue
            assert (response.status_code, code) == (200, 0), (model, response.text, out)
            served_by = f"{response.headers['x-bifrostc-provider']}/{response.headers['x-bifrostc-model']}"
            assert f"100.0%  {served_by}  keys:" in out, out
