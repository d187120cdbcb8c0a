"""Real Claude Code starting a subagent (its Agent tool) through the wired gateway: the request log shows the
subagent's requests under its parent session, from the headers Claude Code sends (`x-claude-code-session-id`,
`x-claude-code-agent-id`, and with `CLAUDE_CODE_GATEWAY_HINT_HEADERS=1`, as out/env.sh sets it,
`x-claude-code-request-class`), in `/api/logs` and as a tree at `/api/sessions/{id}`.

The upstream is OpenAI-shaped: turn 1 calls the Agent tool, the subagent's own request gets its answer, turn 2
(with the Agent tool's result) the final text.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from test_claude_code import _stream, _text_reply, claude_binary, headless_env, run_claude

from tests.integration.wired import base_spec, compile_gateway, wired_server
from tests.runtime.rt_fakes import openai_chunk

pytestmark = pytest.mark.claude_cli
PROMPT = "DELEGATE-E2E: hand the greeting to a subagent."
SUBAGENT_TASK = "SUBAGENT-TASK: reply with the word hi."
FINAL = "ALL-DONE-E2E"
KEY = "sk-bfc-agents-0123456789abcdef"
ENV = {"DEV_KEY": KEY, "ADMIN_KEY": "admin-0123456789", "UP_KEY": "sk-up-0123456789"}


def _agent_call(stream: bool) -> Response:
    args = json.dumps({"description": "Say hi", "prompt": SUBAGENT_TASK, "run_in_background": False})
    head = {"index": 0, "id": "call_agent_1", "type": "function", "function": {"name": "Agent", "arguments": ""}}
    chunks = [
        openai_chunk({"role": "assistant", "content": None}),
        openai_chunk({"tool_calls": [head]}),
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": args}}]}),
        openai_chunk({}, "tool_calls"),
    ]
    assert stream, "Claude Code streams its turns"
    return _stream(chunks)


def delegating_upstream(seen: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        messages = body.get("messages", [])
        text, stream = json.dumps(messages), bool(body.get("stream"))
        tools = {t.get("function", {}).get("name") for t in body.get("tools", [])}
        if PROMPT in text and any(m.get("role") == "tool" for m in messages):
            return _text_reply(FINAL, stream)
        if PROMPT in text and "Agent" in tools:
            return _agent_call(stream)
        if SUBAGENT_TASK in text:
            return _text_reply("hi", stream)  # the subagent's own turn
        return _text_reply("OK", stream)  # side requests

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def test_a_subagent_run_shows_up_under_its_parent_session(live_server: Any, tmp_path: pathlib.Path) -> None:
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    seen: list[dict[str, Any]] = []
    async with live_server(delegating_upstream(seen)) as upstream_url:
        spec = base_spec(tmp_path / "gw.db")
        spec["server"]["admin_key_env"] = "ADMIN_KEY"
        spec["providers"]["fake"] = {"type": "openai", "base_url": f"{upstream_url}/v1", "api_key_env": "UP_KEY"}
        spec["models"]["fake-model"] = {"target": "fake/gpt-fake"}
        spec["claude_code"] = {"sonnet": "fake-model", "opus": "fake-model", "haiku": "fake-model"}
        spec["virtual_keys"] = [{"name": "dev", "key_env": "DEV_KEY"}]
        async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV) as wired:
            env = headless_env(home, wired.url, "fake-model", CLAUDE_CODE_GATEWAY_HINT_HEADERS="1")
            env["ANTHROPIC_API_KEY"] = KEY
            returncode, stdout, stderr = await run_claude(
                binary, env, work, "--model", "sonnet", prompt=PROMPT, tools="Agent"
            )
            assert returncode == 0, stderr.decode()[-2000:] + stdout.decode()[-2000:]
            result = json.loads(stdout)
            session = result["session_id"]
            await wired.settled(len(seen))
            admin = {"authorization": f"Bearer {ENV['ADMIN_KEY']}"}
            listed = await wired.http.get(f"{wired.url}/api/logs", params={"session": session}, headers=admin)
            tree = (await wired.http.get(f"{wired.url}/api/sessions/{session}", headers=admin)).json()
    assert FINAL in result["result"]
    rows = listed.json()["data"]
    assert rows and {r["session_id"] for r in rows} == {session}
    subagent_rows = [r for r in rows if r["agent_id"]]
    assert subagent_rows and {r["request_class"] for r in subagent_rows} == {"subagent"}
    assert any(r["request_class"] == "main" and not r["agent_id"] for r in rows)
    [agent] = tree["agents"]  # one subagent, under the main thread of the session
    assert agent["agent_id"] == subagent_rows[0]["agent_id"] and agent["parent_agent_id"] is None
    assert agent["requests"] == len(subagent_rows)
    assert tree["rows"] and all(not r["agent_id"] for r in tree["rows"])
