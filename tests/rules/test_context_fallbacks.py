"""Context-window and content-policy fallbacks through the HTTP surface (official SDKs, fake upstreams that answer
the providers' documented 400s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.integration.wired import (
    FakeUpstreams,
    Wired,
    base_spec,
    compile_gateway,
    openai_completion,
    user,
    wired_server,
)

ENV = {"LLM_KEY": "sk-upstream-llm"}
OVERFLOW = {  # OpenAI's documented context-length error
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in"
        " 130000 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
FILTERED = {  # Azure OpenAI's documented content-filter refusal
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management"
        " policy. Please modify your prompt and retry.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
    }
}


async def _llm(request: httpx.Request) -> httpx.Response:
    model = json.loads(request.content)["model"]
    if model == "tiny-window":
        return httpx.Response(400, json=OVERFLOW)
    if model == "strict-policy":
        return httpx.Response(400, json=FILTERED)
    return httpx.Response(200, json=openai_completion(f"from {model}", model))


@pytest.fixture
def upstreams() -> FakeUpstreams:
    return FakeUpstreams(**{"llm.test": _llm})


@pytest.fixture
async def served(tmp_path: Path, upstreams: FakeUpstreams):
    spec: dict[str, Any] = base_spec(tmp_path / "gw.db")
    spec["server"] = {"require_key": False}
    spec["providers"]["llm"] = {"type": "openai", "base_url": "http://llm.test/v1", "api_key_env": "LLM_KEY"}
    spec["models"] |= {
        "big": {"target": "llm/big-window"},
        "safe": {"target": "llm/lenient"},
        "small": {"target": "llm/small-window", "context_window": 200, "context_fallbacks": ["big"]},
        "strict-size": {"target": "llm/small-window", "context_window": 200},
        "overflowing": {"target": "llm/tiny-window", "context_fallbacks": ["big"]},
        "overflowing-alone": {"target": "llm/tiny-window"},
        "known": {"target": "llm/gpt-3.5-turbo", "context_fallbacks": ["big"]},  # the table's 16,385 tokens
        "policed": {"target": "llm/strict-policy", "content_policy_fallbacks": ["safe"]},
    }
    async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV, transport=upstreams.transport()) as wired:
        yield wired


LONG = "word " * 400  # ~500 estimated tokens


async def test_a_prompt_over_the_context_window_goes_to_the_context_fallback_before_any_call(
    served: Wired, upstreams: FakeUpstreams
) -> None:
    client = served.anthropic("unused")
    short = await client.messages.create(model="small", max_tokens=16, messages=user("hi"))
    assert short.content[0].text == "from small-window"
    raw = await client.messages.with_raw_response.create(model="small", max_tokens=16, messages=user(LONG))
    assert (await raw.parse()).content[0].text == "from big-window"
    assert raw.headers["x-bifrostc-fallback"] == "big"
    sent = [json.loads(r.content)["model"] for r in upstreams.sent_to("llm.test")]
    assert sent == ["small-window", "big-window"]  # the long prompt never went to the small model


async def test_a_route_without_its_own_context_window_takes_the_known_models_window(
    served: Wired, upstreams: FakeUpstreams
) -> None:
    raw = await served.anthropic("unused").messages.with_raw_response.create(
        model="known", max_tokens=16, messages=user("word " * 20_000)
    )
    assert (await raw.parse()).content[0].text == "from big-window"
    assert raw.headers["x-bifrostc-fallback"] == "big"
    assert [json.loads(r.content)["model"] for r in upstreams.sent_to("llm.test")] == ["big-window"]


async def test_without_a_context_fallback_the_client_gets_the_wording_claude_code_compacts_on(
    served: Wired, upstreams: FakeUpstreams
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await served.anthropic("unused").messages.create(model="strict-size", max_tokens=16, messages=user(LONG))
    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert message.startswith("prompt is too long: ") and message.endswith("> 200 maximum")
    assert upstreams.sent_to("llm.test") == []


async def test_an_upstream_overflow_error_moves_to_the_context_fallback(served: Wired) -> None:
    raw = await served.openai("unused").chat.completions.with_raw_response.create(
        model="overflowing", messages=user("a long history")
    )
    assert raw.parse().choices[0].message.content == "from big-window"
    assert raw.headers["x-bifrostc-fallback"] == "big"
    with pytest.raises(anthropic.BadRequestError) as caught:
        await served.anthropic("unused").messages.create(model="overflowing-alone", max_tokens=16, messages=user("x"))
    assert caught.value.body["error"]["message"].startswith("prompt is too long")  # type: ignore[index]


async def test_a_content_policy_refusal_moves_to_the_content_policy_fallback(served: Wired) -> None:
    answer = await served.anthropic("unused").messages.create(model="policed", max_tokens=16, messages=user("x"))
    assert answer.content[0].text == "from lenient"
