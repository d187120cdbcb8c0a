"""Each adapter family's documented wire format, for the conformance fake upstream.

A `Family` renders a reply (JSON body, stream frames, error body) the way that provider sends it: OpenAI Chat
Completions chunks and `[DONE]`, Anthropic Messages events, Bedrock Converse JSON and binary
`application/vnd.amazon.eventstream` frames, Gemini/Vertex `streamGenerateContent?alt=sse`, Cohere v2 events.
Usage is given canonically (`Tokens`) and written in each family's own usage fields.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from providers_native.eventstream import event_frame

from . import responses_fake


@dataclass(frozen=True)
class Tokens:
    """What the upstream processed: `prompt` includes `cached`; `output` includes `reasoning`."""

    prompt: int = 12
    cached: int = 0
    output: int = 5
    reasoning: int = 0


def sse(*events: tuple[str | None, dict[str, Any]]) -> list[bytes]:
    return [
        (f"event: {name}\n" if name else "").encode() + b"data: " + json.dumps(data).encode() + b"\n\n"
        for name, data in events
    ]


# --- OpenAI Chat Completions (openai, the OpenAI-compatible family, Azure) ----------------------------------
def _openai_usage(t: Tokens) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": t.prompt,
        "completion_tokens": t.output,
        "total_tokens": t.prompt + t.output,
    }
    if t.cached:
        usage["prompt_tokens_details"] = {"cached_tokens": t.cached}
    if t.reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": t.reasoning}
    return usage


def _deepseek_usage(t: Tokens) -> dict[str, Any]:
    """DeepSeek's own cache fields (api-docs.deepseek.com, "Context Caching")."""
    usage = _openai_usage(t)
    usage.pop("prompt_tokens_details", None)
    return usage | {"prompt_cache_hit_tokens": t.cached, "prompt_cache_miss_tokens": t.prompt - t.cached}


def _openai_chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> dict:
    chunk: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "up"}
    chunk["choices"] = [] if usage is not None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def openai_message(t: Tokens | None, usage: Callable[[Tokens], dict[str, Any]] = _openai_usage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "up",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    }
    if t is not None:
        body["usage"] = usage(t)
    return body


def openai_stream(t: Tokens | None, usage: Callable[[Tokens], dict[str, Any]] = _openai_usage) -> list[bytes]:
    frames = sse(
        (None, _openai_chunk({"role": "assistant", "content": ""})),
        (None, _openai_chunk({"content": "hi"})),
        (None, _openai_chunk({}, "stop")),
    )
    if t is not None:
        frames += sse((None, _openai_chunk({}, usage=usage(t))))
    return [*frames, b"data: [DONE]\n\n"]


def openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 429: "rate_limit_error"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# --- OpenAI Responses (openai and azure with `api: responses`) ---------------------------------------------
def _responses_usage(t: Tokens) -> responses_fake.Usage:
    return responses_fake.Usage(input=t.prompt, cached=t.cached, output=t.output, reasoning=t.reasoning)


def responses_message(t: Tokens | None) -> dict[str, Any]:
    return responses_fake.response([responses_fake.message("msg_1", "hi")], _responses_usage(t) if t else None)


def responses_stream(t: Tokens | None) -> list[bytes]:
    """The head (response.created, in_progress, the first output_item.added) in one write, as the API flushes
    it: `reset_after` then breaks the stream after its first output, as for the other families (the gateway
    starts the canonical message at the first output, so a failure before it is retried)."""
    frames = responses_fake.stream([responses_fake.message("msg_1", "hi")], _responses_usage(t) if t else None)
    return [b"".join(frames[:3]), *frames[3:]]


# --- Anthropic Messages -------------------------------------------------------------------------------------
def _anthropic_usage(t: Tokens) -> dict[str, Any]:
    return {"input_tokens": t.prompt - t.cached, "cache_read_input_tokens": t.cached, "output_tokens": t.output}


def anthropic_message(t: Tokens | None) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "up",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(t) if t is not None else {"input_tokens": 0, "output_tokens": 0},
    }


def anthropic_stream(t: Tokens | None) -> list[bytes]:
    usage = _anthropic_usage(t) if t is not None else {"input_tokens": 0, "output_tokens": 0}
    start = anthropic_message(t) | {"content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 0}}
    text = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}}
    end = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
    return sse(
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("content_block_delta", text),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", end | {"usage": {"output_tokens": usage["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    )


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


# --- Bedrock Converse / ConverseStream ----------------------------------------------------------------------
def _bedrock_usage(t: Tokens) -> dict[str, Any]:
    usage = {"inputTokens": t.prompt - t.cached, "outputTokens": t.output, "totalTokens": t.prompt + t.output}
    return usage | ({"cacheReadInputTokens": t.cached} if t.cached else {})


def bedrock_message(t: Tokens | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
        "stopReason": "end_turn",
        "metrics": {"latencyMs": 5},
    }
    return body | ({"usage": _bedrock_usage(t)} if t is not None else {})


def bedrock_stream(t: Tokens | None) -> list[bytes]:
    frames = [
        event_frame("messageStart", {"role": "assistant"}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}}),
        event_frame("contentBlockStop", {"contentBlockIndex": 0}),
        event_frame("messageStop", {"stopReason": "end_turn"}),
    ]
    if t is not None:
        frames.append(event_frame("metadata", {"usage": _bedrock_usage(t), "metrics": {"latencyMs": 5}}))
    return frames


def bedrock_error(status: int, message: str) -> dict[str, Any]:
    return {"message": message}


_BEDROCK_ERROR_TYPES = {400: "ValidationException", 429: "ThrottlingException", 503: "ServiceUnavailableException"}


# --- Gemini / Vertex generateContent ------------------------------------------------------------------------
def _gemini_usage(t: Tokens) -> dict[str, Any]:
    usage = {
        "promptTokenCount": t.prompt,
        "candidatesTokenCount": t.output - t.reasoning,
        "totalTokenCount": t.prompt + t.output,
    }
    if t.cached:
        usage["cachedContentTokenCount"] = t.cached
    if t.reasoning:
        usage["thoughtsTokenCount"] = t.reasoning
    return usage


def _gemini_chunk(text: str, finish: str | None, t: Tokens | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": "up", "responseId": "r1"}
    return chunk | ({"usageMetadata": _gemini_usage(t)} if t is not None else {})


def gemini_message(t: Tokens | None) -> dict[str, Any]:
    return _gemini_chunk("hi", "STOP", t)


def gemini_stream(t: Tokens | None) -> list[bytes]:
    return sse((None, _gemini_chunk("hi", None, None)), (None, _gemini_chunk("", "STOP", t)))


def gemini_error(status: int, message: str) -> dict[str, Any]:
    state = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(status, "INTERNAL")
    return {"error": {"code": status, "message": message, "status": state}}


# --- Cohere v2 chat -----------------------------------------------------------------------------------------
def _cohere_usage(t: Tokens) -> dict[str, Any]:
    tokens = {"input_tokens": t.prompt - t.cached, "output_tokens": t.output}
    return {"billed_units": tokens, "tokens": tokens} | ({"cached_tokens": t.cached} if t.cached else {})


def cohere_message(t: Tokens | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "c-1",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
    }
    return body | ({"usage": _cohere_usage(t)} if t is not None else {})


def cohere_stream(t: Tokens | None) -> list[bytes]:
    start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    end: dict[str, Any] = {"finish_reason": "COMPLETE"} | ({"usage": _cohere_usage(t)} if t is not None else {})
    events = [
        {"id": "c-1", "type": "message-start", "delta": {"message": start}},
        {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "hi"}}}},
        {"type": "content-end", "index": 0},
        {"type": "message-end", "delta": end},
    ]
    return sse(*((e["type"], e) for e in events))


def cohere_error(status: int, message: str) -> dict[str, Any]:
    return {"message": message}


@dataclass(frozen=True)
class Family:
    name: str  # the provider type, unless `type` says
    message: Callable[[Tokens | None], dict[str, Any]]
    stream: Callable[[Tokens | None], list[bytes]]
    error: Callable[[int, str], dict[str, Any]]
    stream_type: str = "text/event-stream"
    options: tuple[tuple[str, str], ...] = ()
    base_path: str = ""
    corrupt_frame: bytes = b"data: {not json\n\n"
    error_headers: Callable[[int], dict[str, str]] = field(default=lambda status: {})
    overflow: str = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    reports_cache: bool = True
    reports_reasoning: bool = True
    type: str = ""  # the provider type when `name` is not one (a family that is another API of a type)
    api: str = ""  # the provider's `api` option for the routed model (responses)

    def is_stream(self, path: str, body: dict[str, Any]) -> bool:
        return "stream" in path.rsplit("/", 1)[-1].lower() or body.get("stream") is True


GEMINI_OVERFLOW = "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
FAMILIES = {
    f.name: f
    for f in (
        Family("openai", openai_message, openai_stream, openai_error, base_path="/v1"),
        Family(
            "deepseek",
            lambda t: openai_message(t, _deepseek_usage),
            lambda t: openai_stream(t, _deepseek_usage),
            openai_error,
            base_path="/v1",
        ),
        Family("azure", openai_message, openai_stream, openai_error),
        Family(
            "openai-responses",
            responses_message,
            responses_stream,
            openai_error,
            base_path="/v1",
            type="openai",
            api="responses",
        ),
        Family(
            "anthropic",
            anthropic_message,
            anthropic_stream,
            anthropic_error,
            overflow="prompt is too long: 210000 tokens > 200000 maximum",
            reports_reasoning=False,
        ),
        Family(
            "bedrock",
            bedrock_message,
            bedrock_stream,
            bedrock_error,
            stream_type="application/vnd.amazon.eventstream",
            corrupt_frame=b"\x00\x00\x00\x20\x00\x00\x00\x00garbage-not-a-valid-frame-at-all",
            error_headers=lambda status: {
                "x-amzn-errortype": _BEDROCK_ERROR_TYPES.get(status, "InternalServerException")
            },
            overflow="Input is too long for requested model.",
            reports_reasoning=False,
        ),
        Family(
            "vertex", gemini_message, gemini_stream, gemini_error, options=(("project", "p"),), overflow=GEMINI_OVERFLOW
        ),
        Family("gemini", gemini_message, gemini_stream, gemini_error, overflow=GEMINI_OVERFLOW),
        # Cohere v2 documents `cached_tokens` but not whether `tokens.input_tokens` includes them: no cache case.
        Family(
            "cohere",
            cohere_message,
            cohere_stream,
            cohere_error,
            overflow="too many tokens: total number of tokens in the prompt cannot exceed 128000 - received 130000",
            reports_cache=False,
            reports_reasoning=False,
        ),
    )
}


# Families that speak OpenAI's wire but refuse differently (tests/conformance/refusals.py): the request-rule
# tests send to them; the transport conformance matrix above stays on the eight wire formats.
COMPAT_FAMILIES = {
    name: Family(name, openai_message, openai_stream, openai_error, base_path="/v1")
    for name in ("mistral", "cerebras", "groq", "openrouter", "vllm")
}
ALL_FAMILIES = FAMILIES | COMPAT_FAMILIES


def bedrock_invoke_stream(t: Tokens | None) -> list[bytes]:
    """InvokeModelWithResponseStream: each Anthropic event base64-encoded in a `chunk` event."""
    frames = []
    for frame in anthropic_stream(t):
        data = frame.split(b"data: ", 1)[1].strip()
        frames.append(event_frame("chunk", {"bytes": base64.b64encode(data).decode()}))
    return frames


def for_path(family: Family, path: str) -> Family:
    """Claude on Vertex (rawPredict) and on Bedrock InvokeModel answer in Anthropic's format; OpenAI's and Azure's
    /responses in the Responses API's."""
    if path.endswith("/responses"):
        return FAMILIES["openai-responses"]
    if family.name == "vertex" and "/publishers/anthropic/" in path:
        return FAMILIES["anthropic"]
    if family.name == "bedrock" and path.rsplit("/", 1)[-1].startswith("invoke"):
        anthropic = FAMILIES["anthropic"]
        return Family(
            "bedrock",
            anthropic.message,
            bedrock_invoke_stream,
            bedrock_error,
            stream_type="application/vnd.amazon.eventstream",
            error_headers=family.error_headers,
        )
    return family
