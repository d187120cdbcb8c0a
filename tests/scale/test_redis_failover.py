"""Two real `bifrostc serve` replicas on a real Redis Cluster and on a real Sentinel set; the master holding
the key's counters is SIGKILLed mid-load and a replica is promoted. No spend is lost (every answered request
is billed exactly once, settlements sent again after the failover included) and none is doubled.

The cluster also serves the response cache: an answer stored through one replica is a hit on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scale.gateways import Replicas, build, replica_set
from tests.scale.topology import Cluster, SentinelSet, have_redis, redis_cluster, redis_sentinel

pytestmark = pytest.mark.skipif(not have_redis(), reason="needs redis-server and redis-cli")

ADMIN = {"authorization": "Bearer admin-secret"}
PROMPT = "hello there " * 10
USAGE = (len(PROMPT) // 4, len(PROMPT.strip()) // 4)  # the mock echoes the prompt: 30 tokens in, 29 out
PRICE = {"input": 5, "output": 20}  # USD per million tokens
COST = (USAGE[0] * PRICE["input"] + USAGE[1] * PRICE["output"]) / 1e6
CLIENTS = 16
TARGET = 160  # answered requests per run; the master dies after KILL_AFTER of them
KILL_AFTER = 50
SETTLE_S = 30.0  # guard only: how long the replicas may take to send their kept settlements again

SPEC = """\
version: 1
server:
  require_key: true
  admin_key_env: ADMIN_KEY
  state: redis
  redis: {redis}
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo, pricing: {{input: {input}, output: {output}}}}}
customers:
  acme: {{budget: {{max_usd: 1000, period: 1M}}}}
teams:
  platform: {{customer: acme, budget: {{max_usd: 1000, period: 1d}}, rate_limit: {{requests_per_minute: 100000}}}}
virtual_keys:
  - {{name: {key}, key_env: TEAM_KEY, budget: {{max_usd: 1000, period: never}}}}
  - {{name: {key}-chain, key_env: CHAIN_KEY, team: platform, max_concurrent_requests: 4}}
cache: {cache}
observability: {{log_store: sqlite, log_bodies: false, retention_days: null}}
"""


@contextlib.contextmanager
def _serve(tmp_path: Path, redis: str, env: dict[str, str], cache: str = "{mode: off}") -> Iterator[Replicas]:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC.format(redis=redis, key=env["KEY_NAME"], cache=cache, **PRICE))
    build(spec, tmp_path / "out")
    with replica_set(tmp_path / "out", 2, {**env, "ADMIN_KEY": "admin-secret"}, tmp_path) as group:
        yield group


def _names() -> dict[str, str]:
    name = f"fo-{uuid.uuid4().hex[:8]}"
    return {"KEY_NAME": name, "TEAM_KEY": f"sk-bfc-{uuid.uuid4().hex}", "CHAIN_KEY": f"sk-bfc-{uuid.uuid4().hex}"}


def _load(group: Replicas, key: str, kill: Callable[[], None]) -> tuple[int, list[int]]:
    """Run the load; an unexpected answer fails with the replicas' stderr (the traceback of a 500)."""
    try:
        return asyncio.run(_clients(group.urls, key, kill))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{group.logs()}") from None


async def _clients(urls: list[str], key: str, kill: Callable[[], None]) -> tuple[int, list[int]]:
    """CLIENTS clients until TARGET answers; ``kill`` runs once KILL_AFTER were answered. 503s (state
    unavailable during the failover) are retried after their retry-after."""
    answered = 0
    statuses: list[int] = []
    killed = False
    body = {"model": "echo", "max_tokens": 32, "messages": [{"role": "user", "content": PROMPT}]}

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal answered, killed
        url = urls[index % len(urls)]
        while answered < TARGET:
            try:
                response = await http.post(f"{url}/anthropic/v1/messages", json=body, headers={"x-api-key": key})
            except httpx.TransportError:
                statuses.append(0)
                continue
            statuses.append(response.status_code)
            if response.status_code == 200:
                answered += 1
                if answered >= KILL_AFTER and not killed:
                    killed = True
                    await asyncio.to_thread(kill)
            elif response.status_code == 503:
                assert response.json()["error"]["type"] == "api_error", response.text
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"{response.status_code} from {url}: {response.text}")

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(client(i, http) for i in range(CLIENTS)))
    return answered, statuses


def _spent(urls: list[str], name: str) -> float:
    spent = 0.0
    for url in urls:  # each replica's report also sends what it kept during the failover
        report = httpx.get(f"{url}/api/spend", headers=ADMIN, timeout=10).json()
        spent = next(r["spent_usd"] for r in report["budgets"] if r["kind"] == "key" and r["name"] == name)
    return spent


def _settled_spend(urls: list[str], name: str, expected: float) -> float:
    deadline = time.monotonic() + SETTLE_S
    spent = _spent(urls, name)
    while abs(spent - expected) > 1e-9 and time.monotonic() < deadline:
        time.sleep(0.5)  # the replicas probe Redis once a second: there is no event to await
        spent = _spent(urls, name)
    return spent


def _check_no_spend_lost(answered: int, statuses: list[int], spent: float) -> None:
    assert answered >= TARGET
    assert statuses.count(200) == answered
    assert spent == pytest.approx(answered * COST, abs=1e-9), (spent / COST, answered)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with redis_cluster(tmp_path / "redis") as nodes:
        yield nodes


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[SentinelSet]:
    with redis_sentinel(tmp_path / "redis") as nodes:
        yield nodes


def test_cluster_master_killed_mid_load_loses_no_spend(tmp_path: Path, cluster: Cluster) -> None:
    env = {**_names(), "GW_REDIS_NODES": cluster.url}
    name = env["KEY_NAME"]
    with _serve(tmp_path, "{mode: cluster, url_env: GW_REDIS_NODES}", env) as group:
        victim = cluster.master_of(f"{{key:{name}}}")  # the node holding this key's counters

        answered, statuses = _load(group, env["TEAM_KEY"], lambda: cluster.kill(victim))
        spent = _settled_spend(group.urls, name, answered * COST)
        assert cluster.master_of(f"{{key:{name}}}") != victim  # a replica was promoted
    _check_no_spend_lost(answered, statuses, spent)


def test_sentinel_master_killed_mid_load_loses_no_spend(tmp_path: Path, sentinel: SentinelSet) -> None:
    env = {**_names(), "GW_SENTINELS": sentinel.addresses}
    redis = f"{{mode: sentinel, sentinels_env: GW_SENTINELS, service_name: {sentinel.service}}}"
    with _serve(tmp_path, redis, env) as group:
        answered, statuses = _load(group, env["TEAM_KEY"], lambda: sentinel.kill(sentinel.master))
        spent = _settled_spend(group.urls, env["KEY_NAME"], answered * COST)
        assert sentinel.current_master() == sentinel.replica  # the sentinels promoted the replica
    _check_no_spend_lost(answered, statuses, spent)


def test_cluster_cache_is_shared_by_replicas_and_chains_run_in_one_slot(tmp_path: Path, cluster: Cluster) -> None:
    env = {**_names(), "GW_REDIS_NODES": cluster.url}
    cache = "{mode: exact, backend: redis, ttl_seconds: 600}"
    with _serve(tmp_path, "{mode: cluster, url_env: GW_REDIS_NODES}", env, cache=cache) as group:
        first, second = group.urls
        body: dict[str, Any] = {"model": "echo", "max_tokens": 32, "messages": [{"role": "user", "content": "cached?"}]}
        headers = {"x-api-key": env["TEAM_KEY"]}
        stored = httpx.post(f"{first}/anthropic/v1/messages", json=body, headers=headers, timeout=10)
        served = httpx.post(f"{second}/anthropic/v1/messages", json=body, headers=headers, timeout=10)
        # A key -> team -> customer chain: budgets, a rate limit and a lease, all under the {customer:acme} tag.
        chain = {"x-api-key": env["CHAIN_KEY"]}
        chained = [
            httpx.post(
                f"{url}/anthropic/v1/messages",
                json={**body, "messages": [{"role": "user", "content": str(i)}]},
                headers=chain,
                timeout=10,
            )
            for i, url in enumerate(group.urls * 2)
        ]
        report = httpx.get(f"{first}/api/spend", headers=ADMIN, timeout=10).json()["budgets"]
    assert [r.status_code for r in chained] == [200] * 4, chained[-1].text
    spent = {(r["kind"], r["name"]): r["spent_usd"] for r in report}
    one = spent[("key", f"{env['KEY_NAME']}-chain")]
    assert one > 0 and spent[("team", "platform")] == pytest.approx(one) == spent[("customer", "acme")]
    assert next(r for r in report if r["name"] == "platform")["requests_this_minute"] == 4
    assert stored.status_code == served.status_code == 200
    assert "x-bifrostc-cache" not in stored.headers
    assert served.headers["x-bifrostc-cache"] == "hit"
    assert served.json()["content"] == stored.json()["content"]
