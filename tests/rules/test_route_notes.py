"""A feature a route loses to its provider's rules is said, not silent: once per route at start-up (the log) and
by `bifrostc explain` (the real command)."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import sys

import pytest

from bifrostc.runtime import config
from bifrostc.runtime.app import create_app

SPEC = """version: 1
providers:
  mistral: {type: mistral, api_key_env: UPSTREAM_MISTRAL_KEY}
  azure:
    type: azure
    base_url: https://contoso.openai.azure.com
    api_key_env: UPSTREAM_AZURE_KEY
    options: {api_version: "2024-10-21"}
  bedrock: {type: bedrock, options: {region: us-east-1, api: invoke}}
models:
  coder: {target: mistral/devstral-medium-latest}
  reasoner: {target: azure/o3}
  claude: {target: bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0}
"""


async def _explain(tmp_path: pathlib.Path, model: str) -> str:
    (tmp_path / "gateway.yaml").write_text(SPEC)
    env = {**os.environ, "UPSTREAM_MISTRAL_KEY": "x", "UPSTREAM_AZURE_KEY": "x"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bifrostc.compiler.cli", "explain", "gateway.yaml", model,
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_explain_says_what_each_target_loses(tmp_path: pathlib.Path) -> None:
    coder = await _explain(tmp_path, "coder")
    assert "mistral refuses unknown fields: only its documented ones are sent (no user, stream_options)" in coder
    assert "mid-conversation system messages folded into the system prompt (options.system_turns: keep)" in coder
    reasoner = await _explain(tmp_path, "reasoner")
    assert "api-version 2024-10-21 is older than 2025-04-01-preview, which o3 needs: Azure refuses it" in reasoner
    assert "not sent to o3 (its model class refuses them): " in reasoner
    claude = await _explain(tmp_path, "claude")
    assert (
        "Anthropic fields bedrock refuses are not sent: service_tier, container, mcp_servers, tags, metadata" in claude
    )


def test_start_up_logs_each_route_once(caplog: pytest.LogCaptureFixture) -> None:
    provider = config.Provider(name="m", type="mistral", base_url="http://127.0.0.1:9/v1")
    route = config.Route(name="coder", targets=(config.Target(provider="m", model="mistral-large-latest"),))
    gateway = config.Gateway(providers={"m": provider}, routes={"coder": route})
    with caplog.at_level(logging.INFO, logger="bifrostc.providers"):
        create_app(gateway, environ={})
    lines = [r.getMessage() for r in caplog.records if r.name == "bifrostc.providers"]
    assert "route coder -> m/mistral-large-latest: mistral refuses unknown fields" in lines[0]
    assert len(lines) == len(set(lines)) >= 2
