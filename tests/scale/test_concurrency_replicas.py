"""``max_concurrent_requests`` across two real replicas sharing Redis: the requests in flight on one replica
count on the other, and the leases of a replica SIGKILLed while holding them expire by themselves."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from tests.scale.balancer import slow_upstream
from tests.scale.gateways import build, replica_set

REDIS_URL = "redis://127.0.0.1:6379/0"
UPSTREAM_KEY = "sk-ant-upstream-slow-0123456789"
LEASE_TTL_S = 3
DEADLINE_S = 30.0  # guard only

SPEC = """\
version: 1
server: {{require_key: true, state: redis, redis_url_env: GW_REDIS_URL}}
providers:
  up: {{type: anthropic, base_url: "http://127.0.0.1:{upstream}", api_key_env: UPSTREAM_ANTHROPIC_KEY}}
models:
  claude: {{target: up/claude-sonnet-4-5}}
virtual_keys:
  - {{name: {name}, key_env: GW_KEY, max_concurrent_requests: 2}}
cache: {{mode: off}}
observability: {{log_store: none}}
"""


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = [pytest.mark.services, pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")]
BODY = {"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "go"}]}


def _ask(url: str, key: str, dialect: str = "anthropic") -> httpx.Response:
    if dialect == "openai":
        return httpx.post(f"{url}/v1/chat/completions", json=BODY, headers={"authorization": f"Bearer {key}"})
    return httpx.post(f"{url}/anthropic/v1/messages", json=BODY, headers={"x-api-key": key}, timeout=30)


def test_leases_count_across_replicas_and_a_dead_replicas_leases_expire(tmp_path: Path) -> None:
    name, key = f"cc-{uuid.uuid4().hex[:8]}", f"sk-bfc-{uuid.uuid4().hex}"
    with slow_upstream(UPSTREAM_KEY, delay_s=2.0) as upstream:  # a stream takes 16 s: in flight for the test
        spec = tmp_path / "gateway.yaml"
        spec.write_text(SPEC.format(upstream=upstream, name=name))
        build(spec, tmp_path / "out")
        env = {
            "GW_KEY": key,
            "GW_REDIS_URL": REDIS_URL,
            "UPSTREAM_ANTHROPIC_KEY": UPSTREAM_KEY,
            "BIFROSTC_LEASE_TTL_S": str(LEASE_TTL_S),
        }
        with replica_set(tmp_path / "out", 2, env, tmp_path) as group, httpx.Client(timeout=30) as http:
            holder, other = group.urls
            streams = []
            for _ in range(2):  # two streams in flight on the first replica, each past its first event
                context = http.stream(
                    "POST", f"{holder}/anthropic/v1/messages", json={**BODY, "stream": True}, headers={"x-api-key": key}
                )
                response = context.__enter__()
                assert response.status_code == 200
                chunks = response.iter_bytes()  # kept: a dropped iterator closes the stream
                assert next(chunks).startswith(b"event: message_start")
                streams.append((context, chunks))
            anthropic_refusal, openai_refusal = _ask(other, key), _ask(other, key, "openai")

            group.kill(group.ports[0])  # it dies holding both leases; nobody renews them now
            for context, _ in streams:
                context.__exit__(None, None, None)
            deadline = time.monotonic() + DEADLINE_S
            served = _ask(other, key)
            while served.status_code == 429 and time.monotonic() < deadline:
                time.sleep(0.5)  # the leases expire in Redis: there is no event to await
                served = _ask(other, key)

    assert anthropic_refusal.status_code == openai_refusal.status_code == 429
    assert anthropic_refusal.json()["error"]["type"] == "rate_limit_error"
    assert f"concurrency limit of key '{name}' reached: 2" in anthropic_refusal.json()["error"]["message"]
    assert openai_refusal.json()["error"]["code"] == "rate_limit_exceeded"
    assert anthropic_refusal.headers["retry-after"] == openai_refusal.headers["retry-after"] == "1"
    assert served.status_code == 200, served.text
