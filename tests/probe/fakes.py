"""Fake upstreams for the probe, told how to misbehave by the first path segment of their base URL.

They speak each provider's documented streaming format and enforce its rules: the Anthropic fake refuses a
thinking-enabled tool loop whose last assistant turn does not start with the signed thinking it issued
("Expected `thinking` or `redacted_thinking`, but found `tool_use`"), as the Messages API does.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WRITE_ARGS = json.dumps({"path": "probe.txt", "content": "ok"})
SIGNATURE = "sig-fake-anthropic-1"


def _sse(events: list[tuple[str | None, Any]]) -> bytes:
    out = b""
    for name, data in events:
        if name:
            out += f"event: {name}\n".encode()
        out += f"data: {json.dumps(data) if not isinstance(data, str) else data}\n\n".encode()
    return out


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status_code=status)


def _turn(text: str, has_tool_result: bool) -> str:
    if has_tool_result:
        return "answer"
    return "parallel" if "a.txt" in text else "tool"


# --- OpenAI Chat Completions ----------------------------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}


def _openai_calls(calls: list[tuple[str, str]], at_end: bool) -> list[dict[str, Any]]:
    chunks = []
    for index, (name, args) in enumerate(calls):
        head = {"index": index, "id": f"call_{index}", "type": "function", "function": {"name": name}}
        if at_end:
            chunks.append(_chunk({"tool_calls": [{**head, "function": {"name": name, "arguments": args}}]}))
            continue
        chunks.append(_chunk({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}))
        for start in range(0, len(args), 8):
            part = {"index": index, "function": {"arguments": args[start : start + 8]}}
            chunks.append(_chunk({"tool_calls": [part]}))
    return chunks


async def openai_chat(request: Request) -> Response:
    mode = request.path_params["mode"]
    body = json.loads(await request.body())
    if mode == "bad_key":
        return JSONResponse({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, 401)
    messages = body.get("messages", [])
    turn = _turn(json.dumps(messages), any(m.get("role") == "tool" for m in messages))
    if turn == "parallel" and mode == "reject_parallel":
        return JSONResponse(
            {"error": {"message": "parallel tool calls are not supported", "type": "invalid_request_error"}}, 400
        )
    chunks = [_chunk({"role": "assistant", "content": ""})]
    if turn == "answer" or mode == "no_tool":
        chunks += [_chunk({"content": "done" if turn == "answer" else "I cannot use tools."}), _chunk({}, "stop")]
    elif turn == "parallel":
        reads = [("read_file", json.dumps({"path": "a.txt"})), ("read_file", json.dumps({"path": "b.txt"}))]
        chunks += [*_openai_calls(reads, at_end=False), _chunk({}, "tool_calls")]
    else:
        chunks += [*_openai_calls([("write_file", WRITE_ARGS)], at_end=mode == "args_at_end"), _chunk({}, "tool_calls")]
    if mode != "no_usage" and (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140}
        chunks.append(
            {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": [], "usage": usage}
        )
    return Response(_sse([(None, c) for c in chunks]) + b"data: [DONE]\n\n", media_type="text/event-stream")


# --- Anthropic Messages -----------------------------------------------------------------------------------------


def _history_error(body: dict[str, Any], mode: str) -> JSONResponse | None:
    thinking = (body.get("thinking") or {}).get("type") == "enabled"
    assistants = [m for m in body.get("messages", []) if m.get("role") == "assistant"]
    if not thinking or not assistants:
        return None
    content = assistants[-1].get("content") or []
    first = content[0] if content and isinstance(content, list) else {}
    if mode == "reject_reasoning":
        return _error(400, "messages.1.content.0: Invalid `signature` in `thinking` block")
    if first.get("type") != "thinking" or first.get("signature") != SIGNATURE:
        return _error(
            400,
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When"
            " `thinking` is enabled, a final `assistant` message must start with a thinking block.",
        )
    return None


def _anthropic_events(blocks: list[dict[str, Any]], stop: str) -> list[tuple[str | None, Any]]:
    usage = {"input_tokens": 150, "output_tokens": 1, "cache_read_input_tokens": 0}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [], "usage": usage}
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": message})]
    for index, block in enumerate(blocks):
        if block["type"] == "thinking":
            start = {"type": "thinking", "thinking": ""}
            deltas = [{"type": "thinking_delta", "thinking": "Plan the call."}]
            deltas.append({"type": "signature_delta", "signature": SIGNATURE})
        elif block["type"] == "text":
            start, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": block["text"]}]
        else:
            start = {"type": "tool_use", "id": f"toolu_{index}", "name": block["name"], "input": {}}
            args = block["args"]
            deltas = [{"type": "input_json_delta", "partial_json": args[i : i + 8]} for i in range(0, len(args), 8)]
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": 30},
    }
    return [*events, ("message_delta", delta), ("message_stop", {"type": "message_stop"})]


async def anthropic_messages(request: Request) -> Response:
    mode = request.path_params["mode"]
    body = json.loads(await request.body())
    if (refused := _history_error(body, mode)) is not None:
        return refused
    messages = body.get("messages", [])
    results = any(
        isinstance(m.get("content"), list) and any(b.get("type") == "tool_result" for b in m["content"])
        for m in messages
    )
    turn = _turn(json.dumps(messages), results)
    blocks: list[dict[str, Any]] = []
    if (body.get("thinking") or {}).get("type") == "enabled":
        blocks.append({"type": "thinking"})
    if turn == "answer":
        blocks.append({"type": "text", "text": "done"})
        stop = "end_turn"
    elif turn == "parallel":
        blocks += [
            {"type": "tool_use", "name": "read_file", "args": json.dumps({"path": p})} for p in ("a.txt", "b.txt")
        ]
        stop = "tool_use"
    else:
        blocks.append({"type": "tool_use", "name": "write_file", "args": WRITE_ARGS})
        stop = "end_turn" if mode == "wrong_stop" else "tool_use"
    return Response(_sse(_anthropic_events(blocks, stop)), media_type="text/event-stream")


async def anthropic_count(request: Request) -> Response:
    return JSONResponse({"input_tokens": 42})


# --- Gemini generateContent ---------------------------------------------------------------------------------

GEMINI_SIGNATURE = "Z2VtaW5pLXNpZ25hdHVyZQ=="


def _gemini_error(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}, status_code=400)


async def gemini_stream(request: Request) -> Response:
    body = json.loads(await request.body())
    if request.path_params["call"].endswith(":countTokens"):  # the Gemini API's countTokens
        return JSONResponse({"totalTokens": 42})
    contents = body.get("contents", [])
    for content in contents:
        for part in content.get("parts", []) if content.get("role") == "model" else []:
            # Gemini 3: a function call of the current turn must carry the signature it came with.
            if "functionCall" in part and part.get("thoughtSignature") != GEMINI_SIGNATURE:
                return _gemini_error(
                    "Function call is missing a thought_signature in functionCall parts. This is required for tools"
                    " to work correctly, and missing thought_signature may lead to degraded model performance."
                )
    results = any("functionResponse" in part for content in contents for part in content.get("parts", []))
    turn = _turn(json.dumps(contents), results)
    parts: list[dict[str, Any]] = [{"text": "Planning the call.", "thought": True}]
    if turn == "answer":
        parts.append({"text": "done", "thoughtSignature": GEMINI_SIGNATURE})
    elif turn == "parallel":
        parts += [
            {"functionCall": {"name": "read_file", "args": {"path": "a.txt"}}, "thoughtSignature": GEMINI_SIGNATURE},
            {"functionCall": {"name": "read_file", "args": {"path": "b.txt"}}},
        ]
    else:
        call = {"name": "write_file", "args": json.loads(WRITE_ARGS)}
        parts.append({"functionCall": call, "thoughtSignature": GEMINI_SIGNATURE})
    usage = {"promptTokenCount": 110, "candidatesTokenCount": 12, "totalTokenCount": 122}
    chunks = [{"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}]} for part in parts[:-1]] + [
        {
            "candidates": [{"content": {"role": "model", "parts": [parts[-1]]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage,
        }
    ]
    return Response(_sse([(None, chunk) for chunk in chunks]), media_type="text/event-stream")


def fake_upstreams(seen: list[str]) -> Starlette:
    """OpenAI at /{mode}/v1/chat/completions, Anthropic at /{mode}/v1/messages, Gemini at /{mode}/v1beta;
    `seen` records each path."""

    async def record(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await app(scope, receive, send)

    app = Starlette(
        routes=[
            Route("/{mode}/v1/chat/completions", openai_chat, methods=["POST"]),
            Route("/{mode}/v1/messages/count_tokens", anthropic_count, methods=["POST"]),
            Route("/{mode}/v1/messages", anthropic_messages, methods=["POST"]),
            Route("/{mode}/v1beta/models/{call:path}", gemini_stream, methods=["POST"]),
        ]
    )
    return record  # type: ignore[return-value]
