"""The compiler's output is what the runtime loads: build the quickstart, load it, send one request in-process."""

from __future__ import annotations

import pathlib

import httpx

from bifrostc.compiler import api
from bifrostc.runtime.app import create_app
from bifrostc.runtime.loadout import load_gateway

QUICKSTART = pathlib.Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "gateway.yaml"


async def test_the_built_quickstart_answers_a_claude_code_tier_request(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    assert api.build(QUICKSTART, out, environ={}).ok
    gateway = load_gateway(out)
    app = create_app(gateway, environ={})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        body = {"model": "sonnet", "max_tokens": 32, "messages": [{"role": "user", "content": "hello"}]}
        response = await client.post("/anthropic/v1/messages", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"
