"""Real Claude Code on a Gemini 3 route whose answer text is signed: Gemini 3 signs the last text chunk, or sends
an empty part after it that carries the signature. Claude Code must get the answer whole, as one text block (its
``-p`` result is the last block), and the next turn (``--continue``) must hand Gemini its signature back on that
text: the fake refuses a model turn that lost it, with Gemini's 400."""

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
from test_claude_code import MARKER_PROMPT, TIERS, claude_binary, headless_env, run_claude
from test_claude_code_gemini_signatures import _chunk, _sse

from bifrostc.runtime.app import create_app
from tests.runtime.rt_fakes import gateway, provider

pytestmark = pytest.mark.claude_cli
SIGNATURE = "U2lnbmVkLWFuc3dlci10ZXh0"  # base64, as Gemini's are
ANSWER = ["The whole answer ", "arrives in three ", "chunks: ALPHA-BETA-GAMMA."]
SECOND = "Second turn answered."


def _model_texts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for c in body.get("contents", []) if c["role"] == "model" for p in c["parts"] if "text" in p]


def signed_text_upstream(seen: list[dict[str, Any]], empty_last_part: bool) -> Starlette:
    async def generate(request: Request) -> Response:
        body = orjson.loads(await request.body())
        seen.append(body)
        stop = genai.FinishReason.STOP
        if MARKER_PROMPT not in json.dumps(body.get("contents", [])):
            return _sse(_chunk(genai.Part(text="OK"), finish=stop))  # side requests: titles, topics
        answered = [p for p in _model_texts(body) if "ALPHA-BETA-GAMMA" in p["text"]]
        if answered:  # the next turn: the answer's signature must come back on it
            if any(p.get("thoughtSignature") != SIGNATURE for p in answered):
                message = "Text part is missing a thought_signature. Please refer to the thought signatures docs."
                error = {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
                return JSONResponse({"error": error}, status_code=400)
            return _sse(_chunk(genai.Part(text=SECOND), finish=stop))
        signed = base64.b64decode(SIGNATURE)
        chunks = [_chunk(genai.Part(text="Checking the request first.", thought=True))]
        chunks += [_chunk(genai.Part(text=piece)) for piece in ANSWER[:-1]]
        if empty_last_part:
            chunks += [_chunk(genai.Part(text=ANSWER[-1])), _chunk(genai.Part(text="", thought_signature=signed))]
        else:
            chunks += [_chunk(genai.Part(text=ANSWER[-1], thought_signature=signed))]
        chunks[-1].candidates[0].finish_reason = stop  # type: ignore[index]
        return _sse(*chunks)

    return Starlette(routes=[Route("/v1beta/models/{rest:path}", generate, methods=["POST"])])


@pytest.mark.parametrize("empty_last_part", [False, True], ids=["signed-last-chunk", "signed-empty-last-part"])
async def test_signed_gemini_answer_reaches_claude_code_whole_and_its_signature_goes_back(
    live_server, tmp_path, empty_last_part
):
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    seen: list[dict[str, Any]] = []
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    async with live_server(signed_text_upstream(seen, empty_last_part)) as upstream_url:
        gem = provider("gem", "gemini", base_url=f"{upstream_url}/v1beta", key_env="UP_KEY", max_retries=0)
        gw = gateway([gem], {"fake-model": [("gem", "gemini-3-pro-preview")]}, tiers=dict.fromkeys(TIERS, "fake-model"))
        async with live_server(create_app(gw, environ={"UP_KEY": "g-key"})) as gateway_url:
            env = headless_env(home, gateway_url, "fake-model")
            first = await run_claude(binary, env, work, "--model", "sonnet")
            second = await run_claude(binary, env, work, "--model", "sonnet", "--continue")
    for code, out, err in (first, second):
        assert code == 0, err.decode()[-2000:] + out.decode()[-2000:]
    assert json.loads(first[1])["result"] == "".join(ANSWER)
    assert json.loads(second[1])["result"] == SECOND
    returned = [p for body in seen for p in _model_texts(body) if "ALPHA-BETA-GAMMA" in p["text"]]
    assert returned and all(p["text"] == "".join(ANSWER) and p["thoughtSignature"] == SIGNATURE for p in returned)
