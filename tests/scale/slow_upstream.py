"""A fake Anthropic Messages upstream whose streams take a while, so a replica can die in the middle of them.

POST /v1/messages on Anthropic's wire format: ``x-api-key`` must equal ``$UPSTREAM_ANTHROPIC_KEY`` (else 401
``authentication_error``, as Anthropic answers), ``model``, ``max_tokens`` and a non-empty ``messages`` list are
required (else 400 ``invalid_request_error``). A JSON answer after ``DELAY_S``; a stream sends ``DELTAS`` text
deltas ``DELAY_S`` apart (``$SLOW_UPSTREAM_DELAY_S``, default 0.05; chunked), then ``message_delta`` with the
usage and ``message_stop``.
Run: python tests/scale/slow_upstream.py  (prints "ready <port>" once listening on 127.0.0.1)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

DELTAS = 8
DELAY_S = float(os.environ.get("SLOW_UPSTREAM_DELAY_S", "0.05"))
WORDS = ["alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot ", "golf ", "hotel "]
USAGE = {"input_tokens": 30, "output_tokens": DELTAS}


def _error(status: int, kind: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def _refusal(headers: dict[str, str], body: bytes) -> tuple[int, bytes] | None:
    if headers.get("x-api-key") != os.environ.get("UPSTREAM_ANTHROPIC_KEY"):
        return _error(401, "authentication_error", "invalid x-api-key")
    try:
        payload = json.loads(body)
    except ValueError:
        return _error(400, "invalid_request_error", "There was an error parsing the body of your request")
    for field, kind in (("model", str), ("max_tokens", int), ("messages", list)):
        if not isinstance(payload.get(field), kind) or payload.get(field) in ("", []):
            return _error(400, "invalid_request_error", f"{field}: Field required")
    return None


def _message(model: str) -> dict[str, object]:
    return {
        "id": "msg_slow",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "".join(WORDS)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": USAGE,
    }


def _event(name: str, data: dict[str, object]) -> bytes:
    frame = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(frame), frame)


async def _stream(writer: asyncio.StreamWriter, model: str) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    start = {**_message(model), "content": [], "stop_reason": None, "usage": {"input_tokens": 30, "output_tokens": 1}}
    writer.write(_event("message_start", {"type": "message_start", "message": start}))
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    writer.write(_event("content_block_start", block))
    for word in WORDS[:DELTAS]:
        await asyncio.sleep(DELAY_S)
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}
        writer.write(_event("content_block_delta", delta))
        await writer.drain()
    writer.write(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    closing = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": USAGE}
    writer.write(_event("message_delta", closing))
    writer.write(_event("message_stop", {"type": "message_stop"}) + b"0\r\n\r\n")
    await writer.drain()


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:] if ":" in line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            refused = None if (method, path) == ("POST", "/v1/messages") else _error(404, "not_found_error", path)
            refused = refused or _refusal(headers, body)
            if refused is None and json.loads(body).get("stream"):
                await _stream(writer, json.loads(body)["model"])
                continue
            await asyncio.sleep(DELAY_S)
            status, data = refused or (200, json.dumps(_message(json.loads(body)["model"])).encode())
            writer.write(
                b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                % (status, len(data), data)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass  # the gateway closed the connection (or died)
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(_connection, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
