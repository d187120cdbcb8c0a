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

from .rig import TARGETS, claude_code_requests, provider

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
