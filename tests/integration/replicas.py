"""Start real `bifrostc serve` processes on 127.0.0.1 for scale-out tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build(spec: Path, out: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bifrostc.compiler.cli", "build", str(spec), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 30.0, probe: str = "/health") -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"bifrostc serve exited with {proc.returncode}:\n{stderr[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}{probe}", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)  # polling a separate process: there is no event to await
    raise TimeoutError(f"{url} did not become healthy")


@contextlib.contextmanager
def replicas(
    out: Path,
    count: int,
    env: Mapping[str, str],
    cwd: Path,
    ports: list[int] | None = None,
    probe: str = "/health",
) -> Iterator[list[str]]:
    """`count` gateway processes serving one out/ directory (on `ports` or free ones); yields their base URLs
    once `probe` answers 200 (`/health/live` for a gateway started while a store it needs is down)."""
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for index in range(count):
            port = ports[index] if ports else free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bifrostc.compiler.cli", "serve", str(out), "--port", str(port)],
                env={**os.environ, **env},
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            procs.append(proc)
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            _wait_healthy(url, proc, probe=probe)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


class OwnRedis:
    """redis-server on a free port in a temp dir; `kill()` is SIGKILL, `start()` brings it back on that port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        args += [str(self.workdir), "--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping():
                    return
            time.sleep(0.05)  # a separate process: nothing to await
        raise TimeoutError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None


@contextlib.contextmanager
def own_redis(workdir: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.kill()
