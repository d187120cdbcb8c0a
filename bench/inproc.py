"""In-process CPU cost of one gateway request, without uvicorn or a load generator sharing the cores.

Drives the ASGI app directly (synthesised scope/receive/send) against bench/fake_upstream.py over real
127.0.0.1 sockets, `--concurrency` requests in flight, and reports process CPU µs per request for the bare
app (`create_app`, no hooks) and the full `bifrostc serve` wiring (governance, cache, observability).
Steadier than run.py for A/B-ing one change; `--profile` prints the top functions by cumulative time.
Run: python bench/inproc.py [--requests 3000] [--concurrency 16] [--case oo|ao] [--profile full]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from processes import build_out, start_upstream, stop
from scenarios import SCENARIOS, Call, claude_code_call, codex_call

try:
    from bifrostc.runtime import disconnect as _disconnect
except ImportError:
    _disconnect = None  # type: ignore[assignment]

_BY_NAME = {s.name: s.gateway for s in SCENARIOS}
CASES = {
    "oo": _BY_NAME["openai->openai"],
    "ao": _BY_NAME["anthropic->openai"],
    "oos": _BY_NAME["openai->openai stream"],
    "aos": _BY_NAME["anthropic->openai stream"],
    "ros": _BY_NAME["responses->openai stream"],
    "aa-long": _BY_NAME["anthropic->anthropic long history"],
    "aa-long-s": _BY_NAME["anthropic->anthropic long history stream"],
    "aas": Call(  # Anthropic in, Anthropic out: a short prompt relayed (passthrough's per-stream and per-event cost)
        "/anthropic/v1/messages",
        orjson.dumps(
            {"model": "bench-claude", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        ),
        "message_stop",
        {"x-api-key": "bench-client", "anthropic-version": "2023-06-01"},
    ),
    "cc-first": claude_code_call("first-turn-1"),  # a Claude Code first turn, streamed (87 KB: tools, system)
    "cc-long": claude_code_call("no-betas-1"),  # a later Claude Code turn (127 KB)
    "codex-first": codex_call(),  # a Codex first turn (39 KB), streamed on the Responses API
    "codex-later": codex_call(loops=60),  # a later turn of that session (60 tool loops, ~170 KB)
}


def build_app(out: Path, wiring: str) -> Any:
    from bifrostc.runtime.app import create_app
    from bifrostc.runtime.loadout import load_gateway, routing_path
    from bifrostc.runtime.server import build_server_app

    if wiring == "bare":
        return create_app(load_gateway(routing_path(out)))
    return build_server_app(out, reload=False)


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield


async def one_request(app: Any, call: Call) -> int:
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(call.body)).encode()))  # as every HTTP client sends it
    headers += [(k.encode(), v.encode()) for k, v in call.headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": call.path, "raw_path": call.path.encode(), "query_string": b"", "root_path": "",
        "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2), "state": {},
    }  # fmt: skip
    if _disconnect is not None:  # what serve's protocol gives each request (absent from trees before it)
        scope["extensions"] = {_disconnect.SCOPE_KEY: {"signal": _disconnect.DisconnectSignal()}}
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client never disconnects
        sent = True
        return {"type": "http.request", "body": call.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(
    app: Any, call: Call, requests: int, concurrency: int, profile: bool, html: str | None = None
) -> float:
    async def worker(count: int) -> None:
        for _ in range(count):
            status = await one_request(app, call)
            if status != 200:
                raise RuntimeError(f"gateway answered {status}")

    await asyncio.gather(*(worker(20) for _ in range(concurrency)))  # warm-up: pool, caches, lazy imports
    profiler = cProfile.Profile() if profile and not html else None
    sampler = None
    if profile and html:
        from pyinstrument import Profiler  # pip install pyinstrument (a dev tool, not a dependency)

        sampler = Profiler(interval=0.0002, async_mode="disabled")
    cpu, before = time.process_time(), os.times()
    if profiler:
        profiler.enable()
    if sampler:
        sampler.start()
    await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    if profiler:
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
        stats.print_stats(int(os.environ.get("BENCH_TOP", "45")))
        if os.environ.get("BENCH_CALLERS"):  # who calls these (a regex over "file:line(function)")
            stats.print_callers(os.environ["BENCH_CALLERS"])
    if sampler:
        sampler.stop()
        tree = sampler.output_html() if html.endswith(".html") else sampler.output_text(color=False, unicode=True)
        Path(html).write_text(tree)
        print(f"pyinstrument profile written to {html}")
    # os.times() only for the user/kernel split: it counts in clock ticks (10 ms), process_time() far finer.
    done, after = requests // concurrency * concurrency, os.times()
    user, system = (after.user - before.user) / done * 1e6, (after.system - before.system) / done * 1e6
    print(f"  of which user {user:.0f} µs, system (the kernel: syscalls, wake-ups) {system:.0f} µs")
    return (time.process_time() - cpu) / done * 1e6


async def main(args: argparse.Namespace) -> None:
    from bifrostc.runtime.server import tune_gc

    os.environ.setdefault("BENCH_UPSTREAM_KEY", "sk-bench")
    pacing = ["--stream-events", str(args.upstream_events)] if args.upstream_events else []
    if args.upstream_gap_ms:
        pacing += ["--event-gap-ms", str(args.upstream_gap_ms)]
    upstream, port = await start_upstream(*pacing)
    try:
        with tempfile.TemporaryDirectory(prefix="bifrostc-inproc-") as tmp:
            out = build_out(Path(tmp), f"http://127.0.0.1:{port}")
            for wiring in args.wiring:
                app = build_app(out, wiring)
                tune_gc()  # as `bifrostc serve` does in each worker once its app is built
                async with lifespan(app):
                    cost = await measure(
                        app, CASES[args.case], args.requests, args.concurrency, args.profile == wiring, args.html
                    )
                print(f"{wiring:5s} {args.case}: {cost:6.0f} µs CPU per request (concurrency {args.concurrency})")
    finally:
        stop(upstream)
        await upstream.wait()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--case", choices=sorted(CASES), default="oo")
    parser.add_argument("--wiring", action="append", choices=["bare", "full"], help="default: both")
    parser.add_argument("--profile", choices=["bare", "full"], help="cProfile this wiring's measured run")
    parser.add_argument(
        "--html", help="with --profile: a pyinstrument call tree to this path instead (.html: its viewer; else text)"
    )
    parser.add_argument(
        "--upstream-events", type=int, default=0, help="upstream stream deltas, OpenAI and Anthropic (0: the canned 12)"
    )
    parser.add_argument("--upstream-gap-ms", type=float, default=0.0, help="pause after each upstream event")
    args = parser.parse_args(argv)
    args.wiring = args.wiring or ["bare", "full"]
    return args


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parse_args(sys.argv[1:])))
