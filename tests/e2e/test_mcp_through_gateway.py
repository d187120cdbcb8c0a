"""The MCP gateway as users run it: `bifrostc build` + `bifrostc serve`, reached through out/mcp.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.integration.replicas import _wait_healthy, build, free_port, replicas
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


async def test_mcp_answers_at_its_own_path_names_its_version_and_logs_each_tool_call(tmp_path: Path) -> None:
    port = free_port()
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC.format(port=port, python=json.dumps(sys.executable), server=json.dumps(str(STDIO_SERVER))))
    build(spec, tmp_path / "out")
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bifrostc.compiler.cli", "serve", "out", "--port", str(port)],
            env={**os.environ, **ENV},
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, proc)
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "probe", "version": "1"},
            },
        }
        headers = {
            "authorization": f"Bearer {ENV['CLAUDE_GW_KEY']}",
            "accept": "application/json, text/event-stream",
        }
        async with httpx.AsyncClient() as client:
            reply = await client.post(f"{base_url}/mcp", json=initialize, headers=headers)
        assert reply.status_code == 200, reply.text  # no 307 to /mcp/
        # The SDK answers a POST as JSON or as one SSE event, as the client's accept header allows.
        frames = [line.removeprefix("data:") for line in reply.text.splitlines() if line.startswith("data:")]
        payload = json.loads(frames[0] if frames else reply.text)
        assert payload["result"]["serverInfo"] == {"name": "bifrostc", "version": version("bifrostc")}
        async with mcp_client(f"{base_url}/mcp", key=ENV["CLAUDE_GW_KEY"]) as mcp:
            assert not (await mcp.call_tool("alpha__add", {"a": 2, "b": 3})).is_error
    finally:
        proc.terminate()
        proc.wait(15)
    text = log.read_text()
    assert "mcp tool call key=claude-code server=alpha tool=alpha__add status=ok latency_ms=" in text
    assert "Terminating session" not in text
