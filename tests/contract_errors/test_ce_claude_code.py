"""Real Claude Code, headless, through `bifrostc serve` and `source out/env.sh` (issue 22 items 1 and 2).

- A spent budget ends the run after ONE request to the gateway, with the gateway's sentence: the 429
  `billing_error` carries `x-should-retry: false`, so Claude Code neither retries nor waits.
- An OpenAI-family upstream's context-length 400 reaches Claude Code as `prompt is too long: N tokens > M
  maximum`, so it compacts (its next request is a compaction request) and finishes the task.
- A key with budget left gets the `anthropic-ratelimit-unified-*` headers on every answer and Claude Code runs on.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.e2e.test_claude_code import MARKER_PROMPT, claude_binary, fake_openai_upstream, run_claude
from tests.e2e.test_claude_code_env_sh import sourced
from tests.integration.replicas import build, free_port, replicas

pytestmark = pytest.mark.claude_cli

SPEC = """\
version: 1
server: {{port: {port}, require_key: true}}
providers:
  upstream: {{type: openai, base_url: "{upstream}/v1", api_key_env: UPSTREAM_KEY, network: {{max_retries: 0}}}}
models:
  coder: {{target: upstream/gpt-5}}
claude_code: {{sonnet: coder, opus: coder, haiku: coder, key_env: TEAM_GATEWAY_KEY}}
virtual_keys:
  - {{name: team, key_env: TEAM_GATEWAY_KEY{budget}}}
observability: {{log_store: sqlite, sqlite_path: {db}}}
"""
SECRETS = {"UPSTREAM_KEY": "sk-upstream-not-for-clients", "TEAM_GATEWAY_KEY": "sk-bfc-team-errors-e2e"}
COMPACTION = "Your task is to create a detailed summary of the conversation"
OVERFLOW = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. "
    "Please reduce the length of the messages."
)


async def _run(live_server: Any, tmp_path: Path, upstream: Starlette, budget: str = "") -> tuple[dict[str, Any], int]:
    """`bifrostc build`, `bifrostc serve out/`, `source out/env.sh`, `claude -p`: its JSON result and how many
    requests the gateway logged."""
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    work, home, db = tmp_path / "work", tmp_path / "home", tmp_path / "log.db"
    work.mkdir()
    home.mkdir()
    async with live_server(upstream) as upstream_url:
        port = free_port()
        spec = tmp_path / "gateway.yaml"
        spec.write_text(SPEC.format(port=port, upstream=upstream_url, budget=budget, db=db))
        await asyncio.to_thread(build, spec, tmp_path / "out")
        with replicas(tmp_path / "out", 1, SECRETS, cwd=tmp_path, ports=[port]):
            base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **SECRETS}
            env = sourced(tmp_path / "out" / "env.sh", base)
            env.pop("UPSTREAM_KEY")
            env |= {"IS_SANDBOX": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
            _, stdout, stderr = await run_claude(binary, env, work)
    with sqlite3.connect(db) as conn:  # the gateway flushed its log when it stopped
        logged = conn.execute("SELECT count(*) FROM bifrostc_requests WHERE endpoint = 'messages'").fetchone()[0]
    assert stdout, stderr.decode()[-2000:]
    return json.loads(stdout), int(logged)


async def test_a_spent_budget_ends_the_run_after_one_request_with_the_gateways_sentence(
    live_server: Any, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []
    result, logged = await _run(
        live_server, tmp_path, fake_openai_upstream(seen), budget=", budget: {max_usd: 0, period: 1d}"
    )
    assert result["is_error"] is True and result["api_error_status"] == 429
    assert "The daily budget of key 'team' is used up: $0.00 of $0.00 spent; it resets at " in result["result"]
    assert logged == 1  # no retry: x-should-retry: false
    assert seen == []  # refused before any upstream call


async def test_a_budgeted_key_finishes_its_task_with_usage_headers_on_every_answer(
    live_server: Any, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []
    result, logged = await _run(
        live_server, tmp_path, fake_openai_upstream(seen), budget=", budget: {max_usd: 100, period: 1M}"
    )
    assert result["is_error"] is False, result
    assert (tmp_path / "work" / "marker.txt").read_text().strip() == "hi"
    assert logged == len(seen) >= 2


def overflowing_upstream(seen: list[dict[str, Any]]) -> Starlette:
    """The first request that carries the tool result overflows the context (an OpenAI-shaped 400); once Claude
    Code has compacted, the same conversation fits and the fake upstream finishes the task."""
    inner = fake_openai_upstream([])
    state = {"overflowed": False}

    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        text = json.dumps(body.get("messages", []))
        has_tool_result = any(m.get("role") == "tool" for m in body.get("messages", []))
        if has_tool_result and MARKER_PROMPT in text and COMPACTION not in text and not state["overflowed"]:
            state["overflowed"] = True
            error = {"message": OVERFLOW, "type": "invalid_request_error", "param": "messages"}
            return JSONResponse({"error": error | {"code": "context_length_exceeded"}}, status_code=400)
        return await inner.router.routes[0].endpoint(request)  # type: ignore[attr-defined, no-any-return]

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def test_an_openai_context_length_error_makes_claude_code_compact(live_server: Any, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    result, _ = await _run(live_server, tmp_path, overflowing_upstream(seen))
    overflowed = next(i for i, body in enumerate(seen) if any(m.get("role") == "tool" for m in body["messages"]))
    after = [json.dumps(body["messages"]) for body in seen[overflowed + 1 :]]
    assert after and COMPACTION in after[0], after[:1]  # its next request is a compaction request
    assert result["is_error"] is False, result
    assert (tmp_path / "work" / "marker.txt").read_text().strip() == "hi"
