"""`bifrostc keys add|rotate|revoke NAME`: the spec is edited in place (comments and layout kept), the new key is
printed once, and a running `bifrostc serve` picks the rebuilt out/ up: the old key gets 401, the new one 200."""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import time

import httpx
import pytest

from tests.integration.replicas import free_port, replicas

OLD_KEY = "sk-bfc-alice-before-rotation-0123456789"
SPEC = """\
version: 1
# The platform team's gateway: keep this comment.
server: {{port: {port}, require_key: true}}
providers:
  mock: {{type: mock}}   # offline
models:
  echo: {{target: mock/echo}}
virtual_keys:
  # Alice: laptop key, rotated every quarter
  - name: alice
    key_sha256: "{digest}"   # do not paste keys here
    team: core
  - {{name: ci, key_env: CI_GATEWAY_KEY}}
teams:
  core: {{}}
observability: {{log_store: none}}
"""


def bifrostc(cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bifrostc.compiler.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CI_GATEWAY_KEY": "sk-bfc-ci-0123456789"},
    )


def status(url: str, key: str) -> int:
    body = {"model": "echo", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{url}/anthropic/v1/messages", json=body, headers={"x-api-key": key}, timeout=10).status_code


def wait_for(url: str, key: str, expected: int) -> None:
    """Poll until the hot reload made `key` answer `expected` (bounded; the watcher polls out/ every second)."""
    for _ in range(150):
        if status(url, key) == expected:
            return
        time.sleep(0.2)
    pytest.fail(f"the gateway never answered {expected} for the key")


@pytest.fixture
def spec(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(SPEC.format(port=free_port(), digest=hashlib.sha256(OLD_KEY.encode()).hexdigest()))
    return path


def test_rotate_then_build_and_the_running_gateway_swaps_the_keys(spec: pathlib.Path) -> None:
    cwd = spec.parent
    assert bifrostc(cwd, "build", "gateway.yaml", "-o", "out").returncode == 0
    port = int(spec.read_text().split("port: ")[1].split(",")[0])
    with replicas(cwd / "out", 1, {"CI_GATEWAY_KEY": "sk-bfc-ci-0123456789"}, cwd=cwd, ports=[port]) as [url]:
        assert status(url, OLD_KEY) == 200
        before = spec.read_text()
        rotated = bifrostc(cwd, "keys", "rotate", "alice")
        assert rotated.returncode == 0, rotated.stderr
        new_key = rotated.stdout.strip()
        assert new_key.startswith("sk-bfc-") and "\n" not in new_key  # printed once, alone on stdout
        after = spec.read_text()
        changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
        new_digest = hashlib.sha256(new_key.encode()).hexdigest()
        assert changed == [(changed[0][0], f'    key_sha256: "{new_digest}"   # do not paste keys here')]
        assert new_key not in after
        assert status(url, OLD_KEY) == 200  # nothing changes until out/ is rebuilt

        assert bifrostc(cwd, "build", "gateway.yaml", "-o", "out").returncode == 0
        wait_for(url, OLD_KEY, 401)
        assert status(url, new_key) == 200

        added = bifrostc(cwd, "keys", "add", "bob", "--team", "core", "-o", "out")
        assert added.returncode == 0, added.stderr
        bob = added.stdout.strip()
        wait_for(url, bob, 200)
        digest = hashlib.sha256(bob.encode()).hexdigest()
        assert f"  - {{name: ci, key_env: CI_GATEWAY_KEY}}\n  - {{name: bob, key_sha256: {digest}, team: core}}\n" in (
            spec.read_text()
        )  # in the style of the entry before it

        revoked = bifrostc(cwd, "keys", "revoke", "bob", "-o", "out")
        assert (revoked.returncode, revoked.stdout) == (0, "")
        wait_for(url, bob, 401)
        assert status(url, new_key) == 200
    assert spec.read_text() == after  # add then revoke: the file is as it was, comments and all


def test_refused_edits_write_nothing(spec: pathlib.Path) -> None:
    before = spec.read_text()
    unknown = bifrostc(spec.parent, "keys", "rotate", "nobody")
    assert unknown.returncode == 1 and "no virtual key named 'nobody'" in unknown.stderr
    from_env = bifrostc(spec.parent, "keys", "rotate", "ci")
    assert from_env.returncode == 1 and "reads its key from $CI_GATEWAY_KEY" in from_env.stderr
    twice = bifrostc(spec.parent, "keys", "add", "alice")
    assert twice.returncode == 1 and "exists; rotate it instead" in twice.stderr
    bad_team = bifrostc(spec.parent, "keys", "add", "dave", "--team", "ghost")
    assert bad_team.returncode == 1 and "ghost" in bad_team.stderr
    assert (unknown.stdout, from_env.stdout, twice.stdout, bad_team.stdout) == ("", "", "", "")
    assert spec.read_text() == before
    missing = bifrostc(spec.parent, "keys", "revoke", "alice", "--spec", "absent.yaml")
    assert missing.returncode == 2
