"""Real Claude Code on each person's own Claude seat, through the gateway (issue 19).

The README's team flow, literally: `bifrostc build` a spec with `claude_code: {credentials: subscription}`, `bifrostc
serve out/`, `source out/env.sh` (which leaves ANTHROPIC_API_KEY unset and puts the virtual key in
ANTHROPIC_CUSTOM_HEADERS), then `claude -p`. `CLAUDE_CODE_OAUTH_TOKEN` stands in for `/login`: with it Claude Code
sends what it sends after a login (`Authorization: Bearer <token>` and the `oauth-2025-04-20` beta; measured
against a local capture, no network), while `ANTHROPIC_AUTH_TOKEN` sends the Bearer without the beta.

The sonnet tier is the person's seat (`auth: passthrough`, a fake Anthropic that accepts only the exact token with
the oauth beta); the haiku tier is the team's OpenAI key. The main turn starts a subagent on haiku (the Agent
tool's `model`), so one session uses both, and each credential must arrive only where it belongs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import Response
from test_claude_code import claude_binary, run_claude
from test_claude_code_env_sh import sourced

from tests.credentials.fakes import Seen, everything_seen, keyed_openai, subscription_anthropic
from tests.integration.replicas import _wait_healthy, build, free_port
from tests.runtime.rt_fakes import anthropic_text_stream, anthropic_tool_stream

pytestmark = pytest.mark.claude_cli
PROMPT = "SEAT-E2E: ask a haiku subagent for a greeting."
SUBAGENT_TASK = "SUBAGENT-TASK: reply with the word hi."
ALICE, BOB = "sk-ant-oat01-alice-e2e-0123456789", "sk-ant-oat01-bob-e2e-9876543210"
STALE = "sk-ant-oat01-expired-e2e-42"
TEAM_KEY, TEAM_OPENAI, ADMIN = "sk-bfc-seats-0123456789", "sk-team-openai-e2e-0123", "admin-e2e-0123456789"
SECRETS = {"TEAM_KEY": TEAM_KEY, "TEAM_OPENAI_KEY": TEAM_OPENAI, "ADMIN_KEY": ADMIN}

SPEC = """\
version: 1
server: {{port: {port}, require_key: true, admin_key_env: ADMIN_KEY}}
providers:
  seat: {{type: anthropic, base_url: "{anthropic}", auth: passthrough}}
  team-openai: {{type: openai, base_url: "{openai}/v1", api_key_env: TEAM_OPENAI_KEY}}
models:
  claude-seat: {{target: seat/claude-sonnet-4-5}}
  quick: {{target: team-openai/gpt-5-mini}}
claude_code: {{sonnet: claude-seat, opus: claude-seat, haiku: quick, key_env: TEAM_KEY, credentials: subscription}}
virtual_keys:
  - {{name: team, key_env: TEAM_KEY}}
cache: {{mode: exact}}
observability: {{log_store: sqlite, sqlite_path: "{db}"}}
"""


def final_text(person: str) -> str:
    return f"SEAT-E2E-DONE for {person}"


def seat_answers(body: dict[str, Any], person: str) -> Response | None:
    """Turn 1 starts a haiku subagent; turn 2 (with its result) ends with a text naming the seat's person."""
    text = json.dumps(body.get("messages", []))
    if PROMPT not in text:
        return None
    if "tool_result" in text:
        return Response(anthropic_text_stream(final_text(person), model=body["model"]), media_type="text/event-stream")
    args = json.dumps({"description": "Greet", "prompt": SUBAGENT_TASK, "model": "haiku"})
    return Response(anthropic_tool_stream([("toolu_agent_1", "Agent", args)]), media_type="text/event-stream")


@contextlib.contextmanager
def serving(out: Path, port: int, log: Path, cwd: Path) -> Iterator[str]:
    """`bifrostc serve out/` with its log (access lines on) written to ``log``."""
    argv = [sys.executable, "-m", "bifrostc.compiler.cli", "serve", str(out), "--port", str(port), "--access-log"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, env={**os.environ, **SECRETS}, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=15)


async def claude_on_seat(
    binary: str, env_sh: Path, tmp_path: Path, name: str, token: str, *, direct: str | None = None
) -> dict[str, Any]:
    """`claude -p` after `source out/env.sh`, signed in with ``token``; ``direct``: straight to that Anthropic URL
    instead (what the person would see without the gateway)."""
    home, work = tmp_path / f"home-{name}", tmp_path / f"work-{name}"
    home.mkdir()
    work.mkdir()
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TEAM_KEY": TEAM_KEY}
    base["ANTHROPIC_API_KEY"] = "sk-ant-api03-should-be-unset"  # env.sh unsets it so the seat's login is used
    env = sourced(env_sh, base)
    assert "ANTHROPIC_API_KEY" not in env and "ANTHROPIC_AUTH_TOKEN" not in env
    assert env["ANTHROPIC_CUSTOM_HEADERS"] == f"x-bifrostc-key: {TEAM_KEY}"
    env.pop("TEAM_KEY")
    env |= {"IS_SANDBOX": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
    env["CLAUDE_CODE_OAUTH_TOKEN"] = token  # what /login leaves Claude Code holding
    if direct is not None:
        env["ANTHROPIC_BASE_URL"] = direct
        del env["ANTHROPIC_CUSTOM_HEADERS"]
    returncode, stdout, stderr = await run_claude(binary, env, work, "--model", "sonnet", prompt=PROMPT, tools="Agent")
    result: dict[str, Any] = json.loads(stdout) if stdout.strip() else {}
    result["_returncode"], result["_stderr"] = returncode, stderr.decode()[-2000:]
    return result


async def test_claude_code_on_each_persons_seat_with_the_teams_haiku(live_server: Any, tmp_path: Path) -> None:
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    seen_anthropic, seen_openai = Seen(), Seen()
    seats = {ALICE: "alice", BOB: "bob"}
    async with (
        live_server(subscription_anthropic(seats, seen_anthropic, seat_answers)) as anthropic_url,
        live_server(keyed_openai(TEAM_OPENAI, seen_openai)) as openai_url,
    ):
        port, db, out = free_port(), tmp_path / "log.db", tmp_path / "out"
        (tmp_path / "gateway.yaml").write_text(
            SPEC.format(port=port, anthropic=anthropic_url, openai=openai_url, db=db)
        )
        await asyncio.to_thread(build, tmp_path / "gateway.yaml", out)
        with serving(out, port, tmp_path / "gateway.log", tmp_path) as url:
            alice = await claude_on_seat(binary, out / "env.sh", tmp_path, "alice", ALICE)
            bob = await claude_on_seat(binary, out / "env.sh", tmp_path, "bob", BOB)
            stale = await claude_on_seat(binary, out / "env.sh", tmp_path, "stale", STALE)
            direct = await claude_on_seat(binary, out / "env.sh", tmp_path, "direct", STALE, direct=anthropic_url)
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"{url}/metrics", headers={"authorization": f"Bearer {ADMIN}"})).text
                logs = await http.get(f"{url}/api/logs?limit=500", headers={"authorization": f"Bearer {ADMIN}"})
    for person, result in (("alice", alice), ("bob", bob)):
        assert result["_returncode"] == 0, result
        assert final_text(person) in result["result"]  # bob never gets alice's (cached) answer
    # A refused seat reads in Claude Code exactly as it does without the gateway (Anthropic's own 401 envelope),
    # not as a gateway failure.
    assert stale["_returncode"] != 0 and stale["api_error_status"] == 401
    assert stale["result"] == direct["result"] and "Invalid bearer token" in stale["result"]

    # The seat's token arrived unchanged and alone, with the oauth beta; the virtual key never went upstream.
    tokens = {h["authorization"] for h in seen_anthropic.headers}
    assert tokens == {f"Bearer {ALICE}", f"Bearer {BOB}", f"Bearer {STALE}"}
    assert all("x-api-key" not in h and "oauth-2025-04-20" in h["anthropic-beta"] for h in seen_anthropic.headers)
    upstream = everything_seen(seen_anthropic, seen_openai)
    assert TEAM_KEY not in upstream and "x-bifrostc-key" not in upstream
    # The haiku subagent ran on the team's OpenAI key, and no seat token ever reached OpenAI.
    assert seen_openai.headers and {h["authorization"] for h in seen_openai.headers} == {f"Bearer {TEAM_OPENAI}"}
    assert {b["model"] for b in seen_openai.bodies} == {"gpt-5-mini"}
    assert SUBAGENT_TASK in json.dumps(seen_openai.bodies)
    assert ALICE not in everything_seen(seen_openai) and BOB not in everything_seen(seen_openai)

    rows = logs.json()["data"]
    assert {r["virtual_key"] for r in rows} == {"team"}
    assert {r["billed_to"] for r in rows if r["provider"] == "seat" and r["status"] == 200} == {"client"}
    assert {r["billed_to"] for r in rows if r["provider"] == "team-openai"} == {None}
    stored = db.read_bytes() + b"".join(p.read_bytes() for p in out.iterdir() if p.is_file())
    texts = {
        "log db and out/": stored.decode("utf-8", "replace"),
        "gateway log": (tmp_path / "gateway.log").read_text(),
        "metrics": metrics,
        "api": logs.text,
    }
    for token in (ALICE, BOB, STALE):
        for where, text in texts.items():
            assert token not in text and token[-12:] not in text, (token, where)
