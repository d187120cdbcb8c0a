"""`server.redis` through the CLI: what `bifrostc validate` refuses, what `build` emits, and `serve` naming the
env var it misses (the single-URL shorthand keeps working: tests/integration/test_scale_out.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BASE = """\
version: 1
server:
  state: redis
{server}
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo}}
"""


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bifrostc.compiler.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=60, check=False)


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (
            "  redis_url_env: A\n  redis: {mode: single, url_env: B}",
            "server.redis_url_env: give the Redis URL once: server.redis.url_env or server.redis_url_env, not both",
        ),
        (
            "  redis: {mode: sentinel}",
            "server.redis.mode: redis mode sentinel needs sentinels_env (comma-separated host:port of the sentinels)",
        ),
        ("  redis: {mode: cluster}", "server.redis.mode: redis mode cluster needs url_env"),
        ("  redis: {mode: ring, url_env: A}", "server.redis.mode"),
    ],
)
def test_validate_refuses_an_incomplete_server_redis(tmp_path: Path, server: str, message: str) -> None:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(BASE.format(server=server))
    result = _cli("validate", str(spec), cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_a_cluster_spec_builds_and_serve_names_the_missing_env_var(tmp_path: Path) -> None:
    spec = tmp_path / "gateway.yaml"
    server = "  redis: {mode: cluster, url_env: GW_NODES, password_env: GW_REDIS_PASSWORD, tls: true}"
    spec.write_text(BASE.format(server=server))
    built = _cli("build", str(spec), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    routing = (tmp_path / "out" / "routing.py").read_text()
    assert 'RedisState(mode="cluster", url_env="GW_NODES", password_env="GW_REDIS_PASSWORD", tls=True)' in routing
    served = _cli("serve", str(tmp_path / "out"), "--port", "1", cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert served.returncode != 0
    assert "GW_NODES" in served.stderr


def test_explain_shows_the_concurrency_limits_of_a_keys_chain(tmp_path: Path) -> None:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(
        BASE.format(server="  redis_url_env: GW_REDIS_URL")
        + "teams:\n  platform: {max_concurrent_requests: 32}\n"
        + "virtual_keys:\n  - {name: ci, key_env: CI_KEY, team: platform, max_concurrent_requests: 8}\n"
    )
    result = _cli("explain", str(spec), "echo", "--key", "ci", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "key ci no budget, 8 in flight" in result.stdout
    assert "team platform no budget, 32 in flight" in result.stdout
