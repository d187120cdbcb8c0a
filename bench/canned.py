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
