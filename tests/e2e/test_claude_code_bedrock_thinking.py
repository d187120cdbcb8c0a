"""Real Claude Code, thinking on, on a Bedrock Converse route: the signed reasoning goes back where Claude wants it.

Bedrock refuses a tool loop whose last assistant turn does not open with the signed reasoning Claude produced
(the Converse form of Claude's thinking rule). Turn 1: a Bedrock-shaped upstream (ConverseStream over
`application/vnd.amazon.eventstream`, frames as botocore decodes them) streams reasoning with its signature and a
Bash toolUse. Turn 2 must carry `reasoningContent` with that signature first, then the toolUse, and thinking still
on; the fake answers 400 (ValidationException) otherwise, as Bedrock does.
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

from tests.providers_native.eventstream import event_frame
from tests.runtime.rt_fakes import provider

pytestmark = pytest.mark.claude_cli
MODEL_ID = "anthropic.claude-sonnet-4-5-20250929-v1:0"
SIGNATURE = "RXFRQkNrWUlCeGdD"


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})


def _finish(stop: str) -> list[bytes]:
    usage = {"inputTokens": 20, "outputTokens": 5, "totalTokens": 25}
    return [event_frame("messageStop", {"stopReason": stop}), event_frame("metadata", {"usage": usage, "metrics": {}})]


def _reply(frames: list[bytes]) -> Response:
    return Response(b"".join(frames), media_type="application/vnd.amazon.eventstream")


def _text(text: str) -> Response:
    frames = [event_frame("messageStart", {"role": "assistant"}), _delta(0, {"text": text})]
    return _reply([*frames, event_frame("contentBlockStop", {"contentBlockIndex": 0}), *_finish("end_turn")])


def _history_error(body: dict[str, Any]) -> str | None:
    thinking = "thinking" in (body.get("additionalModelRequestFields") or {})
    assistant = [m for m in body.get("messages", []) if m["role"] == "assistant"]
    if not assistant or not any("toolUse" in block for block in assistant[-1]["content"]):
        return None
    first = assistant[-1]["content"][0]
    signature = first.get("reasoningContent", {}).get("reasoningText", {}).get("signature")
    if not thinking:
        return "thinking was turned off although the signed reasoning was there to send back"
    if signature != SIGNATURE:
        return "The model returned the following errors: messages.1.content.0.type: Expected `thinking`"
    return None


def bedrock_upstream(seen: list[dict[str, Any]]) -> Starlette:
    async def converse_stream(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        error = _history_error(body)
        if error:
            return JSONResponse(
                {"message": error}, status_code=400, headers={"x-amzn-errortype": "ValidationException"}
            )
        text = json.dumps(body.get("messages", []))
        if "toolResult" in text:
            return _text(FINAL_TEXT)
        if MARKER_PROMPT not in text:
            return _text("OK")  # side requests
        args = json.dumps({"command": "echo hi > marker.txt", "description": "Write a marker file"})
        start = {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_e2e", "name": "Bash"}}}
        frames = [
            event_frame("messageStart", {"role": "assistant"}),
            _delta(0, {"reasoningContent": {"text": "Bash can write the marker."}}),
            _delta(0, {"reasoningContent": {"signature": SIGNATURE}}),
            event_frame("contentBlockStop", {"contentBlockIndex": 0}),
            event_frame("contentBlockStart", start),
            _delta(1, {"toolUse": {"input": args[:15]}}),
            _delta(1, {"toolUse": {"input": args[15:]}}),
            event_frame("contentBlockStop", {"contentBlockIndex": 1}),
        ]
        return _reply([*frames, *_finish("tool_use")])

    return Starlette(routes=[Route("/model/{model_id}/converse-stream", converse_stream, methods=["POST"])])


async def test_signed_reasoning_goes_back_first_on_a_bedrock_tool_loop(live_server, tmp_path):
    seen: list[dict[str, Any]] = []
    async with live_server(bedrock_upstream(seen)) as upstream_url:
        run = await claude_session(
            live_server,
            tmp_path,
            [provider("brt", "bedrock", base_url=upstream_url, key_env="UP_KEY", max_retries=0)],
            {"claude-route": [("brt", MODEL_ID)]},
            environ={"UP_KEY": "bedrock-api-key"},
            model="claude-sonnet-4-5",  # a name Claude Code asks thinking for
            env_MAX_THINKING_TOKENS="2048",
        )
    assert FINAL_TEXT in run.check_ok()["result"]
    assert (run.work / "marker.txt").read_text().strip() == "hi"
    loop = [b for b in seen if "toolResult" in json.dumps(b.get("messages", []))]
    assert loop and all(_history_error(b) is None for b in loop)
    assert all("thinking" in b["additionalModelRequestFields"] for b in loop), "Claude Code did not ask for thinking"
