"""A tiny ``application/vnd.amazon.eventstream`` encoder for fake Bedrock upstreams.

Frame: total length, headers length, prelude CRC32, headers (name, type 7 = string, value), payload, and a
CRC32 of everything before it. Checked against botocore's decoder in the tests.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

_STRING_HEADER = 7


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    encoded_headers = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded_headers += struct.pack(">B", len(raw_name)) + raw_name
        encoded_headers += struct.pack(">BH", _STRING_HEADER, len(raw_value)) + raw_value
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_frame(headers, json.dumps(payload).encode())


def exception_frame(exception_type: str, message: str) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_frame(headers, json.dumps({"message": message}).encode())


def converse_stream(
    *, text: str, tool_args_chunks: list[str], stop_reason: str = "tool_use", reasoning: str = ""
) -> list[bytes]:
    """Frames of a realistic ConverseStream: optional reasoning, text, then one tool call with chunked input."""
    frames = [event_frame("messageStart", {"role": "assistant"})]
    index = 0
    if reasoning:
        frames.append(event_frame("contentBlockDelta", _delta(index, {"reasoningContent": {"text": reasoning}})))
        frames.append(event_frame("contentBlockDelta", _delta(index, {"reasoningContent": {"signature": "U0lH"}})))
        frames.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    frames.append(event_frame("contentBlockDelta", _delta(index, {"text": text})))
    frames.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
    index += 1
    start = {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": "tooluse_abc", "name": "read_file"}}}
    frames.append(event_frame("contentBlockStart", start))
    for chunk in tool_args_chunks:
        frames.append(event_frame("contentBlockDelta", _delta(index, {"toolUse": {"input": chunk}})))
    frames.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
    frames.append(event_frame("messageStop", {"stopReason": stop_reason}))
    usage = {"inputTokens": 12, "outputTokens": 34, "totalTokens": 46, "cacheReadInputTokens": 5}
    frames.append(event_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 120}}))
    return frames


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"contentBlockIndex": index, "delta": delta}
