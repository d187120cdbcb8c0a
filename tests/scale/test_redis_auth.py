"""`server.redis.password_env`: a Redis that requires a password (its own redis-server on a free port), the URL
without it, the password from the env var the spec names; without the variable's value admission cannot reach
the counters (503 in closed mode)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.scale.gateways import Replicas, build, free_port, replica_set
from tests.scale.topology import Nodes, _start, _until, have_redis

pytestmark = pytest.mark.skipif(not have_redis(), reason="needs redis-server")
PASSWORD = f"pw-{uuid.uuid4().hex}"
SPEC = """\
version: 1
server:
  require_key: true
  state: redis
  redis: {mode: single, url_env: GW_REDIS_URL, password_env: GW_REDIS_PASSWORD}
providers:
  mock: {type: mock}
models:
  echo: {target: mock/echo, pricing: {input: 5, output: 20}}
virtual_keys:
  - {name: locked, key_env: GW_KEY, budget: {max_usd: 1, period: never}}
cache: {mode: off}
observability: {log_store: none}
"""
KEY = "sk-bfc-locked-1"
BODY = {"model": "echo", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


@contextlib.contextmanager
def _locked_redis(tmp: Path) -> Iterator[int]:
    port = free_port()
    nodes = Nodes([port])
    try:
        _start(nodes, port, tmp / "redis", "--requirepass", PASSWORD)
        _until("redis", lambda: redis.Redis(port=port, password=PASSWORD).ping())
        yield port
    finally:
        nodes.close()


def _ask(url: str) -> httpx.Response:
    return httpx.post(f"{url}/anthropic/v1/messages", json=BODY, headers={"x-api-key": KEY}, timeout=10)


def test_the_password_comes_from_the_env_var_the_spec_names(tmp_path: Path) -> None:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC)
    build(spec, tmp_path / "out")
    with _locked_redis(tmp_path) as port:
        env = {"GW_REDIS_URL": f"redis://127.0.0.1:{port}/0", "GW_REDIS_PASSWORD": PASSWORD, "GW_KEY": KEY}
        with replica_set(tmp_path / "out", 1, env, tmp_path / "ok") as group:
            answered = _ask(group.urls[0])
        spent = redis.Redis(port=port, password=PASSWORD).get("bifrostc:gov:key:locked:usd:never:all")
        wrong = Replicas(tmp_path / "out", {**env, "GW_REDIS_PASSWORD": "not-it"}, tmp_path / "wrong", [free_port()])
        try:
            wrong.start(wrong.ports[0])
            wrong.wait_ready(wrong.ports[0], probe="/health/live")  # never ready: closed mode needs the counters
            refused = _ask(wrong.urls[0])
        finally:
            wrong.close()
    assert answered.status_code == 200, answered.text
    assert spent is not None and float(spent) > 0
    assert refused.status_code == 503
    assert refused.json()["error"]["type"] == "api_error"
