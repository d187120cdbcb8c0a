"""Retries, fallbacks, circuit breakers, deadlines and mid-stream errors."""

from __future__ import annotations

import asyncio

import httpx
import orjson
from rt_fakes import (
    Upstream,
    anthropic_text_stream,
    app_for,
    asgi_client,
    gateway,
    json_reply,
    openai_completion,
    openai_text_stream,
    provider,
    sse_reply,
)

from bifrostc.runtime.dispatch import BreakerBoard

MESSAGES = [{"role": "user", "content": "hi"}]
ANTHROPIC_BODY = {"model": "main", "max_tokens": 10, "messages": MESSAGES}


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def two_routes(**net: float):
    return gateway(
        [provider("a", "openai", key_env="UP_KEY", **net), provider("b", "openai", key_env="UP_KEY", **net)],
        {"main": [("a", "m-a")], "backup": [("b", "m-b")]},
        fallbacks={"main": ("backup",)},
    )


def error(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return json_reply({"error": {"message": f"upstream {status}"}}, status, headers)


async def post(app, path: str = "/anthropic/v1/messages", body: dict | None = None) -> httpx.Response:
    async with asgi_client(app) as client:
        return await client.post(path, json=body or ANTHROPIC_BODY)


async def test_retries_with_backoff_then_succeeds():
    sleeps = Sleeps()
    up = Upstream().add("a.test", error(500), error(503), json_reply(openai_completion("ok")))
    response = await post(app_for(two_routes(), up, sleep=sleeps))
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "ok"
    assert response.headers["x-bifrostc-attempts"] == "3"
    assert response.headers["x-bifrostc-provider"] == "a" and response.headers["x-bifrostc-model"] == "m-a"
    assert "x-bifrostc-fallback" not in response.headers
    assert len(sleeps.calls) == 2 and all(0 < s <= 0.05 for s in sleeps.calls)


async def test_retry_after_is_honoured():
    sleeps = Sleeps()
    up = Upstream().add("a.test", error(429, {"retry-after-ms": "30"}), json_reply(openai_completion("ok")))
    response = await post(app_for(two_routes(), up, sleep=sleeps))
    assert response.status_code == 200
    assert sleeps.calls == [0.03]


async def test_fallback_after_retries_exhausted_and_long_retry_after_skips_retries():
    sleeps = Sleeps()
    up = Upstream(default={"a.test": error(429, {"retry-after": "60"})}).add(
        "b.test", json_reply(openai_completion("b"))
    )
    response = await post(app_for(two_routes(), up, sleep=sleeps))
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "b"
    assert response.headers["x-bifrostc-fallback"] == "backup"
    assert response.headers["x-bifrostc-provider"] == "b"
    assert sleeps.calls == []  # a 60 s retry-after is above backoff_max: straight to the fallback
    assert [r.url.host for r in up.requests] == ["a.test", "b.test"]


async def test_all_fail_keeps_last_status_in_dialect():
    up = Upstream(default={"a.test": error(503), "b.test": error(529)})
    response = await post(
        app_for(two_routes(max_retries=1), up, sleep=Sleeps()),
        "/v1/chat/completions",
        {"model": "main", "messages": MESSAGES},
    )
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "server_error"
    assert len(up.requests) == 4


async def test_client_errors_are_not_retried():
    up = Upstream(default={"a.test": error(400)})
    response = await post(app_for(two_routes(), up, sleep=Sleeps()))
    assert response.status_code == 400 and len(up.requests) == 1


async def test_stream_falls_back_when_upstream_fails_before_first_event():
    async def dies_early():
        raise httpx.ReadError("connection reset")
        yield b""  # pragma: no cover

    up = Upstream().add("a.test", error(503), sse_reply(dies_early()), lambda r: sse_reply(b""))
    up.add("b.test", sse_reply(openai_text_stream("from ", "b")))
    body = {**ANTHROPIC_BODY, "stream": True}
    response = await post(app_for(two_routes(), up, sleep=Sleeps()), body=body)
    assert response.status_code == 200
    assert response.headers["x-bifrostc-fallback"] == "backup"
    assert b"from " in response.content and b"event: message_stop" in response.content


async def test_mid_stream_failure_closes_with_error_event_in_each_dialect():
    def broken_stream(_request: httpx.Request) -> httpx.Response:
        async def body():
            yield openai_text_stream("partial")[:200]
            raise httpx.ReadError("peer went away")

        return sse_reply(body())

    up = Upstream(default={"a.test": broken_stream})
    app = app_for(two_routes(), up, sleep=Sleeps())
    anth = await post(app, body={**ANTHROPIC_BODY, "stream": True})
    assert anth.status_code == 200
    assert anth.content.rstrip().splitlines()[-2] == b"event: error"
    error_event = orjson.loads(anth.content.rstrip().splitlines()[-1].removeprefix(b"data: "))
    assert error_event["type"] == "error" and error_event["error"]["type"] == "api_error"
    oai = await post(app, "/v1/chat/completions", {"model": "main", "messages": MESSAGES, "stream": True})
    last = orjson.loads(oai.content.rstrip().splitlines()[-1].removeprefix(b"data: "))
    assert "peer went away" in last["error"]["message"]


async def test_stalled_stream_is_cut_by_read_timeout():
    never = asyncio.Event()

    def stalls(_request: httpx.Request) -> httpx.Response:
        async def body():
            yield anthropic_text_stream("x")[:300]
            await never.wait()
            yield b""  # pragma: no cover

        return sse_reply(body())

    gw = gateway([provider("ant", "anthropic", key_env="UP_KEY", read_timeout=0.2)], {"main": [("ant", "c")]})
    response = await post(app_for(gw, Upstream(default={"ant.test": stalls})), body={**ANTHROPIC_BODY, "stream": True})
    assert b"event: error" in response.content and b"stalled" in response.content


async def test_hung_upstream_hits_total_timeout():
    never = asyncio.Event()

    async def hangs(_request: httpx.Request) -> httpx.Response:
        await never.wait()
        raise AssertionError("unreachable")

    gw = gateway([provider("a", "openai", key_env="UP_KEY", total_timeout=0.2, max_retries=0)], {"main": [("a", "m")]})
    response = await post(app_for(gw, Upstream(default={"a.test": hangs})))
    assert response.status_code == 504 and "timed out" in response.json()["error"]["message"]


async def test_circuit_breaker_opens_then_half_opens():
    now = [0.0]
    breakers = BreakerBoard(threshold=2, cooldown=30.0, clock=lambda: now[0])
    up = Upstream(default={"a.test": error(500), "b.test": json_reply(openai_completion("b"))})
    app = app_for(two_routes(max_retries=1), up, sleep=Sleeps(), breakers=breakers)
    first = await post(app)
    assert first.headers["x-bifrostc-fallback"] == "backup"
    assert breakers.get("a", "m-a").state == "open"
    calls_to_a = sum(r.url.host == "a.test" for r in up.requests)
    second = await post(app)
    assert second.status_code == 200 and sum(r.url.host == "a.test" for r in up.requests) == calls_to_a
    now[0] = 31.0
    assert breakers.get("a", "m-a").state == "half_open"
    up.script["a.test"] = [json_reply(openai_completion("a is back"))]
    third = await post(app)
    assert third.json()["content"][0]["text"] == "a is back"
    assert breakers.get("a", "m-a").state == "closed"


async def test_missing_provider_key_is_a_clear_error():
    gw = gateway([provider("a", "openai", key_env="NOT_SET_ANYWHERE")], {"main": [("a", "m")]})
    response = await post(app_for(gw, Upstream()))
    assert response.status_code == 500
    assert "NOT_SET_ANYWHERE" in response.json()["error"]["message"]


async def test_weighted_targets_spread_load():
    import random

    gw = gateway(
        [provider("a", "openai", key_env="UP_KEY"), provider("b", "openai", key_env="UP_KEY")],
        {"main": [("a", "m"), ("b", "m")]},
    )
    reply = json_reply(openai_completion("x"))
    up = Upstream(default={"a.test": lambda r: json_reply(openai_completion("a")), "b.test": lambda r: reply})
    app = app_for(gw, up, rng=random.Random(7))
    async with asgi_client(app) as client:
        for _ in range(20):
            await client.post("/anthropic/v1/messages", json=ANTHROPIC_BODY)
    hosts = {r.url.host for r in up.requests}
    assert hosts == {"a.test", "b.test"}


def test_breaker_half_open_slot_is_released_without_a_verdict():
    from bifrostc.runtime.dispatch import CircuitBreaker

    now = [0.0]
    breaker = CircuitBreaker(threshold=1, cooldown=5.0, clock=lambda: now[0])
    breaker.on_failure()
    assert not breaker.allow()
    now[0] = 6.0
    assert breaker.allow()
    breaker.on_attempt()
    assert not breaker.allow()  # one trial at a time
    breaker.release()
    assert breaker.allow()
    breaker.on_attempt()
    breaker.on_failure()
    assert breaker.state == "open"
