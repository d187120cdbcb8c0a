"""The real Claude Code, signed in with /login, runs a Write -> Edit -> Bash task on its minted bearer (2 s TTL:
it refreshes on the way) under the spec's managed settings: their deny rule stops a Bash command, their env
variable reaches the Bash tool, and their telemetry variables (short OTLP export intervals) make Claude Code's
own OpenTelemetry export reach /claude-code, where /api/sessions/{id} shows it. Removing the key stops the next
request at once.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import time
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from test_claude_code import claude_binary  # puts tests/runtime on sys.path (rt_fakes)

from rt_fakes import openai_chunk, sse  # isort: skip
from test_claude_code_signin import cli_env, gateway_login, signed_in_spec

from bifrostc.runtime.app import swap_gateway
from tests.claude_gateway.signin import ALICE
from tests.integration.wired import compile_gateway, wired_server

pytestmark = pytest.mark.claude_cli
TASK = "Do the notes task now."
DONE = "Notes task finished: BIFROSTC-TASK-DONE"
MOTTO = "ship-it-carefully"


def steps(work: pathlib.Path) -> list[tuple[str, dict[str, Any]]]:
    """The tool call the fake model makes after each tool result so far."""
    notes = str(work / "notes.txt")
    return [
        ("Write", {"file_path": notes, "content": "alpha\nbeta\n"}),
        ("Edit", {"file_path": notes, "old_string": "beta", "new_string": "gamma"}),
        ("Bash", {"command": "rm -f keep.txt", "description": "Remove keep.txt"}),  # denied by managed settings
        ("Bash", {"command": 'echo "$TEAM_MOTTO" > motto.txt', "description": "Write the motto"}),
    ]


def _stream(chunks: list[dict[str, Any]]) -> Response:
    usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
    body = sse([(None, c) for c in chunks] + [(None, openai_chunk({}, usage=usage))]) + b"data: [DONE]\n\n"
    return Response(body, media_type="text/event-stream")


def scripted_upstream(work: pathlib.Path, seen: list[list[dict[str, Any]]]) -> Starlette:
    script = steps(work)

    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        messages = body.get("messages", [])
        if TASK not in json.dumps(messages) or not body.get("tools"):  # side requests: titles, topics
            return _stream([openai_chunk({"role": "assistant", "content": "OK"}), openai_chunk({}, "stop")])
        seen.append(messages)
        done = sum(m.get("role") == "tool" for m in messages)
        if done >= len(script):
            return _stream([openai_chunk({"role": "assistant", "content": DONE}), openai_chunk({}, "stop")])
        name, args = script[done]
        call = {"index": 0, "id": f"call_task_{done}", "type": "function"}
        call["function"] = {"name": name, "arguments": json.dumps(args)}
        return _stream(
            [openai_chunk({"role": "assistant", "content": None, "tool_calls": [call]}), openai_chunk({}, "tool_calls")]
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def task_spec(tmp_path: pathlib.Path, upstream_url: str, *, with_alice: bool = True) -> dict[str, Any]:
    spec = signed_in_spec(tmp_path, upstream_url, with_alice=with_alice)
    managed = spec["claude_code"]["managed_settings"]
    managed["env"].update(
        {"TEAM_MOTTO": MOTTO, "OTEL_METRIC_EXPORT_INTERVAL": "1000", "OTEL_LOGS_EXPORT_INTERVAL": "500"}
    )
    managed["permissions"] = {"deny": ["Bash(rm *)"]}
    return spec


async def session_view(wired: Any, session_id: str) -> dict[str, Any]:
    """/api/sessions/{id} once Claude Code's telemetry has arrived (it exports on its own schedule)."""
    async with asyncio.timeout(60):
        while True:
            view = await wired.http.get(f"{wired.url}/api/sessions/{session_id}")
            body: dict[str, Any] = view.json()
            if (
                view.status_code == 200
                and body["telemetry"] is not None
                and body["telemetry"]["lines_of_code"]["added"]
            ):
                return body
            await asyncio.sleep(0.5)  # a separate process exports: no event to await


async def test_signed_in_claude_code_runs_a_task_under_managed_settings_and_its_telemetry_is_kept(
    live_server, tmp_path
) -> None:
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".claude").mkdir(parents=True)
    work.mkdir()
    (work / "keep.txt").write_text("keep me\n")
    seen: list[list[dict[str, Any]]] = []
    async with live_server(scripted_upstream(work, seen)) as upstream_url:
        gateway = compile_gateway(tmp_path, task_spec(tmp_path, upstream_url))
        async with wired_server(gateway, {"FAKE_KEY": "sk-fake"}) as wired:
            settings = {"forceLoginMethod": "gateway", "forceLoginGatewayUrl": f"{wired.url}/claude-code"}
            (home / ".claude" / "settings.json").write_text(json.dumps(settings))
            env = cli_env(home)
            assert (await gateway_login(binary, env, wired, ALICE))[-1]["state"] == "done"
            time.sleep(2.5)  # the access token from the sign-in is now expired: the run must refresh it
            argv = [binary, "-p", TASK, "--output-format", "json", "--model", "sonnet"]
            argv += ["--permission-mode", "bypassPermissions", "--allowedTools", "Bash,Write,Edit"]
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            async with asyncio.timeout(180):
                out, err = await proc.communicate()
            assert proc.returncode == 0, (out + err).decode()[-3000:]
            logs = await wired.logs(len(seen))
            session_id = next(row["session_id"] for row in logs if row.get("session_id"))
            view = await session_view(wired, session_id)

            swap_gateway(wired.app, compile_gateway(tmp_path, task_spec(tmp_path, upstream_url, with_alice=False)))
            again = await asyncio.create_subprocess_exec(
                binary, "-p", "hello", "--output-format", "json", cwd=work, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            async with asyncio.timeout(60):
                refused = b"".join(await again.communicate()).decode()
    assert DONE in json.loads(out)["result"]
    assert (work / "notes.txt").read_text() == "alpha\ngamma\n"  # Write, then Edit
    assert (work / "keep.txt").exists()  # the managed deny rule held, even under bypassPermissions
    assert (work / "motto.txt").read_text().strip() == MOTTO  # the managed env reached the Bash tool
    denied = json.dumps(seen[-1][-3:])  # the rm call's tool result
    assert "keep.txt" in denied and ("denied" in denied.lower() or "permission" in denied.lower()), denied
    assert {row["virtual_key"] for row in logs} == {"alice"}
    telemetry = view["telemetry"]
    # Claude Code's own figures, from its OTLP export (2.1.332 reported accept 3 / reject 1, +4 / -1 lines)
    assert telemetry["tool_decisions"]["accept"] >= 3 and telemetry["tool_decisions"]["reject"] >= 1  # the rm
    assert telemetry["lines_of_code"]["added"] >= 2 and telemetry["lines_of_code"]["removed"] >= 1
    assert telemetry["active_time_seconds"] > 0 and telemetry["cost_usd"] > 0
    assert view["requests"] >= 1
    assert again.returncode != 0 and "sign in again" in refused, refused[-2000:]
