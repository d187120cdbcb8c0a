"""A near-zero-cost fake LLM upstream: raw asyncio HTTP/1.1 with keep-alive, canned bodies, 127.0.0.1 only.

Serves POST /v1/chat/completions (OpenAI) and POST /v1/messages (Anthropic), JSON or SSE depending on the
request's "stream" flag, POST /v1/responses (streamed: the bench's Codex case), plus GET /health. Prints
"ready <port>" on stdout once listening.
With ``--stream-events N --event-gap-ms G`` a stream is N OpenAI deltas sent G ms apart (a slow agent stream,
bench/slow_streams.py); otherwise the canned 12-delta stream is sent at once.
Run: python bench/fake_upstream.py --port 0 [--stream-events 60 --event-gap-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio

import canned  # sibling module: Python puts bench/ on sys.path when running this script
import orjson

MAX_BODY = 16 * 1024 * 1024
PACING: dict[str, float] = {"events": 0, "gap_s": 0.0}  # set from the command line


def _route(method: str, path: str, body: bytes) -> tuple[int, bytes, bytes]:
    """(status, content type, body) for one request."""
    if method == "GET" and path == "/health":
        return 200, b"application/json", b'{"status":"ok"}'
    if method != "POST" or path.split("?")[0] not in ("/v1/chat/completions", "/v1/messages", "/v1/responses"):
        return 404, b"application/json", b'{"error":{"message":"not found"}}'
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 400, b"application/json", b'{"error":{"message":"bad json"}}'
    model = str(payload.get("model", "bench"))
    streaming = bool(payload.get("stream"))
    if path.startswith("/v1/responses"):
        return 200, b"text/event-stream", canned.responses_stream(model)
    if path.startswith("/v1/chat") and streaming and PACING["events"]:
        data = canned.openai_stream(model, int(PACING["events"]))
    elif path.startswith("/v1/chat"):
        data = canned.openai_stream(model) if streaming else canned.openai_json(model)
    elif streaming:
        data = canned.anthropic_stream(model, int(PACING["events"]) or None)
    else:
        data = canned.anthropic_json(model)
    return 200, (b"text/event-stream" if streaming else b"application/json"), data


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if 0 < length <= MAX_BODY else b""
            status, ctype, data = _route(method, path, body)
            head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n" % (
                status,
                b"OK" if status == 200 else b"ERR",
                ctype,
                len(data),
            )
            if ctype == b"text/event-stream" and PACING["gap_s"]:
                events = data.split(b"\n\n")[:-1]
                writer.write(head)
                for event in events:
                    writer.write(event + b"\n\n")
                    await writer.drain()
                    await asyncio.sleep(PACING["gap_s"])
            else:
                writer.write(head + data)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass  # client went away or sent garbage: drop the connection
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(_serve_connection, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"ready {bound}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--stream-events", type=int, default=0, help="stream deltas, OpenAI and Anthropic (0: the canned 12)"
    )
    parser.add_argument("--event-gap-ms", type=float, default=0.0, help="pause after each stream event")
    args = parser.parse_args()
    PACING.update(events=args.stream_events, gap_s=args.event_gap_ms / 1000)
    try:
        import uvloop  # optional: 1,000 slow streams cost the upstream less CPU

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(main(args.port))
    except KeyboardInterrupt:
        pass
