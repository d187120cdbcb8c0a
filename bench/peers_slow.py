"""The peers on many slow agent streams at once: `run.py --peers`'s concurrency case (issue 15).

`--slow-connections` clients (1,000 by default) stream back to back, Anthropic Messages in and OpenAI out (what
bifrostc, LiteLLM and claude-code-router all serve; nginx relays the upstream's own stream), from a fake upstream
whose streams are 56 deltas 20 ms apart (60 events, ~1.2 s: an agent's turn). Per gateway, pinned as in
peers.py: streams/s, time to the first byte p50/p99 and what each adds over the upstream direct, errors,
connections that completed no stream in the window, the gateway's CPU in cores, and its RSS while the streams are
open (peak over idle, per open stream). One worker each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass, field

import procstat
from peers import LITELLM_KEY, Case, _anthropic, _call_for, _fmt, serving
from processes import BenchError, run_load, stop
from processes import start_upstream as _start_upstream
from scenarios import PUBLIC_MODEL, Call, _anthropic_client, _upstream_openai

SLOW_EVENTS, SLOW_GAP_MS = 56, 20.0
RSS_SAMPLE_S = 0.25


def slow_case() -> Case:
    return Case(
        f"{SLOW_EVENTS + 4}-event streams {SLOW_GAP_MS:.0f} ms apart",
        _upstream_openai(True),
        _anthropic_client(True),
        _anthropic("/v1/messages", PUBLIC_MODEL, {"x-api-key": LITELLM_KEY}),
        _anthropic("/v1/messages", PUBLIC_MODEL, {"x-api-key": "bench-client"}),
    )


@dataclass
class SlowRow:
    streams_per_s: float
    first_byte_p50_ms: float
    first_byte_p99_ms: float
    errors: int
    idle_connections: int
    cores: float | None = None
    rss_idle_mb: float | None = None
    rss_peak_mb: float | None = None
    loadavg: str = ""


@dataclass
class SlowReport:
    connections: int
    direct: SlowRow | None = None
    rows: dict[str, SlowRow] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _sample_rss(pid: int, peak: list[int], stop_at: asyncio.Event) -> None:
    while not stop_at.is_set():
        peak[0] = max(peak[0], procstat.rss_bytes(pid))
        try:
            await asyncio.wait_for(stop_at.wait(), RSS_SAMPLE_S)
        except TimeoutError:
            pass


async def slow_load(port: int, call: Call, *, connections: int, duration: float, pid: int | None) -> SlowRow:
    """A warm-up, then `connections` clients streaming back to back for `duration` s (CPU and RSS of `pid`)."""
    await run_load(port, call, connections=min(50, connections), duration=2, max_requests=200)  # warm-up
    load_before, idle = _loadavg(), procstat.rss_bytes(pid) if pid else 0
    cpu_before = procstat.cpu_seconds(pid) if pid else 0.0
    peak, done = [idle], asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(pid, peak, done)) if pid else None
    try:
        result = await run_load(port, call, connections=connections, duration=duration, max_requests=10**9)
    finally:
        done.set()
        if sampler is not None:
            await sampler
    row = SlowRow(
        streams_per_s=result["rps"],
        first_byte_p50_ms=result["first_byte_p50_us"] / 1000,
        first_byte_p99_ms=result["first_byte_p99_us"] / 1000,
        errors=int(result["errors"]),
        idle_connections=int(result["idle_connections"]),
        loadavg=f"{load_before} -> {_loadavg()}",
    )
    if pid:
        row.cores = (procstat.cpu_seconds(pid) - cpu_before) / result["elapsed_s"]
        row.rss_idle_mb, row.rss_peak_mb = idle / 2**20, peak[0] / 2**20
    return row


async def _load(port: int, case: Case, gateway: str, args: argparse.Namespace, pid: int | None) -> SlowRow:
    call = _call_for(gateway, case)
    assert call is not None
    return await slow_load(port, call, connections=args.slow_connections, duration=args.slow_duration, pid=pid)


async def bench_slow(args: argparse.Namespace, gateways: list[str], cpus: set[int] | None) -> SlowReport:
    """Run by peers.bench_peers with the same pinning (this process already sits off the gateway's CPU)."""
    report, case = SlowReport(args.slow_connections), slow_case()
    pacing = ("--stream-events", str(SLOW_EVENTS), "--event-gap-ms", str(SLOW_GAP_MS))
    upstream, up = await _start_upstream(*pacing)
    try:
        report.direct = await _load(up, case, "direct", args, None)
        for gateway in gateways:
            if _call_for(gateway, case) is None:
                continue
            try:
                async with serving(gateway, f"http://127.0.0.1:{up}", args.startup_timeout, cpus) as served:
                    report.rows[gateway] = await _load(served.port, case, gateway, args, served.proc.pid)
            except BenchError as exc:
                report.problems[gateway] = str(exc)[-600:]
    finally:
        stop(upstream)
        await upstream.wait()
    return report


def render_slow(report: SlowReport) -> str:
    head = "| gateway | streams/s | first byte p50 ms | p99 ms | added p50 ms | added p99 ms | errors | idle conns |"
    head += " cores | RSS idle -> peak MB | KB per open stream |"
    out = ["", f"### {slow_case().name}, {report.connections} at once", "", head, "|" + "---|" * 11]
    direct = report.direct
    for name, r in [*report.rows.items(), *([("direct to upstream", direct)] if direct else [])]:
        added = direct is not None and name != "direct to upstream"
        per_stream = (
            (r.rss_peak_mb - r.rss_idle_mb) * 1024 / report.connections
            if r.rss_peak_mb is not None and r.rss_idle_mb is not None
            else None
        )
        cells = [name, _fmt(r.streams_per_s), _fmt(r.first_byte_p50_ms, ",.1f"), _fmt(r.first_byte_p99_ms, ",.1f")]
        cells += [_fmt(r.first_byte_p50_ms - direct.first_byte_p50_ms, "+,.1f") if added and direct else ""]
        cells += [_fmt(r.first_byte_p99_ms - direct.first_byte_p99_ms, "+,.1f") if added and direct else ""]
        cells += [str(r.errors), str(r.idle_connections), _fmt(r.cores, ".2f")]
        rss = "" if r.rss_peak_mb is None else f"{_fmt(r.rss_idle_mb, '.1f')} -> {_fmt(r.rss_peak_mb, '.1f')}"
        cells += [rss, _fmt(per_stream, ".1f")]
        out.append("| " + " | ".join(cells) + " |")
    out += [f"{name}: load average {r.loadavg}" for name, r in report.rows.items()]
    out += [f"\n{gateway} NOT MEASURED (slow streams): {problem}" for gateway, problem in report.problems.items()]
    return "\n".join(out)
