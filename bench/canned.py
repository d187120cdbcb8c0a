"""Canned upstream bodies: one OpenAI and one Anthropic answer, as JSON and as an SSE stream."""

from __future__ import annotations

import orjson

WORDS = ["Hello", " from", " the", " fake", " upstream", ",", " here", " is", " a", " short", " answer", "."]


def _sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def openai_json(model: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": len(WORDS), "total_tokens": 12 + len(WORDS)},
        }
    )


def openai_stream(model: str, deltas: int | None = None) -> bytes:
    """The canned answer as an OpenAI stream; ``deltas``: that many content deltas (cycling the words)."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model}
    words = WORDS if deltas is None else [WORDS[i % len(WORDS)] for i in range(deltas)]
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 12, "completion_tokens": len(words), "total_tokens": 12 + len(words)}
    chunks.append({**base, "choices": [], "usage": usage})
    return b"".join(_sse(c) for c in chunks) + b"data: [DONE]\n\n"


def anthropic_json(model: str) -> bytes:
    return orjson.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "".join(WORDS)}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": len(WORDS)},
        }
    )


def anthropic_stream(model: str, deltas: int | None = None) -> bytes:
    """The canned answer as an Anthropic stream; ``deltas``: that many text deltas (cycling the words)."""
    words = WORDS if deltas is None else [WORDS[i % len(WORDS)] for i in range(deltas)]
    start = {
        "type": "message",
        "id": "msg_bench",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    events = [_sse({"type": "message_start", "message": start}, "message_start")]
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    events.append(_sse(block, "content_block_start"))
    for w in words:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}
        events.append(_sse(delta, "content_block_delta"))
    events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    tail = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": len(words)}}
    events.append(_sse(tail, "message_delta"))
    events.append(_sse({"type": "message_stop"}, "message_stop"))
    return b"".join(events)


def responses_stream(model: str) -> bytes:
    """The canned answer as an OpenAI Responses stream (what a Responses-only model, e.g. gpt-5-codex, sends)."""
    base = {"id": "resp_bench", "object": "response", "created_at": 1_700_000_000, "model": model}
    text = "".join(WORDS)
    part = {"type": "output_text", "text": "", "annotations": []}
    item = {"id": "msg_bench", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    done = {**item, "status": "completed", "content": [{**part, "text": text}]}
    at = {"item_id": "msg_bench", "output_index": 0, "content_index": 0}
    usage = {"input_tokens": 12, "output_tokens": len(WORDS), "total_tokens": 12 + len(WORDS)}
    events = [
        {"type": "response.created", "response": {**base, "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **at, "part": part},
        *({"type": "response.output_text.delta", **at, "delta": w} for w in WORDS),
        {"type": "response.output_text.done", **at, "text": text},
        {"type": "response.content_part.done", **at, "part": {**part, "text": text}},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": {**base, "status": "completed", "output": [done], "usage": usage}},
    ]
    return b"".join(_sse(e, e["type"]) for e in events)
