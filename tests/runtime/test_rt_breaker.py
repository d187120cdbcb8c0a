"""Circuit breakers per (provider, model) target and 429 cooldowns per key, at the HTTP surface."""

from __future__ import annotations

from pathlib import Path

import httpx
from rt_fakes import Upstream, asgi_client, gateway, json_reply, openai_completion, provider

from bifrostc.compiler.api import compile_spec
from bifrostc.runtime import config
from bifrostc.runtime.app import create_app
from bifrostc.runtime.dispatch import BreakerBoard

ENV = {"UP_KEY": "sk-test", "KEY_ONE": "sk-one", "KEY_TWO": "sk-two"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _sleep(_seconds: float) -> None:
    return None


def _body(model: str) -> dict[str, object]:
    return {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def _error(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return json_reply({"error": {"message": f"upstream {status}"}}, status, headers)


def _app(gw: config.Gateway, up: Upstream, clock: Clock) -> object:
    return create_app(gw, transport=up.transport(), environ=ENV, sleep=_sleep, breakers=BreakerBoard(clock=clock))


def _model_of(request: httpx.Request) -> str:
    import orjson

    return str(orjson.loads(request.content)["model"])


async def test_failures_of_one_model_leave_the_providers_other_models_serving() -> None:
    clock = Clock()
    gw = gateway([provider("p", "openai", key_env="UP_KEY", max_retries=0)], {"x": [("p", "m-x")], "y": [("p", "m-y")]})

    def reply(request: httpx.Request) -> httpx.Response:
        return _error(500) if _model_of(request) == "m-x" else json_reply(openai_completion("y works"))

    up = Upstream(default={"p.test": reply})
    async with asgi_client(_app(gw, up, clock)) as client:
        for _ in range(5):  # network.breaker_threshold defaults to 5
            assert (await client.post("/anthropic/v1/messages", json=_body("x"))).status_code == 500
        calls = len(up.requests)
        ejected = await client.post("/anthropic/v1/messages", json=_body("x"))
        neighbour = await client.post("/anthropic/v1/messages", json=_body("y"))
        clock.now += 12
        later = await client.post("/v1/chat/completions", json=_body("x"))
    assert ejected.status_code == 503 and ejected.json()["error"]["type"] == "api_error"
    assert "p/m-x" in ejected.json()["error"]["message"]
    assert ejected.headers["retry-after"] == "30"  # seconds until the breaker half-opens
    assert neighbour.status_code == 200 and neighbour.json()["content"][0]["text"] == "y works"
    assert [_model_of(r) for r in up.requests[calls:]] == ["m-y"]  # the open breaker sent nothing upstream
    assert later.status_code == 503 and later.headers["retry-after"] == "18"
    assert later.json()["error"]["type"] == "server_error"  # OpenAI dialect


async def test_429s_are_a_rate_signal_not_failures() -> None:
    clock = Clock()
    gw = gateway([provider("p", "openai", key_env="UP_KEY", max_retries=0)], {"x": [("p", "m-x")]})
    up = Upstream(default={"p.test": _error(429)})
    async with asgi_client(_app(gw, up, clock)) as client:
        for _ in range(8):
            response = await client.post("/anthropic/v1/messages", json=_body("x"))
            assert response.status_code == 429 and response.json()["error"]["type"] == "rate_limit_error"
            clock.now += 2  # past the 1 s rest a 429 without retry-after gives the key
        up.default["p.test"] = json_reply(openai_completion("served"))
        response = await client.post("/anthropic/v1/messages", json=_body("x"))
    assert response.status_code == 200  # eight 429s did not open the breaker
    assert len(up.requests) == 9


async def test_a_429_rests_that_key_on_that_model_and_the_next_key_serves_at_once() -> None:
    clock = Clock()
    keys = (config.KeyRef(env="KEY_ONE"), config.KeyRef(env="KEY_TWO"))
    p = provider("p", "openai", max_retries=1)
    gw = gateway([config.Provider(p.name, p.type, p.base_url, keys=keys, network=p.network)], {"x": [("p", "m-x")]})

    def reply(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer sk-one":
            return _error(429, {"retry-after": "40"})
        return json_reply(openai_completion("key two"))

    up = Upstream(default={"p.test": reply})
    async with asgi_client(_app(gw, up, clock)) as client:
        answers = [await client.post("/anthropic/v1/messages", json=_body("x")) for _ in range(6)]
        up.default["p.test"] = _error(429, {"retry-after": "25"})
        for _ in range(2):  # both keys rate limited now
            await client.post("/anthropic/v1/messages", json=_body("x"))
        calls = len(up.requests)
        resting = await client.post("/anthropic/v1/messages", json=_body("x"))
    assert all(a.status_code == 200 for a in answers)
    used = [r.headers["authorization"] for r in up.requests[: len(up.requests) - 2]]
    assert used.count("Bearer sk-one") <= 1  # after its 429 key one rests (40 s) while key two serves
    assert resting.status_code == 429 and len(up.requests) == calls  # every key resting: no upstream call
    assert 1 <= int(resting.headers["retry-after"]) <= 40


def test_breaker_threshold_and_cooldown_come_from_the_spec(tmp_path: Path) -> None:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(
        "version: 1\nproviders:\n  p:\n    type: openai\n    api_key_env: UP_KEY\n"
        "    network: {breaker_threshold: 2, breaker_cooldown_seconds: 7}\nmodels:\n  x: {target: p/m-x}\n"
    )
    result = compile_spec(spec, environ=ENV)
    assert result.gateway is not None
    network = result.gateway.providers["p"].network
    assert (network.breaker_threshold, network.breaker_cooldown_seconds) == (2, 7.0)


async def test_configured_threshold_and_cooldown_drive_the_breaker() -> None:
    clock = Clock()
    net = {"max_retries": 0, "breaker_threshold": 2, "breaker_cooldown_seconds": 7}
    gw = gateway([provider("p", "openai", key_env="UP_KEY", **net)], {"x": [("p", "m-x")]})
    up = Upstream(default={"p.test": _error(502)})
    async with asgi_client(_app(gw, up, clock)) as client:
        statuses = [(await client.post("/anthropic/v1/messages", json=_body("x"))).status_code for _ in range(3)]
        clock.now += 7
        up.default["p.test"] = json_reply(openai_completion("back"))
        trial = await client.post("/anthropic/v1/messages", json=_body("x"))
    assert statuses == [502, 502, 503] and len(up.requests) == 3
    assert trial.status_code == 200
