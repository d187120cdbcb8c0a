"""Every row says how fast and how it ended, and what it cost: time to first token and inter-token latency on
every streamed row (and in /metrics), the finish reason on every path (Anthropic passthrough too), Groq's usage
in ``x_groq`` counted, and an estimate (flagged) when the upstream counts nothing.

Fakes follow the providers' documented streams: Anthropic's event sequence (it refuses a request without
``anthropic-version`` as the API does), Groq's chunks whose final usage rides in ``x_groq.usage``, and an
OpenAI-compatible server that reports no usage at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.integration.wired import FakeUpstreams, Wired, base_spec, compile_gateway, sha256, user, wired_server
from tests.runtime.rt_fakes import anthropic_text_stream, openai_chunk, sse

KEY = "sk-bfc-timing-0123456789"
ENV = {"ANTH_KEY": "sk-ant-up", "GROQ_KEY": "gsk-up", "LOCAL_KEY": "x"}
PRICE = {"input": 1_000_000, "output": 1_000_000}  # $1 a token: cost equals tokens
GROQ_USAGE = {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38}


async def anthropic_api(request: httpx.Request) -> httpx.Response:
    if "anthropic-version" not in request.headers:
        error = {"type": "invalid_request_error", "message": "anthropic-version: header is required"}
        return httpx.Response(400, json={"type": "error", "error": error})
    body = orjson.loads(request.content)
    assert body.get("stream") is True
    return httpx.Response(
        200, content=anthropic_text_stream("one ", "two ", "three"), headers={"content-type": "text/event-stream"}
    )


def _groq_stream() -> bytes:
    """Groq's documented stream: usage only in the last chunk's ``x_groq`` object, no top-level usage."""
    last = openai_chunk({}, finish="stop")
    last["x_groq"] = {"id": "req_01", "usage": GROQ_USAGE}
    chunks = [openai_chunk({"role": "assistant", "content": ""}), openai_chunk({"content": "fast "})]
    chunks += [openai_chunk({"content": "answer"}), last]
    return sse([(None, c) for c in chunks]) + b"data: [DONE]\n\n"


async def groq_api(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=_groq_stream(), headers={"content-type": "text/event-stream"})


async def no_usage_api(request: httpx.Request) -> httpx.Response:
    """An OpenAI-compatible server that never counts tokens (some vLLM/llama.cpp builds)."""
    body = orjson.loads(request.content)
    message = {"role": "assistant", "content": "a reply of forty characters, near enough"}
    if body.get("stream"):
        chunks = [openai_chunk({"role": "assistant", "content": message["content"]}), openai_chunk({}, "stop")]
        stream = sse([(None, c) for c in chunks]) + b"data: [DONE]\n\n"
        return httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"})
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    completion = {"id": "c1", "object": "chat.completion", "created": 1, "model": "local", "choices": [choice]}
    return httpx.Response(200, json=completion)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Wired]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"] |= {
        "anth": {"type": "anthropic", "base_url": "http://anth.test", "api_key_env": "ANTH_KEY"},
        "groq": {"type": "groq", "base_url": "http://groq.test/openai/v1", "api_key_env": "GROQ_KEY"},
        "local": {"type": "openai_compat", "base_url": "http://local.test/v1", "api_key_env": "LOCAL_KEY"},
    }
    spec["models"] |= {
        "claude": {"target": "anth/claude-sonnet-4-5"},
        "fast": {"target": "groq/llama-3.3-70b-versatile", "pricing": PRICE},
        "local": {"target": "local/qwen", "pricing": PRICE},
    }
    spec["virtual_keys"] = [{"name": "dev", "key_sha256": sha256(KEY)}]
    upstreams = FakeUpstreams(**{"anth.test": anthropic_api, "groq.test": groq_api, "local.test": no_usage_api})
    async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV, transport=upstreams.transport()) as wired:
        yield wired


async def _anthropic_stream(wired: Wired, model: str) -> str:
    client = wired.anthropic(KEY)
    async with client.messages.stream(model=model, max_tokens=64, messages=user("count")) as stream:
        return "".join([text async for text in stream.text_stream])


async def test_streamed_rows_have_ttft_inter_token_latency_and_finish_reason(served: Wired) -> None:
    assert await _anthropic_stream(served, "claude") == "one two three"  # Anthropic to Anthropic: relayed
    assert await _anthropic_stream(served, "fast") == "fast answer"  # translated
    rows = await served.logs(2)
    assert {r["route"] for r in rows} == {"claude", "fast"}
    for row in rows:
        assert row["stream"] is True
        assert row["finish_reason"] == "end_turn", row
        assert row["time_to_first_token_ms"] is not None and row["time_to_first_token_ms"] >= 0
        assert row["inter_token_latency_ms"] is not None and row["inter_token_latency_ms"] >= 0
    metrics = (await served.http.get(f"{served.url}/metrics", headers={"x-api-key": KEY})).text
    for name in ("bifrostc_time_to_first_token_seconds", "bifrostc_inter_token_latency_seconds"):
        for route, provider in (("claude", "anth"), ("fast", "groq")):
            assert f'{name}_count{{provider="{provider}",route="{route}"}} 1.0' in metrics, name


async def test_groq_usage_in_x_groq_is_counted_on_both_paths(served: Wired) -> None:
    await _anthropic_stream(served, "fast")  # translated
    openai_client = served.openai(KEY)
    stream = await openai_client.chat.completions.create(
        model="fast", messages=user("hi"), stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]  # relayed unchanged: the client sees x_groq itself
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "fast answer"
    rows = await served.logs(2)
    for row in rows:
        assert (row["input_tokens"], row["output_tokens"], row["usage_estimated"]) == (31, 7, False), row
        assert row["cost_usd"] == pytest.approx(38)
        assert row["finish_reason"] == "end_turn"


async def test_an_upstream_that_counts_nothing_is_billed_an_estimate_flagged_as_such(served: Wired) -> None:
    reply = await served.anthropic(KEY).messages.create(model="local", max_tokens=64, messages=user("hi"))
    assert reply.content[0].type == "text"
    completion = await served.openai(KEY).chat.completions.create(model="local", messages=user("hi"))
    assert completion.choices[0].finish_reason == "stop"
    await _anthropic_stream(served, "local")
    rows = await served.logs(3)
    for row in rows:
        assert row["usage_estimated"] is True, row
        assert row["output_tokens"] >= 10 and row["input_tokens"] >= 1
        assert row["cost_usd"] == pytest.approx(row["input_tokens"] + row["output_tokens"])
        assert row["finish_reason"] == "end_turn"
