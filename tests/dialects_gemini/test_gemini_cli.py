"""The real Gemini CLI (``@google/gemini-cli``), headless, through the gateway's Gemini API.

``gemini -p`` with ``GOOGLE_GEMINI_BASE_URL`` pointing at the gateway and ``GEMINI_API_KEY`` holding the virtual
key (the CLI's ``gemini-api-key`` auth honours the base URL; its ``gateway`` auth type is refused headless).
Turn 1: the upstream streams a ``run_shell_command`` call writing marker.txt; the CLI runs it. Turn 2 (it sees
the function response): the upstream streams the final text. Once to an OpenAI upstream (translated), once to a
Gemini upstream (passthrough) that refuses the call back without its thought signature, as Gemini 3 does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pathlib
import shutil
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bifrostc.runtime.app import create_app
from bifrostc.runtime.context import Hooks, LogRecord
from tests.runtime.rt_fakes import gateway, openai_chunk, provider, sse

pytestmark = pytest.mark.gemini_cli
PROMPT = "Create the marker file now."
FINAL = "The marker file is written: BIFROSTC-GEMINI-DONE"
COMMAND = {"command": "echo hi > marker.txt", "description": "Write the marker file"}
SIGNATURE = base64.b64encode(b"gemini-cli-signature").decode()
CLI_PIN = "@google/gemini-cli@0.61.0"  # the version .ci/run installs


def gemini_binary() -> str | None:
    here = pathlib.Path(__file__).resolve().parents[2] / ".ci/node/node_modules/.bin/gemini"
    for candidate in (os.environ.get("BIFROSTC_GEMINI_BIN"), str(here), shutil.which("gemini")):
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    return None


def _openai_stream(*chunks: dict[str, Any]) -> Response:
    usage = openai_chunk({}, usage={"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25})
    return Response(sse([(None, c) for c in (*chunks, usage)]) + b"data: [DONE]\n\n", media_type="text/event-stream")


def openai_upstream(seen: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        text = json.dumps(body["messages"])
        if PROMPT in text and any(m["role"] == "tool" for m in body["messages"]):
            return _openai_stream(openai_chunk({"role": "assistant", "content": FINAL}), openai_chunk({}, "stop"))
        if PROMPT in text and body.get("tools"):
            call = {"index": 0, "id": "call_1", "type": "function"}
            call["function"] = {"name": "run_shell_command", "arguments": json.dumps(COMMAND)}
            return _openai_stream(openai_chunk({"tool_calls": [call]}), openai_chunk({}, "tool_calls"))
        return _openai_stream(openai_chunk({"role": "assistant", "content": "OK"}), openai_chunk({}, "stop"))

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def _gemini_sse(*parts: dict[str, Any]) -> Response:
    body = {
        "candidates": [{"content": {"role": "model", "parts": list(parts)}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 5, "totalTokenCount": 25},
        "modelVersion": "gemini-3-pro-preview",
        "responseId": "r1",
    }
    return Response(b"data: " + orjson.dumps(body) + b"\r\n\r\n", media_type="text/event-stream")


def gemini_upstream(seen: list[dict[str, Any]]) -> Starlette:
    async def generate(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        turns = body.get("contents", [])
        calls = [p for c in turns if c.get("role") == "model" for p in c["parts"] if "functionCall" in p]
        if any(call.get("thoughtSignature") != SIGNATURE for call in calls):
            error = {
                "code": 400,
                "message": "Function call is missing a thought_signature",
                "status": "INVALID_ARGUMENT",
            }
            return JSONResponse({"error": error}, status_code=400)
        text = json.dumps(turns)
        if PROMPT in text and calls:
            return _gemini_sse({"text": FINAL})
        if PROMPT in text and body.get("tools"):
            return _gemini_sse(
                {"functionCall": {"name": "run_shell_command", "args": COMMAND}, "thoughtSignature": SIGNATURE}
            )
        return _gemini_sse({"text": "OK"})

    return Starlette(routes=[Route("/v1beta/models/{rest:path}", generate, methods=["POST"])])


class Logged(Hooks):
    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    async def on_log(self, record: LogRecord) -> None:
        self.records.append(record)


async def run_gemini(binary: str, gateway_url: str, tmp_path: pathlib.Path) -> tuple[int, bytes, bytes, pathlib.Path]:
    work, home = tmp_path / "work", tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    work.mkdir()
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GOOGLE_GEMINI_BASE_URL": gateway_url,
        "GEMINI_API_KEY": "sk-bfc-gemini-cli",
        "GEMINI_CLI_NO_RELAUNCH": "true",
    }
    argv = [binary, "-p", PROMPT, "-m", "agent", "--yolo", "--skip-trust", "--output-format", "json"]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=180)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("gemini did not finish in 180 s")
    assert proc.returncode is not None
    return proc.returncode, stdout, stderr, work


@pytest.mark.parametrize("family", ["openai", "gemini"], ids=["translated-to-openai", "passthrough-to-gemini"])
async def test_gemini_cli_runs_a_tool_call_through_the_gateway(
    live_server: Any, tmp_path: pathlib.Path, family: str
) -> None:
    binary = gemini_binary()
    if binary is None:
        pytest.skip(f"Gemini CLI not installed (npm install {CLI_PIN})")
    seen: list[dict[str, Any]] = []
    fake = openai_upstream(seen) if family == "openai" else gemini_upstream(seen)
    hooks = Logged()
    async with live_server(fake) as upstream_url:
        if family == "openai":
            target = provider("up", "openai", base_url=f"{upstream_url}/v1", key_env="UP_KEY")
            model = "gpt-fake"
        else:
            target = provider("up", "gemini", base_url=f"{upstream_url}/v1beta", key_env="UP_KEY")
            model = "gemini-3-pro-preview"
        gw = gateway([target], {"agent": [("up", model)]}, default_provider="up")
        async with live_server(create_app(gw, environ={"UP_KEY": "up-key"}, hooks=hooks)) as gateway_url:
            code, stdout, stderr, work = await run_gemini(binary, gateway_url, tmp_path)
    assert code == 0, stderr.decode()[-3000:] + stdout.decode()[-3000:]
    assert FINAL in json.loads(stdout)["response"]
    assert (work / "marker.txt").read_text().strip() == "hi"
    contexts = [r.context for r in hooks.records]
    assert contexts and all(c.dialect == "gemini" and c.status == 200 for c in contexts)
    assert all(c.passthrough is (family == "gemini") for c in contexts if c.requested_model == "agent")
