"""Real `bifrostc serve` replicas for the scale-out tests, each one killable (SIGKILL) and restartable."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.integration.replicas import build, free_port

__all__ = ["Replicas", "build", "free_port", "replica_set"]
DEADLINE_S = 45.0  # guard against a hang only (two cores shared by many processes)


@dataclass
class Replicas:
    out: Path
    env: Mapping[str, str]
    root: Path
    ports: list[int]
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self, port: int) -> None:
        cwd = self.root / f"replica-{port}"  # its own SQLite log and spool when the spec uses one
        cwd.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "bifrostc.compiler.cli", "serve", str(self.out), "--port", str(port)]
        log = (cwd / "serve.log").open("ab")
        self.procs[port] = subprocess.Popen(
            command, env={**os.environ, **self.env}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log
        )

    def log(self, port: int) -> str:
        return (self.root / f"replica-{port}" / "serve.log").read_text(errors="replace")

    def logs(self, tail: int = 6000) -> str:
        """Every replica's stderr (its tail), for a failure message: a 500 names its traceback there."""
        return "\n".join(f"--- replica {port} ---\n{self.log(port)[-tail:]}" for port in self.ports)

    def wait_ready(self, port: int, probe: str = "/health/ready") -> None:
        proc = self.procs[port]
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"bifrostc serve on {port} exited with {proc.returncode}:\n{self.log(port)[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)  # polling a separate process: there is no event to await
        raise TimeoutError(f"replica on {port} did not become ready")

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def replica_set(out: Path, count: int, env: Mapping[str, str], root: Path) -> Iterator[Replicas]:
    group = Replicas(out, env, root, [free_port() for _ in range(count)])
    try:
        for port in group.ports:
            group.start(port)
        for port in group.ports:
            group.wait_ready(port)
        yield group
    finally:
        group.close()
