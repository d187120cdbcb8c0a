"""One real `bifrostc serve` process built from a YAML spec, with its stderr kept for inspection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.replicas import build, free_port


@dataclass
class Served:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    async def wait_exit(self, timeout: float) -> float:
        """Seconds until the process exited (raises TimeoutError after `timeout`)."""
        started = time.monotonic()
        async with asyncio.timeout(timeout):
            while self.proc.poll() is None:
                await asyncio.sleep(0.05)  # a separate process: no event to await
        return time.monotonic() - started


async def _wait_live(served: Served, deadline_s: float = 30.0, verify: ssl.SSLContext | bool = True) -> None:
    async with httpx.AsyncClient(timeout=1.0, verify=verify) as client:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if served.proc.poll() is not None:
                raise RuntimeError(f"bifrostc serve exited with {served.proc.returncode}:\n{served.stderr()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{served.url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{served.url} did not become healthy:\n{served.stderr()[-3000:]}")


@contextlib.asynccontextmanager
async def serve_spec(
    tmp_path: Path,
    spec: str,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    ready_s: float = 30.0,
    ca_file: str | None = None,
) -> AsyncIterator[Served]:
    """Build `spec` (``{port}`` is filled in) and serve it (`args` added to the command line, e.g. ``--workers
    4``); yields once /health answers 200 (with several workers: once all are up). The loop stays free while
    waiting, so fake upstreams served by this test's loop keep answering. With ``ca_file`` the server is
    reached over https, verified against that certificate."""
    port = free_port()
    spec_path = tmp_path / "gateway.yaml"
    spec_path.write_text(spec.replace("{port}", str(port)))
    out = tmp_path / "out"
    await asyncio.to_thread(build, spec_path, out)
    stderr_path = tmp_path / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bifrostc.compiler.cli", "serve", str(out), "--port", str(port), *args],
            env={**os.environ, **env},
            cwd=tmp_path,
            stdout=stderr,
            stderr=stderr,
        )
    served = Served(f"{'https' if ca_file else 'http'}://127.0.0.1:{port}", port, proc, stderr_path)
    try:
        await _wait_live(served, ready_s, ssl.create_default_context(cafile=ca_file) if ca_file else True)
        yield served
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                await served.wait_exit(15)
            except TimeoutError:
                proc.kill()
                proc.wait()
