"""Betas per Anthropic-compatible host (issue 11 item 6): the client's anthropic-beta values reach Bedrock
(InvokeModel body `anthropic_beta`) and Claude on Vertex (the header) filtered to each host's list, and the
fields a beta enables (context_management) go with it; the fakes refuse unknown betas and ungated fields."""

from __future__ import annotations

import pytest
from conformance.upstream import Script, fake_upstream
from conformance.wire import ALL_FAMILIES

from bifrostc.runtime.http import build_client
from bifrostc.runtime.providers import adapter_class
from bifrostc.runtime.translate import anthropic
from bifrostc.runtime.translate.common import ANTHROPIC_BETAS

from .rig import TARGETS, claude_code_requests, claude_headers, provider, rig

CAPTURED = claude_code_requests()["tool-turn-2"]


@pytest.mark.parametrize("name", ["bedrock-invoke", "vertex-claude"])
async def test_claude_code_betas_reach_each_host_filtered(name: str) -> None:
    target = TARGETS[name]
    request = anthropic.parse_request(CAPTURED["body"])
    request.extra[ANTHROPIC_BETAS] = CAPTURED["headers"]["anthropic-beta"] + ",context-1m-2025-08-07"
    script = Script(ALL_FAMILIES[target.family])
    async with fake_upstream(script) as base:
        client = build_client(None)
        try:
            adapter = adapter_class(target.family)(provider("up", target, base), client)
            events = [event async for event in adapter.stream(request, model=target.model, api_key="sk-test")]
        finally:
            await client.aclose()
    assert events and script.refused == []
    body, headers = script.bodies[-1], script.headers[-1]
    sent = body.get("anthropic_beta") or headers["anthropic-beta"].split(",")
    # claude-code-20250219, thinking-token-count and advanced-tool-use are Anthropic's own: not for these hosts.
    assert sent == ["interleaved-thinking-2025-05-14", "context-management-2025-06-27", "context-1m-2025-08-07"]
    assert body["context_management"] == CAPTURED["body"]["context_management"]


@pytest.mark.parametrize("name", ["bedrock-invoke", "vertex-claude"])
async def test_the_clients_anthropic_beta_header_reaches_each_host_through_the_gateway(name: str) -> None:
    # The client's header (not a hand-filled request field) travels: the Anthropic dialect parses the body,
    # the gateway carries the header's betas to the host, filtered to what it accepts.
    body = CAPTURED["body"]
    headers = {
        **claude_headers(CAPTURED),
        "anthropic-beta": CAPTURED["headers"]["anthropic-beta"] + ",context-1m-2025-08-07",
    }
    async with rig(TARGETS[name]) as r:
        response = await r.anthropic(body, headers)
        assert response.status_code == 200, response.text
        assert r.script.refused == []
        sent_body, sent_headers = r.script.bodies[-1], r.script.headers[-1]
    sent = sent_body.get("anthropic_beta") or sent_headers["anthropic-beta"].split(",")
    assert sent == ["interleaved-thinking-2025-05-14", "context-management-2025-06-27", "context-1m-2025-08-07"]
    assert sent_body["context_management"] == body["context_management"]
