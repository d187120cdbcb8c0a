"""Real Claude Code on a Gemini 3 route: Gemini's thought signatures survive Claude Code's history unchanged.

Gemini 3 refuses a tool loop whose function call comes back without the thoughtSignature it issued. Turn 1: a
Gemini-shaped upstream (streamGenerateContent, built from google-genai's types) thinks and streams a Bash call
signed with a signature. Claude Code stores it as a thinking block whose signature is marked as Gemini's
(`bfc:gemini:`), runs the tool and sends the history back; the gateway must hand Gemini exactly its own
signature on that call again, or the upstream answers 400 as Gemini does.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from google.genai import types as genai
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from test_claude_code import FINAL_TEXT, MARKER_PROMPT, claude_session

from tests.runtime.rt_fakes import provider

pytestmark = pytest.mark.claude_cli
SIGNATURE = "R2VtaW5pLXNpZ25lZC10aG91Z2h0"  # what the fake Gemini signs its call with (base64, as Gemini's are)


def _sse(*chunks: genai.GenerateContentResponse) -> Response:
    body = b"".join(
        b"data: " + orjson.dumps(c.model_dump(mode="json", by_alias=True, exclude_none=True)) + b"\r\n\r\n"
        for c in chunks
    )
    return Response(body, media_type="text/event-stream")


def _chunk(*parts: genai.Part, finish: genai.FinishReason | None = None) -> genai.GenerateContentResponse:
    usage = genai.GenerateContentResponseUsageMetadata(prompt_token_count=20, candidates_token_count=5)
    candidate = genai.Candidate(content=genai.Content(role="model", parts=list(parts)), finish_reason=finish)
    return genai.GenerateContentResponse(response_id="r1", candidates=[candidate], usage_metadata=usage)


def _calls(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for c in body.get("contents", []) if c["role"] == "model" for p in c["parts"] if "functionCall" in p]


def gemini_upstream(seen: list[dict[str, Any]]) -> Starlette:
    async def generate(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        calls = _calls(body)
        if any(call.get("thoughtSignature") != SIGNATURE for call in calls):
            error = {"code": 400, "message": "Corrupted thought signature.", "status": "INVALID_ARGUMENT"}
            return JSONResponse({"error": error}, status_code=400)
        stop = genai.FinishReason.STOP
        if calls:  # the tool ran: finish
            return _sse(_chunk(genai.Part(text=FINAL_TEXT), finish=stop))
        if MARKER_PROMPT not in json.dumps(body.get("contents", [])):
            return _sse(_chunk(genai.Part(text="OK"), finish=stop))  # side requests
        args = {"command": "echo hi > marker.txt", "description": "Write a marker file"}
        call = genai.Part(
            function_call=genai.FunctionCall(name="Bash", args=args), thought_signature=base64.b64decode(SIGNATURE)
        )
        return _sse(
            _chunk(genai.Part(text="Bash can write the marker.", thought=True)),
            _chunk(call, finish=stop),
        )

    return Starlette(routes=[Route("/v1beta/models/{rest:path}", generate, methods=["POST"])])


async def test_gemini_signatures_round_trip_through_claude_code(live_server, tmp_path):
    seen: list[dict[str, Any]] = []
    async with live_server(gemini_upstream(seen)) as upstream_url:
        run = await claude_session(
            live_server,
            tmp_path,
            [provider("gem", "gemini", base_url=f"{upstream_url}/v1beta", key_env="UP_KEY", max_retries=0)],
            {"fake-model": [("gem", "gemini-3-pro-preview")]},
            environ={"UP_KEY": "g-key"},
        )
    assert FINAL_TEXT in run.check_ok()["result"]
    assert (run.work / "marker.txt").read_text().strip() == "hi"
    returned = [call for body in seen for call in _calls(body)]
    assert returned and all(call["thoughtSignature"] == SIGNATURE for call in returned)
