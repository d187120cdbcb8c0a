"""The README's promise, literally: `bifrostc build`, `bifrostc serve out/`, `source out/env.sh`, then `claude`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_claude_code import FINAL_TEXT, claude_binary, fake_openai_upstream, run_claude
from tests.integration.replicas import build, free_port, replicas

pytestmark = pytest.mark.claude_cli

SPEC = """\
version: 1
server: {{port: {port}, require_key: true}}
providers:
  upstream: {{type: openai, base_url: "{upstream}/v1", api_key_env: UPSTREAM_KEY}}
models:
  coder: {{target: upstream/gpt-5}}
  quick: {{target: upstream/gpt-5-mini}}
claude_code: {{sonnet: coder, opus: coder, haiku: quick, key_env: TEAM_GATEWAY_KEY}}
virtual_keys:
  - {{name: team, key_env: TEAM_GATEWAY_KEY{budget}}}
observability: {{log_store: none}}
"""
SECRETS = {"UPSTREAM_KEY": "sk-upstream-not-for-clients", "TEAM_GATEWAY_KEY": "sk-bfc-team-e2e-key"}


def sourced(env_sh: Path, base: dict[str, str]) -> dict[str, str]:
    """The environment after `source out/env.sh` in bash."""
    dump = subprocess.run(
        ["bash", "-c", f"source {env_sh} && env -0"], env=base, capture_output=True, check=True
    ).stdout
    return dict(item.split("=", 1) for item in dump.decode().split("\0") if "=" in item)


async def _claude_via_env_sh(
    live_server: Any, tmp_path: Path, seen: list[dict[str, Any]], budget: str = "", env_file: str = "env.sh"
) -> tuple[int, bytes, bytes, dict[str, str], Path]:
    """Build the spec, serve out/ in a real `bifrostc serve`, source out/<env_file> and run `claude -p`."""
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    async with live_server(fake_openai_upstream(seen)) as upstream_url:
        port = free_port()
        spec = tmp_path / "gateway.yaml"
        spec.write_text(SPEC.format(port=port, upstream=upstream_url, budget=budget))
        await asyncio.to_thread(build, spec, tmp_path / "out")
        env_sh = (tmp_path / "out" / env_file).read_text()
        assert SECRETS["TEAM_GATEWAY_KEY"] not in env_sh and SECRETS["UPSTREAM_KEY"] not in env_sh

        with replicas(tmp_path / "out", 1, SECRETS, cwd=tmp_path, ports=[port]):
            base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **SECRETS}
            env = sourced(tmp_path / "out" / env_file, base)
            env.pop("UPSTREAM_KEY")  # the client only ever holds its gateway key
            env |= {"IS_SANDBOX": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
            returncode, stdout, stderr = await run_claude(binary, env, work)
    return returncode, stdout, stderr, env, work


async def test_source_env_sh_then_claude_just_works(live_server: Any, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    returncode, stdout, stderr, env, work = await _claude_via_env_sh(live_server, tmp_path, seen)
    assert returncode == 0, stderr.decode()[-2000:] + stdout.decode()[-2000:]
    assert env["ANTHROPIC_API_KEY"] == SECRETS["TEAM_GATEWAY_KEY"]
    assert (work / "marker.txt").read_text().strip() == "hi"
    assert FINAL_TEXT in json.loads(stdout)["result"]
    assert {body["model"] for body in seen} <= {"gpt-5", "gpt-5-mini"}


async def test_an_exhausted_budget_stops_claude_code_at_once_with_the_reason(live_server: Any, tmp_path: Path) -> None:
    # A 429 that Claude Code would retry with backoff would leave the user waiting for minutes (and time out
    # run_claude); the gateway's budget refusal carries a retry-after up to the period's reset, and Claude Code
    # stops with the gateway's message instead.
    seen: list[dict[str, Any]] = []
    returncode, stdout, _, _, _ = await _claude_via_env_sh(
        live_server, tmp_path, seen, budget=", budget: {max_usd: 0, period: 1d}"
    )
    result = json.loads(stdout)
    assert returncode != 0 and result["is_error"] is True
    assert "budget of key 'team' is used up" in result["result"] and result["api_error_status"] == 429
    assert seen == []  # refused at the gateway: no upstream call, no spend


@pytest.mark.parametrize("env_file", ["env.bedrock.sh", "env.vertex.sh"])
async def test_a_team_on_bedrock_or_vertex_switches_by_sourcing_one_file(
    live_server: Any, tmp_path: Path, env_file: str
) -> None:
    """Keys required: the virtual key rides ANTHROPIC_CUSTOM_HEADERS, which Claude Code sends in both modes."""
    seen: list[dict[str, Any]] = []
    returncode, stdout, stderr, env, work = await _claude_via_env_sh(live_server, tmp_path, seen, env_file=env_file)
    assert returncode == 0, stderr.decode()[-2000:] + stdout.decode()[-2000:]
    assert "ANTHROPIC_BASE_URL" not in env and env["ANTHROPIC_CUSTOM_HEADERS"].endswith(SECRETS["TEAM_GATEWAY_KEY"])
    assert (work / "marker.txt").read_text().strip() == "hi"
    assert FINAL_TEXT in json.loads(stdout)["result"]
    assert {body["model"] for body in seen} <= {"gpt-5", "gpt-5-mini"}
