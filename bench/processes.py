"""Start and stop the benchmark's processes: fake upstream, bifrostc build/serve, load generator runs."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import fallback_out
import orjson
from scenarios import Call

BENCH_DIR = Path(__file__).resolve().parent
CLI = "from bifrostc.compiler.cli import main; main()"
APP = (
    "import sys, uvicorn; from bifrostc.runtime.app import create_app; "
    "from bifrostc.runtime.loadout import load_gateway; "
    "uvicorn.run(create_app(load_gateway(sys.argv[1])), host='127.0.0.1', port=int(sys.argv[2]), "
    "log_level='warning', access_log=False)"
)


class BenchError(RuntimeError):
    """A benchmark step could not run; the message says which and why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli_command() -> list[str]:
    exe = shutil.which("bifrostc")
    return [exe] if exe else [sys.executable, "-c", CLI]


async def start_upstream(*extra: str) -> tuple[asyncio.subprocess.Process, int]:
    """`extra`: fake_upstream.py options (e.g. the slow-stream pacing)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH_DIR / "fake_upstream.py"), "--port", "0", *extra, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=10)
    if not line.startswith(b"ready "):
        raise BenchError(f"fake upstream did not start: {line!r}")
    return proc, int(line.split()[1])


def build_out(workdir: Path, upstream_url: str, *, max_connections: int | None = None, name: str = "out") -> Path:
    """Render bench/gateway.yaml for this upstream and compile it with `bifrostc build` (`max_connections`: the
    providers' network.max_connections; None: the default)."""
    spec = workdir / f"{name}.yaml"
    text = (BENCH_DIR / "gateway.yaml").read_text().replace("__UPSTREAM_URL__", upstream_url)
    if max_connections is not None:
        text = text.replace(
            "      max_retries: 0\n", f"      max_retries: 0\n      max_connections: {max_connections}\n"
        )
    spec.write_text(text.replace("__WORKDIR__", str(workdir)))
    out = workdir / name
    if importlib.util.find_spec("bifrostc.compiler.cli") is None:
        print("bench: bifrostc.compiler.cli is missing; writing out/routing.py with bench/fallback_out.py")
        fallback_out.write_routing(out, upstream_url)
        return out
    cmd = [*_cli_command(), "build", str(spec), "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not (out / "routing.py").is_file():
        raise BenchError(f"`bifrostc build` failed ({done.returncode}):\n{done.stderr[-2000:] or done.stdout[-2000:]}")
    return out


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    port: int
    startup_s: float
    log: Path


def serve_command(how: str, out: Path, port: int, workers: int = 1) -> list[str]:
    """`workers`: `serve --workers` (1 unless a case measures more: the numbers are per process)."""
    if how == "cli":
        if importlib.util.find_spec("bifrostc.compiler.cli") is None:
            raise BenchError("`bifrostc serve` unavailable: bifrostc.compiler.cli is missing")
        serve = [*_cli_command(), "serve", str(out), "--host", "127.0.0.1", "--port", str(port)]
        return [*serve, "--workers", str(workers)]
    return [sys.executable, "-c", APP, str(out), str(port)]


async def start_gateway(how: str, out: Path, *, timeout: float, workers: int = 1) -> Gateway:
    """Launch the gateway and time process start -> first GET /health 200 (with workers: all of them up)."""
    port = free_port()
    log = out.parent / f"gateway-{how}-{out.name}-{workers}.log"
    env = {**os.environ, "BENCH_UPSTREAM_KEY": "sk-bench"}
    started = time.perf_counter()
    command = serve_command(how, out, port, workers)
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gateway ({how}) exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        if await health_ok(port):
            return Gateway(proc, port, time.perf_counter() - started, log)
        await asyncio.sleep(0.005)  # polling is the measurement here: the gateway has no readiness signal
    stop(proc)
    raise BenchError(f"gateway ({how}) gave no /health 200 within {timeout}s:\n{log.read_text()[-2000:]}")


async def health_ok(port: int, path: str = "/health") -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode())
        status_line = await asyncio.wait_for(reader.readline(), timeout=5)
        return status_line.split(b" ")[1:2] == [b"200"]
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def stop(proc: subprocess.Popen[bytes] | asyncio.subprocess.Process) -> None:
    """Terminate one process we started, by its own handle."""
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()


async def run_load(port: int, call: Call, *, connections: int, duration: float, max_requests: int) -> dict[str, float]:
    """One load generator run as a separate process; returns its JSON summary."""
    with tempfile.NamedTemporaryFile(suffix=".json") as body_file:  # long bodies do not fit in argv
        body_file.write(call.body)
        body_file.flush()
        return await _run_loadgen(port, call, body_file.name, connections, duration, max_requests)


async def _run_loadgen(
    port: int, call: Call, body_file: str, connections: int, duration: float, max_requests: int
) -> dict[str, float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BENCH_DIR / "loadgen.py"),
        "--port", str(port),
        "--path", call.path,
        "--body-file", body_file,
        "--headers", orjson.dumps(call.headers).decode(),
        "--expect", call.expect,
        "--connections", str(connections),
        "--duration", str(duration),
        "--max-requests", str(max_requests),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"load generator failed: {err.decode()[-2000:]}")
    result: dict[str, float] = orjson.loads(out.splitlines()[-1])
    return result
