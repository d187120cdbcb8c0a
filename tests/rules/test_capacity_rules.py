"""``budget_used`` in a routing rule, read from the shared counters: two real replicas on one Redis (the test's
own ``redis-server``) move a key to its cheaper route once more than 80 % of its budget is spent, whichever
replica spent it (and keys by their request and token rate limits' share, ``request`` and ``tokens_used``);
``bifrostc explain --level`` gives the same answer."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import anthropic
import pytest

from tests.scale.gateways import build, replica_set
from tests.scale.topology import have_redis, redis_single

pytestmark = pytest.mark.skipif(not have_redis(), reason="needs redis-server")

# Each answer costs exactly $1 (one output token of "go" at $1 per token) of a $10 budget: 10 % a request.
SPEC = """\
version: 1
server: {require_key: true, state: redis, redis_url_env: GW_REDIS_URL}
providers:
  mock: {type: mock}
models:
  claude: {target: mock/pricey, pricing: {input: 0, output: 1000000}}
  cheap: {target: mock/cheap}
virtual_keys:
  - name: alice
    key_env: GW_KEY
    budget: {max_usd: 10, period: never}
    rules:
      - {name: thrifty, when: budget_used > 80, route: cheap}
  - name: bob
    key_env: BOB_KEY
    rate_limit: {requests_per_minute: 4}
    rules:
      - {name: busy, when: request > 40, route: cheap}
  - name: carol
    key_env: CAROL_KEY
    rate_limit: {tokens_per_minute: 10}
    rules:
      - {name: wordy, when: tokens_used > 10, route: cheap}
cache: {mode: off}
observability: {log_store: none}
"""


def _ask(url: str, key: str) -> tuple[str, str]:
    client = anthropic.Anthropic(base_url=f"{url}/anthropic", api_key=key, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude", max_tokens=1, messages=[{"role": "user", "content": "go"}]
    )
    assert raw.parse().content[0].type == "text"
    return raw.headers.get("x-bifrostc-model", ""), raw.headers.get("x-bifrostc-rule", "")


def test_budget_used_over_80_moves_the_key_to_its_cheaper_route_on_every_replica(tmp_path: Path) -> None:
    key, bob, carol = (f"sk-bfc-{uuid.uuid4().hex}" for _ in range(3))
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC)
    build(spec, tmp_path / "out")
    with redis_single(tmp_path) as url:
        env = {"GW_KEY": key, "BOB_KEY": bob, "CAROL_KEY": carol, "GW_REDIS_URL": url}
        with replica_set(tmp_path / "out", 2, env, tmp_path) as group:
            first, second = group.urls
            # $0..$9 spent before each of the first ten requests: 0-90 %; the first nine see at most 80 %.
            served = [_ask((first, second)[i % 2], key) for i in range(12)]
            # bob's sliding-minute requests of 4 a minute: 0 and 25 % before the first two, 50 % before the third
            busy = [_ask(url, bob) for url in (first, second, first)]
            # carol's tokens of 10 a minute: 0 before the first answer, 2 (1 in, 1 out: 20 %) after it
            wordy = [_ask(url, carol) for url in (first, second)]
    assert served[:9] == [("pricey", "")] * 9
    assert served[9:] == [("cheap", "thrifty")] * 3  # request 10 (90 % spent) went to the second replica
    assert busy == [("pricey", ""), ("pricey", ""), ("cheap", "busy")]
    assert wordy == [("pricey", ""), ("cheap", "wordy")]

    def explain(*level: str) -> str:
        request = tmp_path / "req.json"
        request.write_text('{"model": "claude", "max_tokens": 1, "messages": [{"role": "user", "content": "go"}]}')
        command = [sys.executable, "-m", "bifrostc.compiler.cli", "explain", str(spec), "--request", str(request)]
        done = subprocess.run([*command, "--key", "alice", *level], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    matched = "rule thrifty (key alice): MATCHED: budget_used > 80  [budget_used=90.0]"
    assert matched in explain("--level", "budget_used=90")
    assert "rule thrifty (key alice): no match" in explain()
