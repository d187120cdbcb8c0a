"""`bifrostc serve out/` serves only the routing.py `bifrostc build` wrote (checked against out/MANIFEST.json):
a hand-edited one is refused with one line naming the file, or served with `--allow-modified`; a hot reload of a
hand-edited file keeps the gateway that was serving."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bifrostc.runtime.server import RoutingWatcher, build_server_app
from tests.integration.replicas import _wait_healthy, build, free_port

SPEC = """version: 1
providers:
  mock: {type: mock}
models:
  echo: {target: mock/echo}
"""


@pytest.fixture
def out(tmp_path: Path) -> Path:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC)
    build(spec, tmp_path / "out")
    return tmp_path / "out"


def _hand_edit(routing: Path) -> None:
    routing.write_text(routing.read_text() + "\n# tuned by hand\n")


def _serve(out: Path, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bifrostc.compiler.cli", "serve", str(out), "--no-reload", *args]
    return subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_hand_edited_routing_py_is_refused_in_one_line(out: Path) -> None:
    _hand_edit(out / "routing.py")
    proc = _serve(out, "--port", str(free_port()))
    try:
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = stderr.decode().strip().splitlines()
    assert proc.returncode == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"bifrostc: error: {out / 'routing.py'}: modified since bifrostc build wrote it")
    assert "--allow-modified" in lines[0]


def test_allow_modified_serves_it(out: Path) -> None:
    _hand_edit(out / "routing.py")
    port = free_port()
    proc = _serve(out, "--port", str(port), "--allow-modified")
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5).json()
        assert [m["id"] for m in models["data"]] == ["echo"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_a_hot_reload_of_a_hand_edited_file_keeps_the_serving_gateway(out: Path) -> None:
    app = build_server_app(out, reload=False)
    assert app.state.loaded_routing.verified and len(app.state.loaded_routing.source_sha256) == 64
    watcher = RoutingWatcher(app, out / "routing.py")
    watcher.prime()
    routing = out / "routing.py"
    routing.write_text(routing.read_text().replace('"echo"', '"hacked"'))
    assert watcher.check() is False
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        models = (await client.get("/v1/models")).json()
    assert [m["id"] for m in models["data"]] == ["echo"]
