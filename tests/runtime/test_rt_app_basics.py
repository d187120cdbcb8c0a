"""The app with the offline mock provider, driven by the official SDKs in-process."""

from __future__ import annotations

import anthropic
import openai
import pytest
from rt_fakes import Upstream, app_for, asgi_client, gateway, provider, sdk_http_client


@pytest.fixture
def app():
    gw = gateway(
        [provider("mock", "mock")],
        {"quick": [("mock", "mock-1")]},
        tiers={"sonnet": "quick", "haiku": "quick"},
    )
    return app_for(gw, Upstream())


@pytest.fixture
def claude(app):
    return anthropic.AsyncAnthropic(
        base_url="http://localhost/anthropic", api_key="x", http_client=sdk_http_client(app)
    )


@pytest.fixture
def gpt(app):
    return openai.AsyncOpenAI(base_url="http://localhost/v1", api_key="x", http_client=sdk_http_client(app))


async def test_anthropic_sdk_echo_keeps_requested_model(claude):
    msg = await claude.messages.create(
        model="claude-sonnet-9", max_tokens=50, messages=[{"role": "user", "content": "hello there"}]
    )
    assert msg.content[0].text == "hello there"
    assert msg.model == "claude-sonnet-9"


async def test_anthropic_sdk_stream_and_tool_call(claude):
    tools = [{"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {}}}]
    async with claude.messages.stream(
        model="sonnet",
        max_tokens=50,
        tools=tools,
        messages=[{"role": "user", "content": 'call tool Bash with {"command": "ls"}'}],
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].name == "Bash" and final.content[0].input == {"command": "ls"}


async def test_openai_sdk_chat_and_stream(gpt):
    done = await gpt.chat.completions.create(model="quick", messages=[{"role": "user", "content": "ping"}])
    assert done.choices[0].message.content == "ping"
    assert done.model == "quick"
    stream = await gpt.chat.completions.create(
        model="quick", messages=[{"role": "user", "content": "one two three"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "one two three"


async def test_models_and_health(app):
    async with asgi_client(app) as client:
        anth = (await client.get("/anthropic/v1/models")).json()
        oai = (await client.get("/openai/v1/models")).json()
        health = await client.get("/health")
    assert [m["id"] for m in anth["data"]] == ["claude-quick", "haiku", "quick", "sonnet"]  # + the discovery id
    assert oai["object"] == "list" and {m["id"] for m in oai["data"]} == {"haiku", "quick", "sonnet"}
    assert health.json()["status"] == "ok"


async def test_errors_in_each_dialect(app):
    async with asgi_client(app) as client:
        a404 = await client.post("/anthropic/v1/nope", json={})
        o404 = await client.post("/v1/nope", json={})
        bad_json = await client.post("/anthropic/v1/messages", content=b"{nope")
        o_bad_json = await client.post("/v1/chat/completions", content=b"[1")
        unknown = await client.post("/v1/chat/completions", json={"model": "quik", "messages": []})
        a405 = await client.get("/anthropic/v1/messages")
    assert a404.status_code == 404 and a404.json()["type"] == "error"
    assert a404.json()["error"]["type"] == "not_found_error"
    assert o404.status_code == 404 and "message" in o404.json()["error"]
    assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "invalid_request_error"
    assert o_bad_json.status_code == 400 and o_bad_json.json()["error"]["type"] == "invalid_request_error"
    assert unknown.status_code == 404 and "Did you mean 'quick'" in unknown.json()["error"]["message"]
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert a405.status_code == 405 and a405.json()["type"] == "error"


async def test_sdk_raises_typed_errors(claude, gpt):
    with pytest.raises(anthropic.NotFoundError):
        await claude.messages.create(model="nothing", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        await gpt.chat.completions.create(model="nothing", messages=[{"role": "user", "content": "x"}])


async def test_count_tokens_estimates_for_non_anthropic_targets(claude):
    count = await claude.messages.count_tokens(model="sonnet", messages=[{"role": "user", "content": "hello " * 40}])
    assert count.input_tokens > 10
