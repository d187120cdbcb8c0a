"""Many slow agent streams at once: does the gateway keep up with the upstream, on 1 worker and on N?

Each of ``--connections`` clients streams back to back (OpenAI dialect, passthrough) from the fake upstream,
whose streams are ``--events`` deltas ``--gap-ms`` apart (an agent's turn: 60 events over ~1.2 s). Cases: the
upstream direct (the baseline), the gateway with each ``--workers`` count, and the gateway on one worker with
``network.max_connections: --pool-limit`` (the old fixed 512-connection cap). Reported per case: streams/s
completed, time to the response head (= the first event) p50/p99, connections that completed no stream in the
window, errors, the gateway's CPU in cores, and the load average (the machine is shared: read the numbers
with it).

Run: python bench/slow_streams.py [--connections 1000] [--duration 10] [--workers 1 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson
from peers_slow import slow_load
from processes import BenchError, build_out, start_gateway, start_upstream, stop
from scenarios import PUBLIC_MODEL, UPSTREAM_MODEL, Call

PROMPT = [{"role": "user", "content": "Say hello."}]


def _call(model: str) -> Call:
    body = {"model": model, "messages": PROMPT, "max_tokens": 64, "stream": True}
    body["stream_options"] = {"include_usage": True}
    return Call("/v1/chat/completions", orjson.dumps(body), "[DONE]", {})


async def _case(name: str, port: int, pid: int | None, args: argparse.Namespace) -> dict[str, object]:
    call = _call(UPSTREAM_MODEL if pid is None else PUBLIC_MODEL)
    measured = await slow_load(port, call, connections=args.connections, duration=args.duration, pid=pid)
    row: dict[str, object] = {"case": name, **dataclasses.asdict(measured)}
    print(orjson.dumps(row).decode(), file=sys.stderr, flush=True)
    return row


async def main(args: argparse.Namespace) -> list[dict[str, object]]:
    pacing = ("--stream-events", str(args.events), "--event-gap-ms", str(args.gap_ms))
    upstream, upstream_port = await start_upstream(*pacing)
    rows: list[dict[str, object]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bifrostc-slow-") as tmp:
            workdir = Path(tmp)
            url = f"http://127.0.0.1:{upstream_port}"
            rows.append(await _case("direct to upstream", upstream_port, None, args))
            cases = [(f"{w} worker{'s' if w > 1 else ''}", w, None) for w in args.workers]
            if args.pool_limit:
                cases.append((f"1 worker, max_connections {args.pool_limit}", 1, args.pool_limit))
            for name, workers, limit in cases:
                out = build_out(workdir, url, max_connections=limit, name=f"out-{workers}-{limit}")
                gateway = await start_gateway("cli", out, timeout=args.startup_timeout, workers=workers)
                try:
                    rows.append(await _case(name, gateway.port, gateway.proc.pid, args))
                finally:
                    stop(gateway.proc)
                    gateway.proc.wait(timeout=60)
    finally:
        stop(upstream)
        await upstream.wait()
    return rows


def table(rows: list[dict[str, object]], direct_p50: float) -> str:
    lines = [
        "| case | streams/s | first event p50 ms | p99 ms | added p50 ms | idle connections | errors | gateway cores |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p50 = float(r["first_byte_p50_ms"])  # type: ignore[arg-type]
        p99 = float(r["first_byte_p99_ms"])  # type: ignore[arg-type]
        added = "n/a" if r["cores"] is None else f"{p50 - direct_p50:+.0f}"
        cores = "n/a" if r["cores"] is None else f"{float(r['cores']):.2f}"  # type: ignore[arg-type]
        lines.append(
            f"| {r['case']} | {float(r['streams_per_s']):,.0f} | {p50:,.0f} | {p99:,.0f} | {added} |"  # type: ignore[arg-type]
            f" {r['idle_connections']} | {r['errors']} | {cores} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per case")
    parser.add_argument("--events", type=int, default=56, help="content deltas per stream (60 events in all)")
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pool-limit", type=int, default=512, help="0: skip the pool-limit case")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--json", type=Path)
    parsed = parser.parse_args()
    started = time.monotonic()
    try:
        measured = asyncio.run(main(parsed))
    except BenchError as exc:
        raise SystemExit(f"bench: {exc}") from exc
    print(f"cores available: {len(os.sched_getaffinity(0))}; run took {time.monotonic() - started:.0f}s")
    print(table(measured, float(measured[0]["first_byte_p50_ms"])))  # type: ignore[arg-type]
    for row in measured:
        print(f"- {row['case']}: load average {row['loadavg']}")
    if parsed.json:
        parsed.json.write_text(orjson.dumps(measured, option=orjson.OPT_INDENT_2).decode())
