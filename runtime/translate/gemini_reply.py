"""Canonical response, stream events and errors -> what a Gemini API client reads (``GenerateContentResponse``).

The mirror of ``gemini.parse_response`` / ``gemini_stream.StreamParser``. A stream is one
``GenerateContentResponse`` per SSE event (``alt=sse``) holding only the new parts, or, without ``alt=sse``, the
same objects as one JSON array sent piece by piece. Text and thoughts go out as they arrive; a function call
goes out whole once its arguments are complete (Gemini never streams arguments). The last chunk carries
``finishReason`` and ``usageMetadata``. A signature on a thinking block without text (Gemini's own, on the call
or text that follows) goes out on that next part, as Gemini sends it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate.common import merged_usage
from bifrostc.runtime.translate.gemini_inbound import redacted_to_client, signature_to_client
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    ImagePart,
    MessageDelta,
    MessageStart,
    MessageStop,
    Part,
    StopReason,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)

_FINISH: dict[str, str] = {"max_tokens": "MAX_TOKENS", "refusal": "SAFETY"}  # everything else is STOP
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    529: "UNAVAILABLE",
}


def finish_reason(stop: StopReason | None) -> str:
    return _FINISH.get(stop or "", "STOP")


def usage_metadata(usage: Usage) -> dict[str, int]:
    """The inverse of ``gemini.parse_usage``: the prompt count includes cached tokens, thoughts are apart."""
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    thoughts = min(usage.reasoning_tokens, usage.output_tokens)
    candidates = usage.output_tokens - thoughts
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates}
    if usage.cache_read_tokens:
        meta["cachedContentTokenCount"] = usage.cache_read_tokens
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
        meta["totalTokenCount"] += thoughts
    return meta


def function_call(part: ToolCallPart) -> dict[str, Any]:
    try:
        args = json.loads(part.arguments) if part.arguments.strip() else {}
    except json.JSONDecodeError:
        args = {}
    return {"functionCall": {"id": part.id, "name": part.name, "args": args if isinstance(args, dict) else {}}}


def build_parts(content: list[Part]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    pending: str | None = None  # a signature waiting for the part it belongs to
    for part in content:
        if isinstance(part, ThinkingPart):
            if part.redacted_data:
                parts.append({"text": "", "thought": True, "thoughtSignature": redacted_to_client(part.redacted_data)})
                continue
            signature = signature_to_client(part.signature)
            if part.thinking:
                built: dict[str, Any] = {"text": part.thinking, "thought": True}
                if signature:
                    built["thoughtSignature"] = signature
                parts.append(built)
            elif signature:
                pending = signature
            continue
        if isinstance(part, TextPart):
            built = {"text": part.text}
        elif isinstance(part, ToolCallPart):
            built = function_call(part)
        elif isinstance(part, ImagePart) and part.data is not None:
            built = {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data}}
        else:
            continue
        if pending:
            built["thoughtSignature"], pending = pending, None
        parts.append(built)
    if pending:
        parts.append({"text": "", "thought": True, "thoughtSignature": pending})
    return parts


def _response(
    response_id: str, model: str, parts: list[dict[str, Any]], finish: str | None, usage: Usage | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        body["usageMetadata"] = usage_metadata(usage)
    body["modelVersion"] = model
    body["responseId"] = response_id
    return body


def build_response(response: ChatResponse) -> dict[str, Any]:
    return _response(
        response.id.removeprefix("msg_"),
        response.model,
        build_parts(response.content),
        finish_reason(response.stop_reason),
        response.usage,
    )


def error_body(exc: GatewayError) -> dict[str, Any]:
    """Google's error shape (``google.rpc.Status`` as JSON), with a RetryInfo detail when there is a retry-after."""
    status = _STATUS.get(exc.status, "INTERNAL" if exc.status >= 500 else "FAILED_PRECONDITION")
    error: dict[str, Any] = {"code": exc.status, "message": exc.message, "status": status}
    if exc.retry_after is not None:
        delay = f"{max(0.0, exc.retry_after):g}s"
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]
    return {"error": error}


def count_tokens_body(total: int) -> dict[str, Any]:
    return {"totalTokens": total}


@dataclass(slots=True)
class _Call:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)


class StreamEncoder:
    """Canonical events -> Gemini stream bytes: SSE ``data:`` events, or one JSON array when ``sse`` is False."""

    def __init__(self, *, sse: bool = True) -> None:
        self._sse = sse
        self._id = "gemini"
        self._model = ""
        self._sent = 0  # chunks written (the array framing needs to know the first)
        self._kinds: dict[int, str] = {}
        self._calls: dict[int, _Call] = {}
        self._thinking: dict[int, bool] = {}  # block index -> whether it had text
        self._pending: str | None = None  # a signature for the next part
        self._stop: StopReason | None = None
        self._usage = Usage()
        self._closed = False

    def encode(self, event: StreamEvent) -> bytes:
        if self._closed:
            return b""
        if isinstance(event, MessageStart):
            self._id, self._model = event.id.removeprefix("msg_"), event.model
            self._usage = event.usage
            return b""
        if isinstance(event, BlockStart):
            self._kinds[event.index] = event.type
            if event.type == "tool_use":
                self._calls[event.index] = _Call(event.id or "", event.name or "")
            if event.type == "thinking":
                self._thinking[event.index] = False
            if event.type == "redacted_thinking" and event.data:
                return self._part({"text": "", "thought": True, "thoughtSignature": redacted_to_client(event.data)})
            return b""
        if isinstance(event, BlockDelta):
            return self._delta(event)
        if isinstance(event, BlockStop):
            return self._stop_block(event.index)
        if isinstance(event, MessageDelta):
            self._stop = event.stop_reason
            self._usage = merged_usage(self._usage, event.usage)
            return b""
        if isinstance(event, MessageStop):
            return self._finish()
        if isinstance(event, StreamError):
            return self._error(event)
        return b""

    def _delta(self, event: BlockDelta) -> bytes:
        if event.kind == "arguments":
            call = self._calls.get(event.index)
            if call is not None:
                call.arguments.append(event.text)
            return b""
        if event.kind == "text":
            return self._part({"text": event.text}) if event.text else b""
        if event.kind == "thinking":
            if not event.text:
                return b""
            self._thinking[event.index] = True
            return self._part({"text": event.text, "thought": True})
        signature = signature_to_client(event.text)  # kind == "signature"
        if not signature:
            return b""
        if self._thinking.get(event.index):
            return self._part({"text": "", "thought": True, "thoughtSignature": signature})
        self._pending = signature
        return b""

    def _stop_block(self, index: int) -> bytes:
        call = self._calls.pop(index, None)
        if call is None:
            return b""
        return self._part(function_call(ToolCallPart(call.id, call.name, "".join(call.arguments))))

    def _part(self, part: dict[str, Any]) -> bytes:
        if self._pending and not part.get("thought"):
            part["thoughtSignature"], self._pending = self._pending, None
        return self._chunk(_response(self._id, self._model, [part], None, None))

    def _finish(self) -> bytes:
        parts = [{"text": "", "thought": True, "thoughtSignature": self._pending}] if self._pending else []
        self._pending = None
        body = _response(self._id, self._model, parts, finish_reason(self._stop), self._usage)
        out = self._chunk(body)
        self._closed = True
        return out + (b"]" if not self._sse else b"")

    def _error(self, event: StreamError) -> bytes:
        error = GatewayError(event.message)
        error.status = event.status
        out = self._chunk(error_body(error))
        self._closed = True
        return out + (b"]" if not self._sse else b"")

    def _chunk(self, body: dict[str, Any]) -> bytes:
        data = orjson.dumps(body)
        if self._sse:
            return b"data: " + data + b"\r\n\r\n"
        head = b"[" if self._sent == 0 else b",\r\n"
        self._sent += 1
        return head + data
