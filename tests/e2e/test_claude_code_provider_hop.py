"""Real Claude Code, with thinking on, whose tool loop hops from an OpenAI reasoning model to Claude mid-way.

Turn 1 is served by an OpenAI-shaped upstream that thinks (reasoning_content) and streams a Bash tool call:
Claude Code receives a thinking block Claude never signed. Turn 2 (carrying the tool result) fails there with a
500, so the route falls back to an Anthropic-shaped upstream that enforces Claude's two documented history rules
("Invalid `signature` in `thinking` block"; with thinking on, the final assistant turn must open with thinking).
Without the gateway's history handling Claude Code would get a 400 here; with it the loop completes.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from test_claude_code import FINAL_TEXT, MARKER_PROMPT, claude_session

from tests.runtime.rt_fakes import anthropic_text_stream, openai_chunk, provider, sse

pytestmark = pytest.mark.claude_cli


def _openai_stream(chunks: list[dict[str, Any]]) -> Response:
    usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
    body = sse([(None, c) for c in chunks] + [(None, openai_chunk({}, usage=usage))]) + b"data: [DONE]\n\n"
    return Response(body, media_type="text/event-stream")


def thinking_openai_upstream(seen: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        text = json.dumps(body.get("messages", []))
        if any(m.get("role") == "tool" for m in body.get("messages", [])):
            return JSONResponse({"error": {"message": "upstream down", "type": "server_error"}}, status_code=500)
        if MARKER_PROMPT not in text:
            return _openai_stream([openai_chunk({"role": "assistant", "content": "OK"}), openai_chunk({}, "stop")])
        args = json.dumps({"command": "echo hi > marker.txt", "description": "Write a marker file"})
        call = {"index": 0, "id": "call_hop_0", "type": "function", "function": {"name": "Bash", "arguments": args}}
        return _openai_stream(
            [
                openai_chunk({"role": "assistant", "content": None}),
                openai_chunk({"reasoning_content": "The user wants a marker file; Bash can write it."}),
                openai_chunk({"tool_calls": [call]}),
                openai_chunk({}, "tool_calls"),
            ]
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def _history_error(body: dict[str, Any]) -> str | None:
    """What the real Messages API answers 400 to, for the two rules this test is about."""
    messages = body.get("messages", [])
    for i, message in enumerate(messages):
        for j, block in enumerate(message.get("content") if isinstance(message.get("content"), list) else []):
            if block.get("type") == "thinking" and (
                not block.get("signature") or block["signature"].startswith("bfc:")
            ):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    assistant = [m for m in messages if m.get("role") == "assistant"]
    if thinking and assistant and isinstance(assistant[-1].get("content"), list):
        content = assistant[-1]["content"]
        if any(b.get("type") == "tool_use" for b in content) and content[0].get("type") != "thinking":
            return "Expected `thinking` or `redacted_thinking`, but found `tool_use`."
    return None


def strict_anthropic_upstream(seen: list[dict[str, Any]]) -> Starlette:
    async def messages(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        error = _history_error(body)
        if error:
            payload = {"type": "error", "error": {"type": "invalid_request_error", "message": error}}
            return JSONResponse(payload, status_code=400)
        return Response(anthropic_text_stream(FINAL_TEXT), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


async def test_a_tool_loop_begun_on_an_openai_reasoning_model_finishes_on_claude(live_server, tmp_path):
    openai_seen: list[dict[str, Any]] = []
    claude_seen: list[dict[str, Any]] = []
    async with (
        live_server(thinking_openai_upstream(openai_seen)) as openai_url,
        live_server(strict_anthropic_upstream(claude_seen)) as claude_url,
    ):
        run = await claude_session(
            live_server,
            tmp_path,
            [
                provider("gpt", "openai", base_url=f"{openai_url}/v1", key_env="UP_KEY", max_retries=0),
                provider("claude", "anthropic", base_url=claude_url, key_env="UP_KEY"),
            ],
            {"fake-model": [("gpt", "gpt-5")], "claude-route": [("claude", "claude-up")]},
            environ={"UP_KEY": "sk-fake"},
            fallbacks={"fake-model": ("claude-route",)},
            model="claude-sonnet-4-5",  # a name Claude Code asks thinking for
            env_MAX_THINKING_TOKENS="2048",
        )
    assert FINAL_TEXT in run.check_ok()["result"]
    assert (run.work / "marker.txt").read_text().strip() == "hi"
    loop_turns = [b for b in claude_seen if "tool_result" in json.dumps(b.get("messages", []))]
    assert loop_turns, "the tool result never reached the Claude fallback"
    assert all(_history_error(b) is None for b in loop_turns)
    assert any(b.get("reasoning_effort") for b in openai_seen), "Claude Code did not ask for thinking"
