"""Specs a newcomer really writes: each gets a clear diagnostic or a working gateway, never a traceback.

Driven through the real `bifrostc` command (a subprocess), because a traceback is what the user would see.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time

import httpx
import pytest

from tests.integration.replicas import free_port

CLI = [sys.executable, "-m", "bifrostc.compiler.cli"]
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['x'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefg"], "abcdefgh", strict=True)
)


def run(*args: str, cwd: pathlib.Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_an_empty_spec_is_an_error_with_a_hint(tmp_path: pathlib.Path, text: str) -> None:
    (tmp_path / "gateway.yaml").write_text(text)
    result = run("validate", "gateway.yaml", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 1
    assert "the spec is empty" in output(result)
    assert "bifrostc init --quickstart" in output(result)


@pytest.mark.parametrize(
    "text",
    [
        "providers:\n  mock: {type: mock}\n",
        "server: {default_provider: mock}\nproviders:\n  mock: {type: mock}\n",
    ],
    ids=["providers-only", "default-provider-only"],
)
def test_a_spec_without_models_builds_and_serves_provider_model_strings(tmp_path: pathlib.Path, text: str) -> None:
    (tmp_path / "gateway.yaml").write_text(text)
    assert run("validate", "gateway.yaml", cwd=tmp_path).returncode == 0
    assert run("build", "gateway.yaml", "-o", "out", cwd=tmp_path).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "out", "--port", str(port)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        body = {"model": "mock/echo", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = httpx.post(f"http://127.0.0.1:{port}/anthropic/v1/messages", json=body, timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
                assert time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.1)
        assert reply.status_code == 200, reply.text
    finally:
        server.terminate()
        server.wait(10)


def test_a_merge_key_with_an_override_is_not_a_duplicate(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_text(
        "x-network: &net {connect_timeout: 5, read_timeout: 30}\n"
        "providers:\n"
        "  mock:\n"
        "    type: mock\n"
        "    network: {<<: *net, read_timeout: 60}\n"
        "models:\n"
        "  sonnet: {target: mock/echo}\n"
    )
    result = run("validate", "gateway.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert run("build", "gateway.yaml", "-o", "out", cwd=tmp_path).returncode == 0
    routing = (tmp_path / "out" / "routing.py").read_text()
    assert "Network(connect_timeout=5.0, read_timeout=60.0)" in routing


def test_a_real_duplicate_key_beside_a_merge_is_still_reported(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_text(
        "x-network: &net {connect_timeout: 5}\n"
        "providers:\n"
        "  mock:\n"
        "    type: mock\n"
        "    network: {<<: *net, read_timeout: 60, read_timeout: 70}\n"
    )
    result = run("validate", "gateway.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "gateway.yaml:5:43: error: providers.mock.network.read_timeout: duplicate key" in output(result)


def test_an_alias_bomb_is_refused_quickly(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_text(BOMB)
    result = run("validate", "gateway.yaml", cwd=tmp_path, timeout=30)
    no_traceback(result)
    assert result.returncode == 1
    assert "expands to more than 100,000 YAML nodes" in output(result)


def test_a_file_that_is_not_utf8_names_the_byte_and_its_position(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_bytes(b"providers:\n  m\xff:\n    type: mock\n")
    for command in (["validate", "gateway.yaml"], ["build", "gateway.yaml", "-o", "out"]):
        result = run(*command, cwd=tmp_path)
        no_traceback(result)
        assert result.returncode == 1
        assert "gateway.yaml:2:4: error: the file is not UTF-8: byte 0xff" in output(result)


def test_serve_of_a_broken_out_dir_is_one_line(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_text("providers:\n  mock: {type: mock}\n")
    assert run("build", "gateway.yaml", "-o", "out", cwd=tmp_path).returncode == 0
    (tmp_path / "out" / "routing.py").write_text("raise RuntimeError('boom')\n")
    result = run("serve", "out", "--allow-modified", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 1
    *_warnings, line = result.stderr.strip().splitlines()  # the --allow-modified warning, then the error
    assert line == "bifrostc: error: out/routing.py: failed to import: RuntimeError: boom"


def test_serve_on_another_port_than_env_sh_warns(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_text("server: {port: 8123}\nproviders:\n  mock: {type: mock}\n")
    assert run("build", "gateway.yaml", "-o", "out", cwd=tmp_path).returncode == 0
    assert "127.0.0.1:8123" in (tmp_path / "out" / "env.sh").read_text()
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "out", "--port", str(port)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert server.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = server.stdout.readline().decode()
            lines.append(line)
            if "Uvicorn running" in line or not line:
                break
    finally:
        server.terminate()
        server.wait(10)
    text = "".join(lines)
    assert f"serving on port {port}, but out/env.sh and out/mcp.json send clients to port 8123" in text
