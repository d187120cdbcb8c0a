"""The MCP gateway as users run it: `bifrostc build` + `bifrostc serve`, reached through out/mcp.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.replicas import build, free_port, replicas
from tests.mcp.mcp_harness import STDIO_SERVER, mcp_client

SPEC = """\
version: 1
server: {{port: {port}, require_key: true}}
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo}}
claude_code: {{sonnet: echo, opus: echo, haiku: echo, key_env: CLAUDE_GW_KEY}}
virtual_keys:
  - {{name: claude-code, key_env: CLAUDE_GW_KEY, allowed_mcp_tools: ["alpha__echo", "alpha__add"]}}
  - {{name: ops, key_env: OPS_GW_KEY}}
mcp_servers:
  alpha:
    transport: stdio
    command: [{python}, {server}]
    deny_tools: [crash]
observability: {{log_store: none}}
"""
ENV = {"CLAUDE_GW_KEY": "sk-bfc-claude-e2e", "OPS_GW_KEY": "sk-bfc-ops-e2e"}


def _expand(text: str) -> str:
    """${VAR} expansion as Claude Code applies it to MCP configs."""
    return re.sub(r"\$\{(\w+)\}", lambda m: ENV[m.group(1)], text)


@pytest.fixture
def served(tmp_path: Path):
    port = free_port()
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC.format(port=port, python=json.dumps(sys.executable), server=json.dumps(str(STDIO_SERVER))))
    build(spec, tmp_path / "out")
    with replicas(tmp_path / "out", 1, ENV, cwd=tmp_path, ports=[port]) as urls:
        yield urls[0], tmp_path / "out"


async def test_mcp_json_reaches_the_gateway_with_the_keys_tool_grants(served: tuple[str, Path]) -> None:
    base_url, out = served
    config = json.loads(_expand((out / "mcp.json").read_text()))
    assert config["type"] == "http" and config["url"] == f"{base_url}/mcp"
    key = config["headers"]["Authorization"].removeprefix("Bearer ")

    async with mcp_client(config["url"], key=key) as client:
        names = sorted(tool.name for tool in (await client.list_tools()).tools)
        assert names == ["alpha__add", "alpha__echo"]
        result = await client.call_tool("alpha__add", {"a": 2, "b": 3})
        assert not result.is_error
        # Prompts and resources ride on the tool grants: alpha__* grants reach server alpha.
        assert [prompt.name for prompt in (await client.list_prompts()).prompts] == ["alpha__review"]
        readme = await client.read_resource("bifrostc://alpha/notes://readme")
        assert readme.contents[0].uri == "bifrostc://alpha/notes://readme"
    async with mcp_client(config["url"], key=ENV["OPS_GW_KEY"]) as client:
        names = sorted(tool.name for tool in (await client.list_tools()).tools)
        assert "alpha__env_value" in names and "alpha__crash" not in names


def _claude_bin() -> str | None:
    for candidate in (
        os.environ.get("BIFROSTC_CLAUDE_BIN"),
        shutil.which("claude"),
        "/tmp/cc/node_modules/.bin/claude",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.mark.claude_cli
def test_claude_mcp_add_json_connects_to_the_gateway(served: tuple[str, Path], tmp_path: Path) -> None:
    claude = _claude_bin()
    if claude is None:
        pytest.skip("Claude Code CLI not installed")
    _, out = served
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        **ENV,
        "HOME": str(home),
        "IS_SANDBOX": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_API_KEY": ENV["CLAUDE_GW_KEY"],
    }
    add = subprocess.run(
        [claude, "mcp", "add-json", "--scope", "user", "bifrostc", (out / "mcp.json").read_text()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert add.returncode == 0, add.stdout + add.stderr
    listing = subprocess.run(
        [claude, "mcp", "list"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90, check=False
    )
    line = next((ln for ln in listing.stdout.splitlines() if ln.startswith("bifrostc")), "")
    assert "Connected" in line, listing.stdout + listing.stderr
