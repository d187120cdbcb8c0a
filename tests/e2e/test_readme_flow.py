"""The README's order in one shell: `bifrostc build`, `source out/env.sh`, `bifrostc serve out/`.

env.sh exports ANTHROPIC_API_KEY/OPENAI_API_KEY for clients; a gateway started in the same shell must still send
the provider key it was configured with, never the client's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.integration.replicas import free_port

SPEC = """\
version: 1
server: {{port: {port}}}
providers:
  anthropic: {{type: anthropic, base_url: "{upstream}", api_key_env: UPSTREAM_ANTHROPIC_API_KEY}}
models:
  smart: {{target: anthropic/claude-sonnet-4-5}}
claude_code: {{sonnet: smart, opus: smart, haiku: smart}}
observability: {{log_store: none}}
"""
REPLY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "hello"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


def fake_anthropic(seen: list[str]) -> Starlette:
    async def messages(request: Request) -> Response:
        seen.append(request.headers.get("x-api-key", ""))
        return JSONResponse(REPLY)

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


def bifrostc_shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    bindir = str(Path(sys.executable).parent)  # the bifrostc this interpreter installed
    env = {**env, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    return subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def test_build_source_serve_in_one_shell_sends_the_provider_key(live_server: Any, tmp_path: Path) -> None:
    seen: list[str] = []
    async with live_server(fake_anthropic(seen)) as upstream:
        port = free_port()
        (tmp_path / "gateway.yaml").write_text(SPEC.format(port=port, upstream=upstream))
        shell = bifrostc_shell(
            "set -e; bifrostc build gateway.yaml -o out; source out/env.sh; exec bifrostc serve out/",
            tmp_path,
            {"UPSTREAM_ANTHROPIC_API_KEY": "sk-ant-the-real-one", "HOME": str(tmp_path)},
        )
        try:
            body = {"model": "sonnet", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
            deadline = time.monotonic() + 30
            async with httpx.AsyncClient() as client:
                while True:
                    try:
                        reply = await client.post(f"http://127.0.0.1:{port}/anthropic/v1/messages", json=body)
                        break
                    except httpx.TransportError:
                        assert shell.poll() is None, shell.stdout.read().decode() if shell.stdout else ""
                        assert time.monotonic() < deadline, "gateway did not start"
                        time.sleep(0.2)
        finally:
            shell.terminate()
            shell.wait(10)
    assert reply.status_code == 200, reply.text
    assert seen == ["sk-ant-the-real-one"]


def test_a_spec_reading_a_client_variable_as_a_provider_key_does_not_build(tmp_path: Path) -> None:
    spec = SPEC.format(port=8080, upstream="http://127.0.0.1:9").replace("UPSTREAM_ANTHROPIC", "ANTHROPIC")
    (tmp_path / "gateway.yaml").write_text(spec)
    shell = bifrostc_shell("bifrostc build gateway.yaml -o out", tmp_path, {"HOME": str(tmp_path)})
    output = shell.communicate(timeout=60)[0].decode()
    assert shell.returncode == 1
    assert "providers.anthropic.api_key_env: ANTHROPIC_API_KEY is what out/env.sh gives clients" in output
    assert "UPSTREAM_ANTHROPIC_API_KEY" in output and not (tmp_path / "out").exists()
