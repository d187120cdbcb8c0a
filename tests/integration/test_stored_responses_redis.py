"""Two gateway replicas sharing stored Responses through Redis (`state: redis`): a chain started on one continues
on the other, retrieve and delete see the same store, and the keys stay scoped. The test runs its own
redis-server on a free port (never the shared one); each replica is the fully wired app on its own port."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import openai
import pytest
import redis

from tests.integration.replicas import own_redis
from tests.integration.weather_upstream import ENV, WeatherUpstream, spec
from tests.integration.wired import compile_gateway, wired_server

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


async def test_two_replicas_share_stored_responses(tmp_path: Path) -> None:
    with own_redis(tmp_path) as server:
        env = {**ENV, "GW_REDIS_URL": server.url}
        gateway = compile_gateway(
            tmp_path, spec(str(tmp_path / "gw.db"), state="redis", redis_url_env="GW_REDIS_URL"), env
        )
        upstream = WeatherUpstream()
        async with contextlib.AsyncExitStack() as stack:
            a = await stack.enter_async_context(wired_server(gateway, env, transport=upstream.transport()))
            b = await stack.enter_async_context(wired_server(gateway, env, transport=upstream.transport()))
            on_a, on_b = a.openai(ENV["ALICE_KEY"]), b.openai(ENV["ALICE_KEY"])
            first = await on_a.responses.create(model="gpt-4o", input="Hello from A")
            assert (await on_b.responses.retrieve(first.id)).model_dump() == first.model_dump()
            second = await on_b.responses.create(model="gpt-4o", input="Where am I?", previous_response_id=first.id)
            assert second.output_text == f"You first asked: Hello from A | I last said: {first.output_text}"
            third = await on_a.responses.create(
                model="gpt-4o",
                input=[{"type": "item_reference", "id": second.output[0].id}, {"role": "user", "content": "Still?"}],
            )
            assert third.output_text.endswith(f"I last said: {second.output_text}")
            with pytest.raises(openai.NotFoundError):  # bob, on either replica, finds none of alice's
                await b.openai(ENV["BOB_KEY"]).responses.retrieve(first.id)
            await on_b.responses.delete(first.id)
            with pytest.raises(openai.NotFoundError):
                await on_a.responses.retrieve(first.id)
            with pytest.raises(openai.BadRequestError):
                await on_a.responses.create(model="gpt-4o", input="again", previous_response_id=first.id)
        keys: Any = redis.Redis.from_url(server.url).keys("{bifrostc:responses}:r:*")
        assert len(keys) == 2  # second and third are left; first was deleted


async def test_redis_bounds_stored_responses_by_ttl_and_bytes(tmp_path: Path) -> None:
    with own_redis(tmp_path) as server:
        env = {**ENV, "GW_REDIS_URL": server.url}
        bounds = {"ttl_seconds": 60, "max_bytes": 8192}
        gateway = compile_gateway(
            tmp_path,
            spec(str(tmp_path / "gw.db"), state="redis", redis_url_env="GW_REDIS_URL", responses_store=bounds),
            env,
        )
        upstream = WeatherUpstream()
        async with wired_server(gateway, env, transport=upstream.transport()) as gw:
            client = gw.openai(ENV["ALICE_KEY"])
            ids = [
                (await client.responses.create(model="gpt-4o", input=f"turn {i} " + "x" * 600)).id for i in range(12)
            ]
            kept = []
            for resp_id in ids:
                try:
                    kept.append((await client.responses.retrieve(resp_id)).id)
                except openai.NotFoundError:
                    kept.append(None)
        first_kept = next(i for i, k in enumerate(kept) if k)
        assert first_kept > 0 and all(k is None for k in kept[:first_kept]) and all(kept[first_kept:])
        plain = redis.Redis.from_url(server.url)
        total = int(plain.get("{bifrostc:responses}:total") or 0)
        assert 0 < total <= 8192
        ttls = [plain.ttl(key) for key in plain.keys("{bifrostc:responses}:r:*")]
        assert ttls and all(0 < ttl <= 60 for ttl in ttls)  # Redis expires them itself
