"""Anthropic clients on OpenAI upstreams and OpenAI clients on Anthropic upstreams (and same-dialect passthrough)."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from rt_fakes import (
    Upstream,
    anthropic_message,
    anthropic_text_stream,
    app_for,
    asgi_client,
    gateway,
    json_reply,
    openai_completion,
    openai_text_stream,
    openai_tool_stream,
    provider,
    sdk_http_client,
    sse_reply,
)

USER = [{"role": "user", "content": "hi"}]


def build(upstream: Upstream):
    gw = gateway(
        [provider("oai", "openai", key_env="UP_KEY"), provider("ant", "anthropic", key_env="UP_KEY")],
        {"gpt": [("oai", "gpt-up")], "claude": [("ant", "claude-up")]},
        tiers={"sonnet": "gpt"},
    )
    app = app_for(gw, upstream)
    claude = anthropic.AsyncAnthropic(
        base_url="http://localhost/anthropic", api_key="x", http_client=sdk_http_client(app)
    )
    gpt = openai.AsyncOpenAI(base_url="http://localhost/openai/v1", api_key="x", http_client=sdk_http_client(app))
    return app, claude, gpt


async def test_anthropic_client_openai_upstream_non_streaming_tool_call():
    call = {"id": "call_1", "type": "function", "function": {"name": "Read", "arguments": '{"path": "a.txt"}'}}
    up = Upstream().add("oai.test", json_reply(openai_completion(None, tool_calls=[call])))
    _, claude, _ = build(up)
    msg = await claude.messages.create(model="claude-sonnet-9", max_tokens=100, messages=USER)
    assert msg.stop_reason == "tool_use"
    assert msg.content[0].type == "tool_use" and msg.content[0].input == {"path": "a.txt"}
    assert msg.usage.output_tokens == 7
    sent = up.bodies("oai.test")[0]
    assert sent["model"] == "gpt-up" and sent["max_completion_tokens"] == 100
    assert up.requests[0].headers["authorization"] == "Bearer sk-test"


async def test_anthropic_client_openai_upstream_streaming_parallel_tools():
    calls = [("call_a", "Read", '{"path": "a"}'), ("call_b", "Grep", '{"pattern": "x"}')]
    up = Upstream().add("oai.test", sse_reply(openai_tool_stream(calls)))
    _, claude, _ = build(up)
    async with claude.messages.stream(model="sonnet", max_tokens=100, messages=USER) as stream:
        final = await stream.get_final_message()
    assert [(b.name, b.input) for b in final.content] == [("Read", {"path": "a"}), ("Grep", {"pattern": "x"})]
    assert final.stop_reason == "tool_use" and final.model == "sonnet"
    sent = up.bodies("oai.test")[0]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


async def test_anthropic_client_openai_upstream_stream_with_reasoning():
    up = Upstream().add("oai.test", sse_reply(openai_text_stream("Hel", "lo", reasoning="thinking hard")))
    _, claude, _ = build(up)
    async with claude.messages.stream(model="gpt", max_tokens=100, messages=USER) as stream:
        final = await stream.get_final_message()
    kinds = [b.type for b in final.content]
    assert kinds == ["thinking", "text"]
    assert final.content[0].thinking == "thinking hard" and final.content[1].text == "Hello"
    assert final.usage.output_tokens == 3


async def test_openai_client_anthropic_upstream():
    up = Upstream().add("ant.test", json_reply(anthropic_message("bonjour")))
    up.add("ant.test", sse_reply(anthropic_text_stream("bon", "jour")))
    _, _, gpt = build(up)
    done = await gpt.chat.completions.create(model="claude", messages=USER, max_tokens=20)
    assert done.choices[0].message.content == "bonjour" and done.model == "claude"
    assert done.usage.prompt_tokens == 12
    stream = await gpt.chat.completions.create(model="claude", messages=USER, max_tokens=20, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "bonjour"
    headers = up.requests[0].headers
    assert headers["x-api-key"] == "sk-test" and headers["anthropic-version"] == "2023-06-01"
    assert up.bodies("ant.test")[0]["model"] == "claude-up"


async def test_anthropic_passthrough_streams_bytes_unchanged():
    upstream_bytes = anthropic_text_stream("exact ", "bytes", model="claude-up")
    up = Upstream().add("ant.test", sse_reply(upstream_bytes))
    app, _, _ = build(up)
    body = {"model": "claude", "max_tokens": 10, "stream": True, "messages": USER, "metadata": {"user_id": "u1"}}
    async with asgi_client(app) as client:
        response = await client.post("/anthropic/v1/messages?beta=true", json=body, headers={"anthropic-beta": "b1"})
    assert response.status_code == 200
    assert response.content == upstream_bytes
    assert response.headers["x-bifrostc-provider"] == "ant"
    forwarded = up.bodies("ant.test")[0]
    assert forwarded == {**body, "model": "claude-up"}
    assert up.requests[0].headers["anthropic-beta"] == "b1"


async def test_anthropic_passthrough_non_streaming_relabels_model():
    up = Upstream().add("ant.test", json_reply(anthropic_message("same")))
    _, claude, _ = build(up)
    msg = await claude.messages.create(model="claude", max_tokens=10, messages=USER)
    assert msg.model == "claude" and msg.content[0].text == "same"


async def test_openai_passthrough_to_openai_upstream():
    up = Upstream().add("oai.test", sse_reply(openai_text_stream("a", "b")))
    app, _, _ = build(up)
    options = {"include_usage": True}
    body = {"model": "gpt", "stream": True, "stream_options": options, "messages": USER, "logit_bias": {"1": 2}}
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.content == openai_text_stream("a", "b")
    assert up.bodies("oai.test")[0] == {**body, "model": "gpt-up"}


async def test_openai_stream_without_usage_goes_canonical_so_usage_is_still_seen():
    up = Upstream().add("oai.test", sse_reply(openai_text_stream("a", "b")))
    app, _, _ = build(up)
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json={"model": "gpt", "stream": True, "messages": USER})
    assert up.bodies("oai.test")[0]["stream_options"] == {"include_usage": True}
    assert b'"usage"' not in response.content and response.content.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    "status, kind", [(429, "rate_limit_error"), (529, "overloaded_error"), (400, "invalid_request_error")]
)
async def test_upstream_status_preserved_in_anthropic_dialect(status, kind):
    err = {"type": "error", "error": {"type": kind, "message": "upstream says no"}}
    reply = json_reply(err, status, {"retry-after": "0"})
    up = Upstream(default={"ant.test": reply, "oai.test": reply})
    app, _, _ = build(up)
    async with asgi_client(app) as client:
        response = await client.post("/anthropic/v1/messages", json={"model": "gpt", "max_tokens": 5, "messages": USER})
    assert response.status_code == status
    assert response.json()["error"]["type"] == kind
    if status == 429:
        assert response.headers["retry-after"] == "0"


async def test_openai_dialect_error_shape_for_upstream_429():
    reply = json_reply({"error": {"message": "slow down"}}, 429, {"retry-after": "0"})
    up = Upstream(default={"ant.test": reply})
    _, _, gpt = build(up)
    with pytest.raises(openai.RateLimitError) as info:
        await gpt.with_options(max_retries=0).chat.completions.create(model="claude", messages=USER)
    assert json.loads(info.value.response.content)["error"]["type"] == "rate_limit_error"


async def test_openai_client_anthropic_upstream_streamed_tool_call():
    start = anthropic_message("", "claude-up") | {"content": [], "stop_reason": None, "usage": {"input_tokens": 3}}
    tool = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}
    frames = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": tool}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '{"path"'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": ': "a"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    from rt_fakes import sse

    up = Upstream().add("ant.test", sse_reply(sse(frames)))
    _, _, gpt = build(up)
    stream = await gpt.chat.completions.create(model="claude", messages=USER, stream=True)
    chunks = [c async for c in stream]
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id == "toolu_1" and calls[0].function.name == "Read"
    assert "".join(tc.function.arguments or "" for tc in calls) == '{"path": "a"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
