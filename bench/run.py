"""Reproducible gateway benchmark: fake upstream -> bifrostc -> load generator, all on 127.0.0.1.

Run: python bench/run.py [--duration 5] [--connections 32] [--latency-requests 1000] [--json out.json]
See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import procstat
from processes import BenchError, Gateway, build_out, run_load, start_gateway, start_upstream, stop
from scenarios import SCENARIOS, Call, Scenario

RSS_SAMPLE_S = 0.05


@dataclass
class Row:
    name: str
    rps: float = 0.0
    p50_us: float = 0.0
    p99_us: float = 0.0
    added_p50_us: float | None = None
    cpu_us_per_req: float | None = None  # during the N-connection throughput run
    cpu_us_per_req_1: float | None = None  # during the 1-connection latency run
    rss_load_mb: float | None = None
    errors: int = 0


@dataclass
class Report:
    gateway_mode: str | None = None
    startup_ms: float | None = None
    rss_idle_mb: float | None = None
    direct: list[Row] = field(default_factory=list)
    gateway: list[Row] = field(default_factory=list)
    problem: str | None = None


async def measure(port: int, call: Call, args: argparse.Namespace, pid: int | None, name: str) -> Row:
    """Warm up, then latency at 1 connection, then throughput at N connections (CPU and RSS sampled)."""
    await run_load(port, call, connections=1, duration=2, max_requests=args.warmup)
    cpu_before_lat = procstat.cpu_seconds(pid) if pid else 0.0
    lat = await run_load(port, call, connections=1, duration=args.duration * 2, max_requests=args.latency_requests)
    cpu_at_one = procstat.cpu_seconds(pid) if pid else 0.0
    cpu_before = cpu_at_one
    peak_rss = 0
    load = asyncio.create_task(
        run_load(port, call, connections=args.connections, duration=args.duration, max_requests=args.max_requests)
    )
    while not load.done():
        if pid:
            peak_rss = max(peak_rss, procstat.rss_bytes(pid))
        await asyncio.wait([load], timeout=RSS_SAMPLE_S)  # returns early as soon as the load run ends
    thr = load.result()
    row = Row(name, thr["rps"], lat["p50_us"], lat["p99_us"], errors=int(lat["errors"] + thr["errors"]))
    if pid and lat["requests"]:
        row.cpu_us_per_req_1 = (cpu_at_one - cpu_before_lat) / lat["requests"] * 1e6
    if pid and thr["requests"]:
        row.cpu_us_per_req = (procstat.cpu_seconds(pid) - cpu_before) / thr["requests"] * 1e6
        row.rss_load_mb = peak_rss / 2**20
    return row


async def bench_gateway(scenarios: tuple[Scenario, ...], args: argparse.Namespace, workdir: Path, up: int) -> Report:
    report = Report()
    out = build_out(workdir, f"http://127.0.0.1:{up}")
    modes = ["cli", "app"] if args.serve == "auto" else [args.serve]
    gateway: Gateway | None = None
    failures = []
    for how in modes:
        try:
            gateway = await start_gateway(how, out, timeout=args.startup_timeout)
            report.gateway_mode = how
            break
        except BenchError as exc:
            failures.append(str(exc))
    if gateway is None:
        raise BenchError("\n".join(failures))
    try:
        report.startup_ms = gateway.startup_s * 1e3
        report.rss_idle_mb = procstat.rss_bytes(gateway.proc.pid) / 2**20
        for scenario in scenarios:
            report.gateway.append(await measure(gateway.port, scenario.gateway, args, gateway.proc.pid, scenario.name))
    finally:
        stop(gateway.proc)
        gateway.proc.wait(timeout=10)
    return report


async def bench(args: argparse.Namespace) -> Report:
    scenarios = tuple(s for s in SCENARIOS if not args.only or any(o in s.name for o in args.only))
    upstream, up = await start_upstream()
    try:
        direct: dict[bytes, Row] = {}
        for scenario in scenarios:  # scenarios share upstream calls; measure each distinct one once
            if scenario.direct.body not in direct:
                label = "direct to upstream" + (" stream" if scenario.name.endswith("stream") else "")
                row = await measure(up, scenario.direct, args, None, label)
                direct[scenario.direct.body] = row
        with tempfile.TemporaryDirectory(prefix="bifrostc-bench-") as tmp:
            try:
                report = await bench_gateway(scenarios, args, Path(tmp), up)
            except BenchError as exc:
                report = Report(problem=str(exc))
        report.direct = list(direct.values())
        for scenario, row in zip(scenarios, report.gateway, strict=False):
            row.added_p50_us = row.p50_us - direct[scenario.direct.body].p50_us
        return report
    finally:
        stop(upstream)
        await upstream.wait()


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def render(report: Report, args: argparse.Namespace) -> str:
    n = args.connections
    head = ["case", f"req/s @{n}", "p50 µs @1", "p99 µs @1", "added p50 µs"]
    head += ["CPU µs/req @1", f"CPU µs/req @{n}", "RSS load MB"]
    rows = []
    for r in [*report.gateway, *report.direct]:
        cells = [r.name, _fmt(r.rps), _fmt(r.p50_us), _fmt(r.p99_us), _fmt(r.added_p50_us)]
        cells += [_fmt(r.cpu_us_per_req_1), _fmt(r.cpu_us_per_req), _fmt(r.rss_load_mb, ".1f")]
        if r.errors:
            cells[-1] += f"  ({r.errors} errors)"
        rows.append(cells)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    lines.append(f"gateway started via: {report.gateway_mode or 'n/a'}")
    lines.append(f"startup (process start -> first /health 200): {_fmt(report.startup_ms, ',.1f')} ms")
    lines.append(f"RSS idle (after startup, before any request): {_fmt(report.rss_idle_mb, '.1f')} MB")
    if report.problem:
        lines.append(f"\nGATEWAY NOT MEASURED: {report.problem}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections for req/s")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput run (upper bound)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per throughput run")
    parser.add_argument("--latency-requests", type=int, default=1000, help="requests per 1-connection latency run")
    parser.add_argument("--warmup", type=int, default=100, help="requests sent before measuring each case")
    parser.add_argument("--startup-timeout", type=float, default=30.0)
    serve_help = "cli: `bifrostc serve out/`; app: uvicorn on runtime.app.create_app; auto: cli, then app"
    parser.add_argument("--serve", choices=["auto", "cli", "app"], default="auto", help=serve_help)
    parser.add_argument("--only", action="append", help="run only cases whose name contains this (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the raw report here")
    peers = "bifrostc beside LiteLLM proxy, claude-code-router and the nginx floor (bench/peers.py)"
    parser.add_argument("--peers", action="store_true", help=peers)
    parser.add_argument("--peer", action="append", help="with --peers: only this gateway (repeatable)")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="with --peers: no CPU pinning")
    slow = "with --peers: slow streams open at once (bench/peers_slow.py; 0: skip the case)"
    parser.add_argument("--slow-connections", type=int, default=1000, help=slow)
    parser.add_argument("--slow-duration", type=float, default=10.0, help="with --peers: seconds of slow streams")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.peers:
        import peers  # bench/peers.py: it reuses this module's measure()

        return peers.main(args)
    t0 = time.perf_counter()
    report = asyncio.run(bench(args))
    print(render(report, args))
    print(f"\n(total benchmark time {time.perf_counter() - t0:.1f} s)")
    if args.json:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return 1 if report.problem else 0


if __name__ == "__main__":
    sys.exit(main())
