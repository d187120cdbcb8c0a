"""`server.mcp_default: deny`: through a real `bifrostc serve`, a key sees only the MCP tools it is granted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from tests.integration.serve_process import serve_spec
from tests.mcp.mcp_harness import STDIO_SERVER, mcp_client

ENV = {"GRANTED_KEY": "sk-bfc-granted-0123456789", "PLAIN_KEY": "sk-bfc-plain-0123456789"}


def _spec(default: str) -> str:
    return f"""version: 1
server: {{port: {{port}}, require_key: true, mcp_default: {default}}}
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo}}
virtual_keys:
  - {{name: granted, key_env: GRANTED_KEY, allowed_mcp_tools: ["alpha__echo"]}}
  - {{name: plain, key_env: PLAIN_KEY}}
mcp_servers:
  alpha:
    transport: stdio
    command: [{json.dumps(sys.executable)}, {json.dumps(str(STDIO_SERVER))}]
observability: {{log_store: none}}
"""


async def _tools(url: str, key: str) -> list[str]:
    async with mcp_client(url, key=key) as client:
        return sorted(tool.name for tool in (await client.list_tools()).tools)


async def test_with_mcp_default_deny_a_key_without_grants_sees_and_calls_no_tool(tmp_path: Path) -> None:
    async with serve_spec(tmp_path, _spec("deny"), ENV) as served:
        url = f"{served.url}/mcp"
        assert await _tools(url, ENV["GRANTED_KEY"]) == ["alpha__echo"]
        assert await _tools(url, ENV["PLAIN_KEY"]) == []
        async with mcp_client(url, key=ENV["PLAIN_KEY"]) as client:
            assert (await client.list_prompts()).prompts == []
            with pytest.raises(MCPError):
                await client.call_tool("alpha__echo", {"text": "hi"})


async def test_the_default_allow_keeps_every_tool_for_a_key_without_grants(tmp_path: Path) -> None:
    async with serve_spec(tmp_path, _spec("allow"), ENV) as served:
        tools = await _tools(f"{served.url}/mcp", ENV["PLAIN_KEY"])
    assert "alpha__echo" in tools and len(tools) > 1
