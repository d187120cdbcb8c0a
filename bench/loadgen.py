"""Closed-loop HTTP/1.1 load generator over raw asyncio sockets (keep-alive, 127.0.0.1 only).

Each of ``--connections`` workers sends the same POST back to back until ``--duration`` seconds or
``--max-requests`` in total, and times every full response (for SSE: until the last byte). A response
counts as an error unless its status is 200 and its body contains ``--expect``. Prints one JSON object.
Run: python bench/loadgen.py --port 8080 --path /v1/chat/completions --body '{...}' --connections 32
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pathlib
import time

import orjson


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # end of (empty) trailer
                return b"".join(parts)
            parts.append((await reader.readexactly(size + 2))[:-2])
    return await reader.read()  # close-delimited


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, float]:
    """(status, body, when the response head arrived: perf_counter)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    head_at = time.perf_counter()  # the gateway sends its head with the first event (first-event rule)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    return status, await _read_body(reader, headers), head_at


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        body = pathlib.Path(args.body_file).read_bytes() if args.body_file else args.body.encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in orjson.loads(args.headers).items())
        self.request = (
            f"POST {args.path} HTTP/1.1\r\nhost: 127.0.0.1:{args.port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{extra}\r\n"
        ).encode() + body
        self.args = args
        self.expect = args.expect.encode()
        self.latencies: list[float] = []
        self.first_bytes: list[float] = []
        self.idle_connections = 0  # connections that completed no good response in the run
        self.errors = 0
        self.started = 0

    async def worker(self, deadline: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.args.port)
        good = 0
        try:
            while time.perf_counter() < deadline and self.started < self.args.max_requests:
                self.started += 1
                t0 = time.perf_counter()
                try:
                    status, body, head_at = await _exchange(reader, writer, self.request)
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    self.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.args.port)
                    continue
                if status == 200 and self.expect in body:
                    self.latencies.append(time.perf_counter() - t0)
                    self.first_bytes.append(head_at - t0)
                    good += 1
                else:
                    self.errors += 1
                    if self.args.show_errors:
                        print(status, body[:500])
        finally:
            self.idle_connections += good == 0
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def run(args: argparse.Namespace) -> dict[str, float]:
    load = Load(args)
    t0 = time.perf_counter()
    deadline = t0 + args.duration
    await asyncio.gather(*(load.worker(deadline) for _ in range(args.connections)))
    elapsed = time.perf_counter() - t0
    lat = sorted(load.latencies)
    first = sorted(load.first_bytes)
    return {
        "first_byte_p50_us": _percentile(first, 0.50) * 1e6,
        "first_byte_p99_us": _percentile(first, 0.99) * 1e6,
        "idle_connections": load.idle_connections,
        "requests": len(lat),
        "errors": load.errors,
        "elapsed_s": elapsed,
        "rps": len(lat) / elapsed if elapsed else 0.0,
        "p50_us": _percentile(lat, 0.50) * 1e6,
        "p99_us": _percentile(lat, 0.99) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    bodies = parser.add_mutually_exclusive_group(required=True)
    bodies.add_argument("--body", help="JSON request body")
    bodies.add_argument("--body-file", help="file holding the JSON request body (for bodies too long for argv)")
    parser.add_argument("--headers", default="{}", help="JSON object of extra request headers")
    parser.add_argument("--expect", default="", help="substring every good response body contains")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds, upper bound")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="upper bound on requests sent")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop  # optional: a cheaper event loop leaves more CPU to the gateway under test

        uvloop.install()
    except ImportError:
        pass
    print(orjson.dumps(asyncio.run(run(args))).decode(), flush=True)


if __name__ == "__main__":
    main()
