"""The real OpenAI Codex CLI (`codex exec`), through the gateway's Responses endpoint to fake upstreams.

Codex is configured with a custom model provider pointing at /v1 on the gateway (wire_api = "responses"); the
gateway routes Codex's model to an OpenAI chat-completions-shaped or an Anthropic-shaped fake upstream. Turn 1: the
upstream streams an exec_command call that writes marker.txt and prints a token. Turn 2 (Codex sent the command's
output back as a function_call_output): it streams a call to apply_patch, which Codex offers as a custom (freeform)
tool and the gateway as a function taking one `input` string. Turn 3 (a custom_tool_call_output): the final text.

With a model name Codex does not know, it offers no apply_patch but its sub-agent tools as the `multi_agent_v1`
namespace, which the gateway flattens to `multi_agent_v1__<name>`: turn 2 then calls `multi_agent_v1__close_agent`,
which must reach Codex as `close_agent` in namespace `multi_agent_v1` (Codex runs it, answering that there is no such
agent) and come back in turn 3's history with that namespace.

The thinking Anthropic upstream signs its thinking and refuses a history Claude would refuse: Codex asks for
reasoning, so the gateway turns it into Claude thinking, hands the signed thinking to Codex as an encrypted
reasoning item, and must put it back first in the tool loop's assistant turn when Codex replays it.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bifrostc.runtime.app import create_app
from tests.runtime.rt_fakes import (
    anthropic_text_stream,
    anthropic_tool_stream,
    gateway,
    openai_text_stream,
    openai_tool_stream,
    provider,
)

pytestmark = pytest.mark.codex_cli
KNOWN_MODEL = "gpt-5.5"  # a model Codex knows (its bundled metadata): the tool set it sends then includes apply_patch
UNKNOWN_MODEL = "acme-coder-1"  # Codex's fallback tool set: namespace tools, no apply_patch
AGENT = "00000000-0000-4000-8000-000000000000"  # a well-formed agent id that names no agent
PROMPT = "Write the marker file, then add hello.txt."
TOKEN = "BIFROSTC-CODEX-TOKEN"
COMMAND = f"echo {TOKEN} | tee marker.txt"
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello from the gateway\n*** End Patch\n"
FINAL_TEXT = "Both files are written: BIFROSTC-CODEX-DONE"
TIMEOUT = 120


def codex_binary() -> str | None:
    for candidate in (
        os.environ.get("BIFROSTC_CODEX_BIN"),
        shutil.which("codex"),
        "/tmp/codexpin/node_modules/.bin/codex",
    ):
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    return None


def codex_config(gateway_url: str, model: str) -> str:
    """CODEX_HOME/config.toml: the gateway as the only model provider.

    Left on, the plugins, remote_plugin and apps features make Codex reach github.com (via git), api.github.com
    and chatgpt.com; with them off, strace shows connections to 127.0.0.1 only. The test's proxy variables make
    any other request fail at once, should a later version add one.
    """
    return f"""\
model = "{model}"
model_provider = "bifrostc"
check_for_update_on_startup = false

[model_providers.bifrostc]
name = "bifrostc gateway"
base_url = "{gateway_url}/v1"
env_key = "BIFROSTC_TEST_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[feedback]
enabled = false

[features]
plugins = false
remote_plugin = false
apps = false
"""


# --- fake upstreams: the conversation's tool results say which turn this is ------------------------


SECOND_CALL = {
    KNOWN_MODEL: ("call_patch", "apply_patch", json.dumps({"input": PATCH})),
    UNKNOWN_MODEL: ("call_close", "multi_agent_v1__close_agent", json.dumps({"target": AGENT})),
}


def step(tool_results: int, model: str) -> tuple[str, str, str] | str:
    """The upstream's answer after `tool_results` tool results: a (call id, tool, arguments) call, or final text."""
    if tool_results == 0:
        return ("call_exec", "exec_command", json.dumps({"cmd": COMMAND}))
    if tool_results == 1:
        return SECOND_CALL[model]
    return FINAL_TEXT


def fake_openai_upstream(seen: list[dict[str, Any]], model: str) -> Starlette:
    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        answer = step(sum(m.get("role") == "tool" for m in body.get("messages", [])), model)
        stream = openai_text_stream(answer) if isinstance(answer, str) else openai_tool_stream([answer])
        return Response(stream, media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def fake_anthropic_upstream(seen: list[dict[str, Any]], model: str) -> Starlette:
    async def messages(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        blocks = [b for m in body.get("messages", []) if isinstance(m.get("content"), list) for b in m["content"]]
        answer = step(sum(b.get("type") == "tool_result" for b in blocks), model)
        stream = anthropic_text_stream(answer) if isinstance(answer, str) else anthropic_tool_stream([answer])
        return Response(stream, media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


CLAUDE_SIGNATURE = "EqQBCkYIBxgCKkBcodex"  # what the thinking fake signs its thinking with


def claude_history_error(body: dict[str, Any]) -> str | None:
    """Claude's answer to a history it refuses: thinking it did not sign, or (thinking on) a tool loop whose last
    assistant turn does not open with its thinking."""
    assistant = [m for m in body.get("messages", []) if m["role"] == "assistant" and isinstance(m["content"], list)]
    for message in assistant:
        for block in message["content"]:
            if block.get("type") == "thinking" and block.get("signature") != CLAUDE_SIGNATURE:
                return "Invalid `signature` in `thinking` block"
    thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    if thinking and assistant and any(b.get("type") == "tool_use" for b in assistant[-1]["content"]):
        if assistant[-1]["content"][0].get("type") != "thinking":
            return "Expected `thinking` or `redacted_thinking`, but found `tool_use`."
    return None


def fake_thinking_anthropic_upstream(seen: list[dict[str, Any]], model: str) -> Starlette:
    """Claude with thinking: signs its thinking and enforces its history rules, as the Messages API does."""

    async def messages(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        error = claude_history_error(body)
        if error:
            payload = {"type": "error", "error": {"type": "invalid_request_error", "message": error}}
            return Response(orjson.dumps(payload), status_code=400, media_type="application/json")
        blocks = [b for m in body.get("messages", []) if isinstance(m.get("content"), list) for b in m["content"]]
        answer = step(sum(b.get("type") == "tool_result" for b in blocks), model)
        if isinstance(answer, str):
            return Response(anthropic_text_stream(answer), media_type="text/event-stream")
        thought = ("Run it, then patch.", CLAUDE_SIGNATURE) if body.get("thinking") else None
        return Response(anthropic_tool_stream([answer], thinking=thought), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


def recording(app: Any, bodies: list[dict[str, Any]]) -> Any:
    """The gateway app, keeping every JSON body a client POSTs to it (what Codex sends)."""

    async def recorder(scope: Any, receive: Callable[[], Any], send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        bodies.append(orjson.loads(raw) | {"_path": scope["path"]})
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        return await app(scope, replay, send)

    return recorder


UPSTREAMS = {
    "openai-chat-upstream": ("openai", fake_openai_upstream, "/v1"),
    "anthropic-upstream": ("anthropic", fake_anthropic_upstream, ""),
    "anthropic-thinking-upstream": ("anthropic", fake_thinking_anthropic_upstream, ""),
}


@dataclass
class Run:
    sent: list[dict[str, Any]]  # what Codex sent the gateway
    seen: list[dict[str, Any]]  # what the upstream got
    work: pathlib.Path
    last_message: str
    agent_messages: list[str]


async def run_codex(
    live_server: Any,
    tmp_path: pathlib.Path,
    shape: str,
    model: str,
    *,
    upstream: tuple[str, Callable[[list[dict[str, Any]], str], Any], str] | None = None,
    upstream_model: str = "fake-upstream-model",
) -> Run:
    """`codex exec PROMPT` with `model`, through the gateway to the `shape` fake upstream (or `upstream`: provider
    type, app factory, base path) as `upstream_model`; it must exit 0."""
    binary = codex_binary()
    if binary is None:
        pytest.skip("Codex CLI not installed")
    provider_type, fake_upstream, path = upstream or UPSTREAMS[shape]
    seen: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []
    work, home, codex_home = tmp_path / "work", tmp_path / "home", tmp_path / "codex-home"
    for directory in (work, home, codex_home):
        directory.mkdir()
    async with live_server(fake_upstream(seen, model)) as upstream_url:
        gw = gateway(
            [provider("fake", provider_type, base_url=f"{upstream_url}{path}", key_env="FAKE_UPSTREAM_KEY")],
            {model: [("fake", upstream_model)]},
        )
        app = recording(create_app(gw, environ={"FAKE_UPSTREAM_KEY": "sk-fake"}), sent)
        async with live_server(app) as gateway_url:
            (codex_home / "config.toml").write_text(codex_config(gateway_url, model))
            nowhere = "http://127.0.0.1:9"  # any request to another host fails at once instead of leaving
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(home),
                "CODEX_HOME": str(codex_home),
                "BIFROSTC_TEST_KEY": "dummy",
                **{name: nowhere for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")},
                "NO_PROXY": "127.0.0.1,localhost",
            }
            last = tmp_path / "last-message.txt"
            argv = [
                binary,
                "exec",
                "--strict-config",
                "--skip-git-repo-check",
                "--ephemeral",
                "--json",
                "--color",
                "never",
            ]
            argv += ["--dangerously-bypass-approvals-and-sandbox", "-o", str(last), PROMPT]
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=work,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                pytest.fail(f"codex did not finish in {TIMEOUT} s; upstream saw {len(seen)} requests")
    assert proc.returncode == 0, stderr.decode()[-2000:] + stdout.decode()[-2000:]
    events = [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]
    messages = [e["item"]["text"] for e in events if e.get("item", {}).get("type") == "agent_message"]
    return Run(sent, seen, work, last.read_text().strip(), messages)


def check_common(run: Run) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """What both runs share: three Responses requests, the command's effect and output, the final text."""
    assert (run.work / "marker.txt").read_text().strip() == TOKEN
    assert run.last_message == FINAL_TEXT and run.agent_messages[-1] == FINAL_TEXT
    assert {body["_path"] for body in run.sent} == {"/v1/responses"} and len(run.sent) == len(run.seen) == 3
    first, second, third = run.sent
    assert (first["store"], first["stream"]) == (False, True)
    outputs = [i for i in second["input"] if i.get("type") == "function_call_output"]
    assert [o["call_id"] for o in outputs] == ["call_exec"] and TOKEN in json.dumps(outputs[0]["output"])
    assert TOKEN in json.dumps(run.seen[1])  # the command's output reached the upstream as a tool result
    return first, second, third


def upstream_tool_names(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] if "function" in t else t["name"] for t in body.get("tools", [])]


@pytest.mark.parametrize("shape", list(UPSTREAMS))
async def test_codex_exec_runs_a_command_and_a_patch_through_the_responses_endpoint(live_server, tmp_path, shape):
    run = await run_codex(live_server, tmp_path, shape, KNOWN_MODEL)
    first, _, third = check_common(run)
    assert (run.work / "hello.txt").read_text() == "hello from the gateway\n"
    tools = {t.get("name"): t["type"] for t in first["tools"]}
    assert tools["exec_command"] == "function" and tools["apply_patch"] == "custom"
    calls = [i for i in third["input"] if i.get("type") == "custom_tool_call"]
    assert [(c["call_id"], c["name"], c["input"]) for c in calls] == [("call_patch", "apply_patch", PATCH)]
    assert [i["call_id"] for i in third["input"] if i.get("type") == "custom_tool_call_output"] == ["call_patch"]
    if shape == "anthropic-thinking-upstream":  # Codex asked for reasoning, Claude thought, the loop kept it
        assert all(body.get("thinking") for body in run.seen)
        assert all(body["messages"][-2]["content"][0].get("signature") == CLAUDE_SIGNATURE for body in run.seen[1:])


@pytest.mark.parametrize("shape", list(UPSTREAMS))
async def test_codex_with_a_model_it_does_not_know_calls_a_namespaced_tool(live_server, tmp_path, shape):
    run = await run_codex(live_server, tmp_path, shape, UNKNOWN_MODEL)
    first, _, third = check_common(run)
    namespaces = {
        t["name"]: [inner["name"] for inner in t["tools"]] for t in first["tools"] if t["type"] == "namespace"
    }
    assert "close_agent" in namespaces.get("multi_agent_v1", [])
    assert "apply_patch" not in {t.get("name") for t in first["tools"]}
    offered = upstream_tool_names(run.seen[0])
    assert "exec_command" in offered
    assert {f"multi_agent_v1__{name}" for name in namespaces["multi_agent_v1"]} <= set(offered)
    calls = [i for i in third["input"] if i.get("type") == "function_call" and i.get("call_id") == "call_close"]
    assert [(c["name"], c.get("namespace"), json.loads(c["arguments"])) for c in calls] == [
        ("close_agent", "multi_agent_v1", {"target": AGENT})
    ]
    outputs = [i for i in third["input"] if i.get("type") == "function_call_output" and i["call_id"] == "call_close"]
    assert len(outputs) == 1 and AGENT in json.dumps(outputs[0]["output"])  # Codex ran it (no such agent)
    assert "multi_agent_v1__close_agent" in json.dumps(run.seen[2])  # the history went upstream under the flat name
