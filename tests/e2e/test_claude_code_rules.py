"""Claude Code's routing slots with the real CLI, headless, through `source out/env.sh` and a real `bifrostc serve`.

The four slots are set; three `claude -p` runs make Claude Code send, on its own, each kind of request a slot
catches: its main turns carry thinking (2.1.332 turns it on by default); WebFetch summarises a fetched page with
the haiku (small fast) model: a background request; WebSearch sends a request carrying Anthropic's
`web_search_20250305` server tool; and a prompt over the long-context threshold. The offline mock provider
answers (its `call tool X with {...}` phrase makes the tool calls), so each route's name is the upstream model.
Each request is seen twice: in the request log (`/api/logs`: rule, upstream model) and in the response headers
(`x-bifrostc-rule`, recorded by a pass-through proxy placed in front of the gateway after sourcing env.sh).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from tests.e2e.test_claude_code import claude_binary, run_claude
from tests.e2e.test_claude_code_env_sh import sourced
from tests.integration.replicas import build, free_port, replicas

pytestmark = pytest.mark.claude_cli
# The long-context threshold: Claude Code's own first turn (system prompt, 25 tools) is about 28,000 tokens by the
# estimate the rules read (cl100k_base; 32,000 by bytes / 4); the long prompt, "7 " repeated (96 kB, under the
# 128 kB a single argv entry may hold), adds about 48,000 (24,000 by bytes / 4): over the threshold by either.
LONG_OVER = 40_000
LONG_PROMPT = "Reply OK. " + "7 " * 48_000
SPEC = """\
version: 1
server: {{port: {port}, require_key: true, admin_key_env: ADMIN_KEY}}
providers:
  mock: {{type: mock}}
models:
  main: {{target: mock/main}}
  bg: {{target: mock/bg}}
  think: {{target: mock/think}}
  long: {{target: mock/long}}
  search: {{target: mock/search}}
claude_code:
  sonnet: main
  opus: main
  haiku: main
  key_env: TEAM_GATEWAY_KEY
  routing:
    background: bg
    thinking: think
    long_context: {{over_tokens: {over}, route: long}}
    web_search: search
virtual_keys:
  - {{name: team, key_env: TEAM_GATEWAY_KEY}}
observability: {{log_store: sqlite, sqlite_path: {db}}}
"""
SECRETS = {"TEAM_GATEWAY_KEY": "sk-bfc-team-rules-e2e", "ADMIN_KEY": "sk-admin-rules-e2e"}
HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def _recording_proxy(target: str, seen: list[tuple[str, str | None, str | None]]) -> Starlette:
    """Forwards every request to ``target`` unchanged and records (path, x-bifrostc-rule, x-bifrostc-model)."""
    client = httpx.AsyncClient(base_url=target, timeout=120)

    async def forward(request: Request) -> StreamingResponse:
        headers = [(k, v) for k, v in request.headers.raw if k.decode().lower() not in HOP | {b"host".decode()}]
        upstream = await client.send(
            client.build_request(request.method, request.url.path, params=request.query_params,
                                 headers=headers, content=await request.body()),
            stream=True,
        )  # fmt: skip
        seen.append(
            (request.url.path, upstream.headers.get("x-bifrostc-rule"), upstream.headers.get("x-bifrostc-model"))
        )
        kept = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP}
        return StreamingResponse(
            upstream.aiter_raw(), upstream.status_code, kept, background=BackgroundTask(upstream.aclose)
        )

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "HEAD"])])


@contextlib.contextmanager
def _https_page(tmp: Path) -> Iterator[tuple[str, Path]]:
    """A page on https://127.0.0.1:<port>/ (WebFetch upgrades http) with a self-signed certificate; yields the
    URL and the certificate for NODE_EXTRA_CA_CERTS."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    (tmp / "page").mkdir()
    (tmp / "page" / "index.html").write_text(
        "<html><body><h1>Routing rules</h1><p>Rules pick routes.</p></body></html>"
    )
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp / "page"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/index.html", cert
    finally:
        server.shutdown()
        server.server_close()


@contextlib.asynccontextmanager
async def _gateway(live_server: Any, tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], list[Any], str]]:
    """The spec built and served; yields Claude Code's environment (env.sh sourced, then pointed at the proxy),
    the proxy's record and the gateway's URL."""
    port = free_port()
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC.format(port=port, over=LONG_OVER, db=tmp_path / "log.db"))
    build(spec, tmp_path / "out")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps({"skipWebFetchPreflight": True}))  # no claude.ai
    seen: list[Any] = []
    with replicas(tmp_path / "out", 1, SECRETS, cwd=tmp_path, ports=[port]) as (url,):
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **SECRETS}
        env = sourced(tmp_path / "out" / "env.sh", base)
        assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "claude-haiku-4-5"  # so the background slot sees its tier
        env.pop("ADMIN_KEY")
        env |= {
            "IS_SANDBOX": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS": "1",  # WebSearch/WebFetch in the tool list, not deferred
        }
        async with live_server(_recording_proxy(url, seen)) as proxy:
            env["ANTHROPIC_BASE_URL"] = f"{proxy}/anthropic"
            yield env, seen, url


async def _claude(env: dict[str, str], work: Path, prompt: str, tools: str) -> None:
    binary = claude_binary()
    assert binary is not None
    work.mkdir()
    returncode, stdout, stderr = await run_claude(binary, env, work, prompt=prompt, tools=tools)
    assert returncode == 0, stderr.decode()[-2000:] + stdout.decode()[-2000:]
    assert json.loads(stdout)["is_error"] is False


async def test_each_claude_code_slot_reaches_its_route(live_server: Any, tmp_path: Path) -> None:
    if claude_binary() is None:
        pytest.skip("Claude Code CLI not installed")
    with _https_page(tmp_path) as (page, cert):
        async with _gateway(live_server, tmp_path) as (env, seen, url):
            env["NODE_EXTRA_CA_CERTS"] = str(cert)
            fetch = json.dumps({"url": page, "prompt": "What does the page say?"})
            await _claude(env, tmp_path / "fetch", f"call tool WebFetch with {fetch}", "WebFetch")
            search = json.dumps({"query": "bifrostc routing rules"})
            await _claude(env, tmp_path / "search", f"call tool WebSearch with {search}", "WebSearch")
            await _claude(env, tmp_path / "long", LONG_PROMPT, "Bash")
            async with httpx.AsyncClient(timeout=30) as http:
                answer = await http.get(f"{url}/api/logs?limit=500", headers={"x-admin-key": SECRETS["ADMIN_KEY"]})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["data"]
    logged = {(r["requested_model"], r["rule"], r["upstream_model"], r["status"]) for r in rows}
    assert logged == {
        ("main", "claude_code.thinking", "think", 200),  # every main turn: thinking is on
        ("claude-haiku-4-5", "claude_code.background", "bg", 200),  # WebFetch's summary by the small fast model
        ("main", "claude_code.web_search", "search", 200),  # WebSearch's own request with the server tool
        ("main", "claude_code.long_context", "long", 200),
    }, sorted(map(str, logged))  # fmt: skip
    headers = {(rule, model) for path, rule, model in seen if path.endswith("/v1/messages")}
    assert headers == {(r[1], r[2]) for r in logged}
    assert len([p for p, _, _ in seen if p.endswith("/v1/messages")]) == len(rows)  # one log row per request
