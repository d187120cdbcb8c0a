"""Failure paths of the wired gateway end cleanly: retries then fallback (logged once), deadlines on hangs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.integration.wired import (
    WAIT_S,
    FakeUpstreams,
    StallingStream,
    Wired,
    base_spec,
    compile_gateway,
    hang_forever,
    sha256,
    user,
    wired_server,
)

KEY = "sk-bfc-ops-0123456789"
ENV = {"FLAKY_KEY": "sk-upstream-flaky-secret", "SLOW_KEY": "sk-upstream-slow-secret"}
DEADLINE_S = 0.3


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    quick = {"max_retries": 1, "backoff_initial": 0.01, "backoff_max": 0.02}
    deadline = {"max_retries": 0, "read_timeout": DEADLINE_S, "total_timeout": DEADLINE_S}
    spec["providers"] |= {
        "flaky": {"type": "openai", "base_url": "http://flaky.test/v1", "api_key_env": "FLAKY_KEY", "network": quick},
        "slow": {"type": "openai", "base_url": "http://slow.test/v1", "api_key_env": "SLOW_KEY", "network": deadline},
    }
    spec["models"] |= {
        "main": {"target": "flaky/gpt-main", "fallbacks": ["echo"]},
        "slow": {"target": "slow/gpt-slow"},
    }
    spec["virtual_keys"] = [{"name": "ops", "key_sha256": sha256(KEY)}]
    return spec


async def _server_error(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(500, json={"error": {"message": "upstream exploded", "type": "server_error"}})


async def _stall_after_first_chunk(_request: httpx.Request) -> httpx.Response:
    first = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-slow",'
    first += b'"choices":[{"index":0,"delta":{"role":"assistant","content":"partial "}}]}\n\n'
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=StallingStream(first))


@pytest.fixture
def upstreams() -> FakeUpstreams:
    return FakeUpstreams(**{"flaky.test": _server_error, "slow.test": hang_forever})


@pytest.fixture
async def served(tmp_path: Path, upstreams: FakeUpstreams):
    gateway = compile_gateway(tmp_path, _spec(tmp_path), ENV)
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        yield wired


async def test_upstream_500_is_retried_then_falls_back_and_is_logged_once(
    served: Wired, upstreams: FakeUpstreams
) -> None:
    raw = await served.anthropic(KEY).messages.with_raw_response.create(
        model="main", max_tokens=16, messages=user("fallback please")
    )
    assert (await raw.parse()).content[0].text == "fallback please"
    assert raw.headers["x-bifrostc-fallback"] == "echo" and raw.headers["x-bifrostc-attempts"] == "3"
    flaky_calls = upstreams.sent_to("flaky.test")
    assert len(flaky_calls) == 2  # the first try and max_retries=1
    # The provider key is read from the environment the app was given, not from os.environ.
    assert all(r.headers["authorization"] == f"Bearer {ENV['FLAKY_KEY']}" for r in flaky_calls)

    rows = await served.logs(1)
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == 200 and row["fallback_used"] and row["route"] == "echo" and row["provider"] == "mock"
    assert row["attempts"] == 3 and row["upstream_errors"] == 2
    metrics = (await served.http.get(f"{served.url}/metrics", headers={"x-api-key": KEY})).text  # require_key
    assert "bifrostc_fallbacks_total 1.0" in metrics
    assert 'bifrostc_upstream_errors_total{provider="mock"} 2.0' in metrics


async def test_hanging_upstream_times_out_in_the_anthropic_dialect(served: Wired) -> None:
    async with asyncio.timeout(WAIT_S):  # the gateway's own deadline must end it long before this guard
        with pytest.raises(anthropic.APIStatusError) as caught:
            await served.anthropic(KEY).messages.create(model="slow", max_tokens=16, messages=user("anyone?"))
    assert caught.value.status_code == 504
    assert caught.value.body["error"]["type"] == "api_error"
    assert "timed out" in caught.value.body["error"]["message"]
    (row,) = await served.logs(1)
    assert row["status"] == 504 and row["provider"] == "slow"


async def test_hanging_upstream_stream_times_out_before_the_first_event(served: Wired) -> None:
    async with asyncio.timeout(WAIT_S):
        with pytest.raises(openai.APIStatusError) as caught:
            await served.openai(KEY).chat.completions.create(model="slow", messages=user("anyone?"), stream=True)
    assert caught.value.status_code == 504
    assert caught.value.body["type"] == "server_error"


async def test_stream_stalling_mid_way_ends_with_an_error_event(served: Wired, upstreams: FakeUpstreams) -> None:
    upstreams.handlers["slow.test"] = _stall_after_first_chunk
    async with asyncio.timeout(WAIT_S):
        with pytest.raises(anthropic.APIError) as caught:
            async with served.anthropic(KEY).messages.stream(
                model="slow", max_tokens=16, messages=user("go")
            ) as stream:
                async for _event in stream:
                    pass
    assert "stalled" in str(caught.value)
    (row,) = await served.logs(1)
    assert row["status"] == 504 and row["stream"]


async def test_client_leaving_mid_stream_is_logged_as_499(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    patient = {"max_retries": 0, "read_timeout": 60, "total_timeout": 60}
    spec["providers"]["slow"]["network"] = patient
    gateway = compile_gateway(tmp_path, spec, ENV)
    upstreams = FakeUpstreams(**{"slow.test": _stall_after_first_chunk})
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        async with asyncio.timeout(WAIT_S):
            async with wired.http.stream(
                "POST",
                f"{wired.url}/anthropic/v1/messages",
                headers={"x-api-key": KEY},
                json={"model": "slow", "max_tokens": 16, "stream": True, "messages": user("go")},
            ) as response:
                async for chunk in response.aiter_bytes():
                    if b"partial" in chunk:
                        break  # leave while the upstream is still streaming
            (row,) = await wired.logs(1)
    assert row["status"] == 499 and row["error_message"] == "client closed the stream"
    # The upstream's usage never came: what was relayed ("partial ", 8 characters) is billed, flagged as estimated.
    assert row["output_tokens"] == 2 and row["input_tokens"] > 0 and row["usage_estimated"] and row["stream"]
