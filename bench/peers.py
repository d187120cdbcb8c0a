"""bifrostc beside its peers on the same fake upstream, load generator and pinning: LiteLLM proxy, claude-code-router
and nginx as a plain reverse proxy (the floor).

Run: python bench/run.py --peers [--duration 2 --latency-requests 200 --warmup 50] [--no-pin] [--only NAME]
     [--slow-connections 1000 --slow-duration 10] (the many-slow-streams case: bench/peers_slow.py)
Installs what is missing into bench/.peers/ (git-ignored; never into the project's environment): LiteLLM in its own
venv (PyPI `litellm[proxy]`), claude-code-router with npm (`@musistudio/claude-code-router`), nginx with apt-get.
At run time everything talks to 127.0.0.1 only. See bench/README.md ("Peers") for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import procstat
from processes import BENCH_DIR, BenchError, Gateway, build_out, free_port, health_ok, start_gateway, stop
from processes import start_upstream as _start_upstream
from run import Row, measure
from scenarios import (
    _CLAUDE_HEADERS,
    PROMPT,
    PUBLIC_MODEL,
    Call,
    _anthropic_client,
    _anthropic_long,
    _openai_client,
    _upstream_openai,
    claude_code_call,
)

if TYPE_CHECKING:
    from peers_slow import SlowReport

PEERS_DIR = BENCH_DIR / ".peers"
CONFIGS = BENCH_DIR / "peers"
LITELLM_KEY = "sk-benchmaster-7f3a9c2e4b8d1f6a0e5c3b9d7a2f4e8c"  # LiteLLM refuses to start without a strong one
STREAM_EVENTS = 20  # OpenAI deltas per upstream stream (the 20-event case)
CCR_CLI = PEERS_DIR / "ccr" / "node_modules" / "@musistudio" / "claude-code-router" / "dist" / "cli.js"
LITELLM_BIN = PEERS_DIR / "litellm" / "bin" / "litellm"


@dataclass(frozen=True)
class Case:
    """One case: what each gateway is sent (None: it does not serve the case); nginx relays `direct`."""

    name: str
    direct: Call
    bifrostc: Call
    litellm: Call | None
    ccr: Call | None


def _anthropic(path: str, model: str, headers: dict[str, str]) -> Call:
    body = {"model": model, "messages": PROMPT, "max_tokens": 64, "stream": True}
    return Call(path, orjson.dumps(body), "message_stop", {"anthropic-version": "2023-06-01", **headers})


def cases() -> tuple[Case, ...]:
    litellm_bearer = {"authorization": f"Bearer {LITELLM_KEY}"}
    oo = _openai_client(False)
    ao = _anthropic_client(True)
    return (
        Case("openai->openai", _upstream_openai(False), oo, Call(oo.path, oo.body, oo.expect, litellm_bearer), None),
        Case(
            f"anthropic->openai stream ({STREAM_EVENTS} deltas)",
            _upstream_openai(True),
            ao,
            _anthropic("/v1/messages", PUBLIC_MODEL, {"x-api-key": LITELLM_KEY}),
            _anthropic("/v1/messages", PUBLIC_MODEL, {"x-api-key": "bench-client"}),
        ),
        Case(
            "anthropic->anthropic passthrough stream",
            _anthropic("/v1/messages", "claude-bench", {}),
            _anthropic("/anthropic/v1/messages", "bench-claude", {"x-api-key": "bench-client"}),
            _anthropic("/v1/messages", "bench-claude", {"x-api-key": LITELLM_KEY}),
            None,  # claude-code-router's providers are OpenAI-style here; it has no plain Anthropic relay
        ),
        # What Claude Code really sends: its 87 KB first turn (system prompt, 40 tools), translated to OpenAI...
        Case(
            "claude code first turn (87 KB) -> openai stream",
            _upstream_openai(True),
            claude_code_call("first-turn-1", model=PUBLIC_MODEL),
            None,  # LiteLLM 1.108 sends this body to /v1/responses (its tools), which the fake does not serve
            _as_peer(claude_code_call("first-turn-1", model=PUBLIC_MODEL), {"x-api-key": "bench-client"}),
        ),
        # ...and a long session's history (158 KB: 100 tool loops with signed thinking) relayed to Anthropic.
        Case(
            "claude code 158 KB history passthrough stream",
            _anthropic_long(True, "claude-bench", {}),
            _anthropic_long(True, "bench-claude", _CLAUDE_HEADERS),
            _as_peer(_anthropic_long(True, "bench-claude", _CLAUDE_HEADERS), {"x-api-key": LITELLM_KEY}),
            None,
        ),
    )


def _as_peer(call: Call, auth: dict[str, str]) -> Call:
    """A bifrostc call sent to a peer: its Anthropic endpoint is /v1/messages, its key its own."""
    headers = {k: v for k, v in call.headers.items() if k not in ("x-api-key", "authorization")}
    return replace(call, path=call.path.removeprefix("/anthropic"), headers={**headers, **auth})


# --- installs (idempotent) ---------------------------------------------------------------------------------------


def _run(cmd: list[str], log: Path) -> None:
    with log.open("ab") as sink:
        done = subprocess.run(cmd, stdout=sink, stderr=subprocess.STDOUT, timeout=1200, check=False)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(cmd[:4])} ... failed ({done.returncode}); see {log}")


def install_litellm() -> Path:
    if not LITELLM_BIN.exists():
        PEERS_DIR.mkdir(exist_ok=True)
        _run([sys.executable, "-m", "venv", str(PEERS_DIR / "litellm")], PEERS_DIR / "litellm-install.log")
        pip = str(PEERS_DIR / "litellm" / "bin" / "pip")
        _run([pip, "install", "-q", "litellm[proxy]"], PEERS_DIR / "litellm-install.log")
    return LITELLM_BIN


def install_ccr() -> Path:
    if not CCR_CLI.exists():
        if not shutil.which("npm"):
            raise BenchError("npm is not installed")
        PEERS_DIR.mkdir(exist_ok=True)
        prefix = str(PEERS_DIR / "ccr")
        _run(["npm", "install", "--prefix", prefix, "@musistudio/claude-code-router"], PEERS_DIR / "ccr-install.log")
    return CCR_CLI


def install_nginx() -> Path:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise BenchError("nginx is absent and apt-get cannot install it here (needs root and apt-get)")
        PEERS_DIR.mkdir(exist_ok=True)
        _run(["apt-get", "install", "-y", "nginx"], PEERS_DIR / "apt.log")  # its service start is not ours
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return Path(found)


# --- starting the peers ------------------------------------------------------------------------------------------


def _render(template: str, **values: str) -> str:
    text = (CONFIGS / template).read_text()
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    return text


async def start_process(name: str, cmd: list[str], port: int, *, health: str, env: dict[str, str], timeout: float,
                        log: Path) -> Gateway:  # fmt: skip
    """Spawn a peer and time process start -> first `health` 200 (as processes.start_gateway does for bifrostc)."""
    started = time.perf_counter()
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    while time.perf_counter() < started + timeout:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        if await health_ok(port, health):
            return Gateway(proc, port, time.perf_counter() - started, log)
        await asyncio.sleep(0.05)
    stop(proc)
    raise BenchError(f"{name} gave no {health} 200 within {timeout}s:\n{log.read_text()[-2000:]}")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIRTUAL_ENV", "PYTHONPATH")}
    return {**env, **extra}


async def start_peer(name: str, work: Path, upstream: str, timeout: float) -> Gateway:
    port = free_port()
    if name == "bifrostc":
        return await start_gateway("cli", build_out(work, upstream), timeout=timeout)
    if name == "litellm":
        config = work / "litellm.yaml"
        config.write_text(_render("litellm.yaml", UPSTREAM=upstream, MASTER_KEY=LITELLM_KEY))
        cmd = [str(install_litellm()), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
        env = _clean_env(LITELLM_TELEMETRY="False", LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR")
        return await start_process(name, [*cmd, "--num_workers", "1"], port, health="/health/liveliness", env=env,
                                   timeout=max(timeout, 120), log=work / "litellm.log")  # fmt: skip
    if name == "claude-code-router":
        home = work / "ccr-home"
        (home / ".claude-code-router").mkdir(parents=True, exist_ok=True)
        text = _render("ccr.json", UPSTREAM=upstream).replace('"__PORT__"', str(port))
        (home / ".claude-code-router" / "config.json").write_text(text)
        cmd = ["node", str(install_ccr()), "start"]
        return await start_process(name, cmd, port, health="/health", env=_clean_env(HOME=str(home)),
                                   timeout=max(timeout, 60), log=work / "ccr.log")  # fmt: skip
    if name == "nginx":
        prefix = work / "nginx"
        prefix.mkdir(exist_ok=True)
        config = prefix / "nginx.conf"
        up_port = upstream.rsplit(":", 1)[1]
        config.write_text(_render("nginx.conf", PORT=str(port), UPSTREAM_PORT=up_port, DIR=str(prefix)))
        cmd = [str(install_nginx()), "-c", str(config), "-p", str(prefix), "-e", str(prefix / "error.log")]
        return await start_process(name, cmd, port, health="/health", env=_clean_env(), timeout=timeout,
                                   log=work / "nginx.log")  # fmt: skip
    if name == "python-floor":
        cmd = [sys.executable, str(CONFIGS / "python_floor.py"), str(port), upstream]
        return await start_process(name, cmd, port, health="/health", env=_clean_env(), timeout=timeout,
                                   log=work / "python-floor.log")  # fmt: skip
    raise BenchError(f"unknown peer {name}")


# --- pinning -----------------------------------------------------------------------------------------------------


def pin_tree(pid: int, cpus: set[int]) -> None:
    """Pin every thread of `pid` and its descendants (threads and children created later inherit it)."""
    for member in procstat.descendants(pid):
        for task in Path(f"/proc/{member}/task").glob("*"):
            try:
                os.sched_setaffinity(int(task.name), cpus)
            except (OSError, ValueError):
                continue  # the thread exited while we looked


# --- the run -----------------------------------------------------------------------------------------------------

GATEWAYS = ("bifrostc", "litellm", "claude-code-router", "nginx", "python-floor")


@dataclass
class PeerReport:
    direct: dict[str, Row] = field(default_factory=dict)  # case name -> direct-to-upstream row
    rows: dict[str, dict[str, Row]] = field(default_factory=dict)  # case name -> gateway -> row
    problems: dict[str, str] = field(default_factory=dict)  # gateway -> why it was not measured
    startup_ms: dict[str, float] = field(default_factory=dict)
    loadavg: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # gateway -> at its start
    pinning: str = "none"
    slow: SlowReport | None = None  # the many-slow-streams case (peers_slow.py)


def _call_for(gateway: str, case: Case) -> Call | None:
    return {"bifrostc": case.bifrostc, "litellm": case.litellm, "claude-code-router": case.ccr}.get(
        gateway, case.direct
    )


async def bench_peers(args: argparse.Namespace) -> PeerReport:
    report = PeerReport()
    cpus = sorted(os.sched_getaffinity(0))
    gateway_cpus: set[int] | None = None
    if args.pin and len(cpus) >= 2:
        gateway_cpus = {cpus[-1]}
        os.sched_setaffinity(0, set(cpus[:-1]))  # this process, the fake upstream and every load generator
        report.pinning = f"gateway on CPU {cpus[-1]}; fake upstream and load generator on CPU {cpus[:-1]}"
    upstream, up = await _start_upstream("--stream-events", str(STREAM_EVENTS))
    url = f"http://127.0.0.1:{up}"
    only = [g for g in GATEWAYS if not args.peer or g in args.peer]
    try:
        for case in selected(args):
            report.direct[case.name] = await measure(up, case.direct, args, None, "direct to upstream")
            report.rows[case.name] = {}
        for gateway in only:
            await _bench_one(gateway, report, args, url, gateway_cpus)
    finally:
        stop(upstream)
        await upstream.wait()
    if args.slow_connections:
        from peers_slow import bench_slow  # it builds on this module's peers and pinning

        report.slow = await bench_slow(args, only, gateway_cpus)
    return report


def selected(args: argparse.Namespace) -> list[Case]:
    return [case for case in cases() if not args.only or any(part in case.name for part in args.only)]


@contextlib.asynccontextmanager
async def serving(gateway: str, url: str, timeout: float, cpus: set[int] | None) -> AsyncIterator[Gateway]:
    """One gateway started against `url` (pinned to `cpus`), stopped on the way out; BenchError if it cannot start."""
    with tempfile.TemporaryDirectory(prefix=f"bifrostc-peers-{gateway}-") as tmp:
        try:
            served = await start_peer(gateway, Path(tmp), url, timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            raise BenchError(str(exc)) from exc
        try:
            if cpus:
                pin_tree(served.proc.pid, cpus)
            yield served
        finally:
            stop(served.proc)
            try:
                served.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                served.proc.kill()


async def _bench_one(
    gateway: str, report: PeerReport, args: argparse.Namespace, url: str, cpus: set[int] | None
) -> None:
    report.loadavg[gateway] = os.getloadavg()
    try:
        async with serving(gateway, url, args.startup_timeout, cpus) as served:
            report.startup_ms[gateway] = served.startup_s * 1e3
            for case in selected(args):
                call = _call_for(gateway, case)
                if call is None:
                    continue
                row = await measure(served.port, call, args, served.proc.pid, gateway)
                direct = report.direct[case.name].p50_us
                if row.p50_us is not None and direct is not None:  # None: no request of the run succeeded
                    row.added_p50_us = row.p50_us - direct
                report.rows[case.name][gateway] = row
    except BenchError as exc:
        report.problems[gateway] = str(exc)[-600:]


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None or value != value else format(value, spec)


def _ratio(ours: float | None, theirs: float | None) -> str:
    return "n/a" if not ours or not theirs else f"{ours / theirs:.2f}"


def render(report: PeerReport, args: argparse.Namespace) -> str:
    n = args.connections
    head = ["gateway", f"req/s @{n}", "p50 µs @1", "added p50 µs", "p99 µs @1", "CPU µs/req @1", f"CPU µs/req @{n}"]
    head += [f"bifrostc/peer CPU @{n}", f"bifrostc/peer req/s @{n}"]
    out: list[str] = []
    for case, rows in report.rows.items():
        ours = rows.get("bifrostc")
        out += ["", f"### {case}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        direct = report.direct[case]
        for name, r in [*rows.items(), ("direct to upstream", direct)]:
            cells = [name, _fmt(r.rps), _fmt(r.p50_us), _fmt(r.added_p50_us), _fmt(r.p99_us)]
            cells += [_fmt(r.cpu_us_per_req_1), _fmt(r.cpu_us_per_req)]
            if ours is None or name == "bifrostc" or name.startswith("direct"):
                cells += ["", ""]
            else:
                cells += [_ratio(ours.cpu_us_per_req, r.cpu_us_per_req), _ratio(ours.rps, r.rps)]
            if r.errors:
                cells[0] += f" ({r.errors} errors)"
            out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append(f"pinning: {report.pinning}")
    for gateway, load in report.loadavg.items():
        started = report.startup_ms.get(gateway)
        out.append(f"{gateway}: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at its start; "
                   f"startup {_fmt(started, ',.0f')} ms")  # fmt: skip
    for gateway, problem in report.problems.items():
        out.append(f"\n{gateway} NOT MEASURED: {problem}")
    if report.slow is not None:
        from peers_slow import render_slow

        out.append(render_slow(report.slow))
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    report = asyncio.run(bench_peers(args))
    print(render(report, args))
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"(total benchmark time {time.perf_counter() - t0:.1f} s)")
    if args.json:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return 1 if "bifrostc" in report.problems else 0
