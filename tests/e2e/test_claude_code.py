"""The real Claude Code CLI, headless, through the gateway to an OpenAI-shaped fake upstream.

Turn 1: the upstream streams a Bash tool call writing marker.txt; Claude Code runs it. Turn 2 (it sees the
tool_result): the upstream streams the final text. Side requests (titles, topics, counts) get short answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import sys
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "runtime"))
from rt_fakes import gateway, openai_chunk, openai_completion, provider, sse

from bifrostc.runtime.app import create_app

pytestmark = pytest.mark.claude_cli
MARKER_PROMPT = "Create the marker file now."
FINAL_TEXT = "The marker file is written: BIFROSTC-E2E-DONE"


def claude_binary() -> str | None:
    for candidate in (
        os.environ.get("BIFROSTC_CLAUDE_BIN"),
        shutil.which("claude"),
        "/tmp/cc/node_modules/.bin/claude",
    ):
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    return None


def headless_env(home: pathlib.Path, gateway_url: str, model: str, **extra: str) -> dict[str, str]:
    """Claude Code's environment for a headless run against the gateway, every tier on ``model``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "IS_SANDBOX": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
        "DISABLE_AUTOUPDATER": "1",
        "ANTHROPIC_BASE_URL": f"{gateway_url}/anthropic",
        "ANTHROPIC_API_KEY": "dummy",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        **extra,
    }


async def run_claude(
    binary: str, env: dict[str, str], cwd: pathlib.Path, *args: str, prompt: str = MARKER_PROMPT, tools: str = "Bash"
) -> tuple[int, bytes, bytes]:
    """``claude -p MARKER_PROMPT`` (or ``prompt``) allowed to run Bash (or ``tools``); fails the test rather than
    hang past 120 s."""
    argv = [binary, "-p", prompt, "--output-format", "json", *args]
    argv += ["--permission-mode", "bypassPermissions", "--allowedTools", tools]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("claude did not finish in 120 s")
    assert proc.returncode is not None
    return proc.returncode, stdout, stderr


TIERS = ("sonnet", "opus", "haiku")


@dataclass
class ClaudeRun:
    returncode: int
    stdout: bytes
    stderr: bytes
    work: pathlib.Path  # the directory Claude Code ran in

    def check_ok(self) -> dict[str, Any]:
        """The run exited 0: its JSON result."""
        assert self.returncode == 0, self.stderr.decode()[-2000:] + self.stdout.decode()[-2000:]
        return json.loads(self.stdout)


async def claude_session(
    live_server: Any,
    tmp_path: pathlib.Path,
    providers: list[Any],
    routes: dict[str, list[tuple[str, str]]],
    *,
    environ: dict[str, str],
    model: str = "fake-model",
    hooks: Any = None,
    **options: Any,
) -> ClaudeRun:
    """``claude -p MARKER_PROMPT`` through a gateway whose every tier is the first of ``routes`` (``options``:
    gateway() keywords, or env_<NAME> for extra environment, where ``{gateway}`` is the gateway's URL), skipped
    when the CLI is not installed. ``hooks``: the gateway's pipeline hooks."""
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    extra_env = {name[4:]: value for name, value in options.items() if name.startswith("env_")}
    gateway_options = {name: value for name, value in options.items() if not name.startswith("env_")}
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    tier_route = next(iter(routes))
    gw = gateway(providers, routes, tiers=dict.fromkeys(TIERS, tier_route), **gateway_options)
    async with live_server(create_app(gw, environ=environ, hooks=hooks)) as gateway_url:
        extra_env = {name: value.replace("{gateway}", gateway_url) for name, value in extra_env.items()}
        env = headless_env(home, gateway_url, model, **extra_env)
        return ClaudeRun(*await run_claude(binary, env, work, "--model", "sonnet"), work)


def _stream(chunks: list[dict[str, Any]]) -> Response:
    usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
    body = sse([(None, c) for c in chunks] + [(None, openai_chunk({}, usage=usage))]) + b"data: [DONE]\n\n"
    return Response(body, media_type="text/event-stream")


def _text_reply(text: str, stream: bool) -> Response:
    if not stream:
        return JSONResponse(openai_completion(text))
    return _stream(
        [openai_chunk({"role": "assistant", "content": ""}), openai_chunk({"content": text}), openai_chunk({}, "stop")]
    )


TOOL_COMMANDS = {"marker.txt": "echo hi > marker.txt", "second.txt": "echo two > second.txt"}


def _tool_reply(stream: bool, parallel: bool) -> Response:
    commands = list(TOOL_COMMANDS.values())[: 2 if parallel else 1]
    args = [json.dumps({"command": c, "description": "Write a marker file"}) for c in commands]
    ids = [f"call_e2e_{i}" for i in range(len(args))]
    if not stream:
        calls = [
            {"id": ids[i], "type": "function", "function": {"name": "Bash", "arguments": a}} for i, a in enumerate(args)
        ]
        return JSONResponse(openai_completion(None, tool_calls=calls))

    def head(i: int) -> dict[str, Any]:
        return {"index": i, "id": ids[i], "type": "function", "function": {"name": "Bash", "arguments": ""}}

    def part(i: int, text: str) -> dict[str, Any]:
        return openai_chunk({"tool_calls": [{"index": i, "function": {"arguments": text}}]})

    chunks = [openai_chunk({"role": "assistant", "content": None})]
    chunks += [openai_chunk({"tool_calls": [head(i)]}) for i in range(len(args))]
    # Parallel calls' argument fragments arrive interleaved, as OpenAI-compatible servers may send them.
    chunks += [part(i, a[:20]) for i, a in enumerate(args)] + [part(i, a[20:]) for i, a in enumerate(args)]
    return _stream([*chunks, openai_chunk({}, "tool_calls")])


def fake_openai_upstream(seen: list[dict[str, Any]], parallel: bool = False) -> Starlette:
    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        stream = bool(body.get("stream"))
        messages = body.get("messages", [])
        tool_names = {t.get("function", {}).get("name") for t in body.get("tools", [])}
        text = json.dumps(messages)
        if any(m.get("role") == "tool" for m in messages) and MARKER_PROMPT in text:
            return _text_reply(FINAL_TEXT, stream)
        if "Bash" in tool_names and MARKER_PROMPT in text:
            return _tool_reply(stream, parallel)
        return _text_reply("OK", stream)  # side requests: titles, topics, summaries

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.mark.parametrize("parallel", [False, True], ids=["one-tool-call", "parallel-interleaved-tool-calls"])
async def test_claude_code_runs_streamed_tool_calls_through_the_gateway(live_server, tmp_path, parallel):
    seen: list[dict[str, Any]] = []
    async with live_server(fake_openai_upstream(seen, parallel)) as upstream_url:
        run = await claude_session(
            live_server,
            tmp_path,
            [provider("fake", "openai", base_url=f"{upstream_url}/v1", key_env="FAKE_UPSTREAM_KEY")],
            {"fake-model": [("fake", "gpt-fake")]},
            environ={"FAKE_UPSTREAM_KEY": "sk-fake"},
        )
    result = run.check_ok()
    work = run.work
    assert (work / "marker.txt").read_text().strip() == "hi"
    assert (work / "second.txt").exists() is parallel
    assert FINAL_TEXT in result["result"]
    assert result.get("is_error") is False
    tool_results = max(sum(m.get("role") == "tool" for m in body.get("messages", [])) for body in seen)
    assert tool_results == (2 if parallel else 1)
