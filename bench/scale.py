"""Scale-out benchmark: 1, 2 and 4 `bifrostc serve` replicas behind HAProxy, sharing a private Redis.

Every request carries a virtual key with a budget and a rate limit, so each one runs the Redis admission
script and the settlement script (``server.state: redis``). For each replica count it reports req/s at
``--connections``, p50/p99 at one connection and what the gateway adds over calling the fake upstream
directly, and the Redis round trips per request (``INFO commandstats``: the EVALSHA, EVAL, MGET and WAIT
calls the gateway sends; single mode pipelines nothing) with the commands those scripts run inside Redis.
Everything runs on 127.0.0.1: the fake upstream, a redis-server on a free port in a temporary directory,
the replicas, HAProxy (Debian's package) and the load generator.

Run: python bench/scale.py [--replicas 1 2 4] [--duration 5] [--connections 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
from processes import BenchError, free_port, run_load, start_upstream, stop
from scenarios import PROMPT, Call

BENCH_KEY = "sk-bfc-bench-scale-0123456789"
SPEC = """\
version: 1
server:
  require_key: true
  state: redis
  redis: {{mode: single, url_env: BENCH_REDIS_URL}}
providers:
  fake: {{type: openai, base_url: "{upstream}/v1", api_key_env: BENCH_UPSTREAM_KEY, network: {{max_retries: 0}}}}
models:
  bench-openai: {{target: fake/gpt-bench, pricing: {{input: 1, output: 2}}}}
virtual_keys:
  - name: bench
    key_sha256: "{digest}"
    budget: {{max_usd: 1000000, period: 1d}}
    rate_limit: {{requests_per_minute: 100000000}}
observability: {{log_store: sqlite, sqlite_path: bifrostc.db, metrics: true}}
cache: {{mode: "off"}}
"""
HAPROXY = """\
global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
frontend gateway
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk
  http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host 127.0.0.1
  default-server inter 2s check
{servers}
"""
ROUND_TRIPS = ("evalsha", "eval", "mget", "wait", "script|load")
CALL = Call(
    "/v1/chat/completions",
    orjson.dumps({"model": "bench-openai", "messages": PROMPT, "max_tokens": 64}),
    "finish_reason",
    {"authorization": f"Bearer {BENCH_KEY}"},
)
DIRECT = Call(
    "/v1/chat/completions", orjson.dumps({"model": "gpt-bench", "messages": PROMPT, "max_tokens": 64}), "finish_reason"
)


def _which(name: str) -> str:
    candidates = (f"/usr/sbin/{name}", f"/usr/bin/{name}")
    found = shutil.which(name) or next((p for p in candidates if Path(p).exists()), None)
    if found is None:
        raise BenchError(f"{name} is not installed (apt-get install -y haproxy redis-server)")
    return found


def _wait(what: str, ready: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if ready():  # type: ignore[operator]
                return
        time.sleep(0.05)  # polling separate processes: there is no event to await
    raise BenchError(f"{what} not ready within {timeout} s")


def _http_ok(port: int, path: str) -> bool:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200


@contextlib.contextmanager
def _redis(workdir: Path) -> Iterator[int]:
    port = free_port()
    command = [_which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*command, "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    try:
        _wait("redis", lambda: _redis_cli(port, "PING") == "PONG")
        yield port
    finally:
        stop(proc)
        proc.wait(timeout=10)


def _redis_cli(port: int, *args: str) -> str:
    done = subprocess.run([_which("redis-cli"), "-p", str(port), *args], capture_output=True, text=True, timeout=10)
    return done.stdout.strip()


def _commands(port: int) -> dict[str, int]:
    """Calls per command since start (INFO commandstats), health pings and INFO itself left out."""
    counts: dict[str, int] = {}
    for line in _redis_cli(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, stats = line.removeprefix("cmdstat_").partition(":")
            calls = int(stats.split(",")[0].split("=")[1])
            if name not in ("ping", "info", "config", "hello", "client"):
                counts[name] = calls
    return counts


@contextlib.contextmanager
def _replicas(out: Path, count: int, env: dict[str, str], workdir: Path) -> Iterator[list[int]]:
    ports = [free_port() for _ in range(count)]
    procs = []
    try:
        for port in ports:
            cwd = workdir / f"replica-{port}"
            cwd.mkdir(parents=True)
            command = [sys.executable, "-m", "bifrostc.compiler.cli", "serve", str(out), "--port", str(port)]
            log = (cwd / "serve.log").open("wb")
            procs.append(subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT))
        for port in ports:
            _wait(f"replica {port}", lambda port=port: _http_ok(port, "/health/ready"))
        yield ports
    finally:
        for proc in procs:
            stop(proc)
        for proc in procs:
            proc.wait(timeout=20)


@contextlib.contextmanager
def _haproxy(workdir: Path, backends: list[int]) -> Iterator[int]:
    port = free_port()
    conf = workdir / f"haproxy-{len(backends)}.cfg"
    servers = "\n".join(f"  server r{b} 127.0.0.1:{b}" for b in backends)
    conf.write_text(HAPROXY.format(port=port, servers=servers))
    proc = subprocess.Popen([_which("haproxy"), "-db", "-f", str(conf)], stdout=subprocess.DEVNULL)
    try:
        _wait("haproxy", lambda: _http_ok(port, "/health/live"))
        yield port
    finally:
        stop(proc)
        proc.wait(timeout=10)


async def _measure(port: int, call: Call, args: argparse.Namespace) -> dict[str, float]:
    loaded = await run_load(port, call, connections=args.connections, duration=args.duration, max_requests=10**7)
    single = await run_load(port, call, connections=1, duration=args.duration, max_requests=args.latency_requests)
    sent = loaded["requests"] + loaded["errors"] + single["requests"] + single["errors"]
    return {"rps": loaded["rps"], "p50_us": single["p50_us"], "p99_us": single["p99_us"], "requests": sent}


async def bench(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bifrostc-scale-") as tmp:
        workdir = Path(tmp)
        upstream, up_port = await start_upstream()
        try:
            direct = await _measure(up_port, DIRECT, args)
            spec = workdir / "gateway.yaml"
            digest = hashlib.sha256(BENCH_KEY.encode()).hexdigest()
            spec.write_text(SPEC.format(upstream=f"http://127.0.0.1:{up_port}", digest=digest))
            out = workdir / "out"
            build = [sys.executable, "-m", "bifrostc.compiler.cli", "build", str(spec), "-o", str(out)]
            done = subprocess.run(build, capture_output=True, text=True, timeout=120, check=False)
            if done.returncode != 0:
                raise BenchError(done.stdout + done.stderr)
            rows = []
            with _redis(workdir) as redis_port:
                redis_url = f"redis://127.0.0.1:{redis_port}"
                env = {**os.environ, "BENCH_UPSTREAM_KEY": "sk-bench", "BENCH_REDIS_URL": redis_url}
                for count in args.replicas:
                    with _replicas(out, count, env, workdir / f"r{count}") as ports, _haproxy(workdir, ports) as lb:
                        before = _commands(redis_port)
                        measured = await _measure(lb, CALL, args)
                        after = _commands(redis_port)
                    per_request = {k: (after[k] - before.get(k, 0)) / measured["requests"] for k in after}
                    rows.append({"replicas": count, **measured, "redis_per_request": per_request})
            return {"direct": direct, "rows": rows, "connections": args.connections}
        finally:
            stop(upstream)


def render(report: dict[str, object]) -> str:
    direct = report["direct"]
    assert isinstance(direct, dict)
    lines = [
        f"| replicas | req/s @{report['connections']} | p50 µs @1 | p99 µs @1 | added p50 µs | added p99 µs"
        " | Redis round trips/request | commands inside scripts/request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = report["rows"]
    assert isinstance(rows, list)
    for row in rows:
        calls = row["redis_per_request"]
        trips = sum(v for k, v in calls.items() if k in ROUND_TRIPS)
        inside = sum(v for k, v in calls.items() if k not in ROUND_TRIPS)
        detail = ", ".join(f"{k} {v:.2f}" for k, v in sorted(calls.items()) if k in ROUND_TRIPS and v >= 0.005)
        lines.append(
            f"| {row['replicas']} | {row['rps']:,.0f} | {row['p50_us']:,.0f} | {row['p99_us']:,.0f} "
            f"| {row['p50_us'] - direct['p50_us']:,.0f} | {row['p99_us'] - direct['p99_us']:,.0f} "
            f"| {trips:.2f} ({detail}) | {inside:.1f} |"
        )
    lines.append(
        f"| direct to upstream | {direct['rps']:,.0f} | {direct['p50_us']:,.0f} | {direct['p99_us']:,.0f}"
        " | n/a | n/a | n/a | n/a |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run, upper bound")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--latency-requests", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(bench(args))
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
