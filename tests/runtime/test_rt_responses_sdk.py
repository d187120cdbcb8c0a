"""The official openai SDK's Responses client (/v1/responses) against the gateway, on fake upstreams."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import orjson
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
    sse,
    sse_reply,
)

from bifrostc.runtime.context import Hooks, LogRecord, RequestContext
from bifrostc.runtime.types import ChatRequest, ChatResponse, TextPart, ToolCallPart, Usage

TOOLS: list[Any] = [
    {
        "type": "function",
        "name": name,
        "description": f"{name} a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        "strict": False,
    }
    for name in ("Read", "Grep")
]


class Recorder(Hooks):
    def __init__(self, cached: ChatResponse | None = None) -> None:
        self.logs: list[LogRecord] = []
        self.cached = cached

    async def cache_lookup(self, ctx: RequestContext, request: ChatRequest) -> ChatResponse | None:
        return self.cached

    async def on_log(self, record: LogRecord) -> None:
        self.logs.append(record)


def build(upstream: Upstream, hooks: Hooks | None = None) -> tuple[Any, openai.AsyncOpenAI]:
    gw = gateway(
        [provider("oai", "openai", key_env="UP_KEY"), provider("ant", "anthropic", key_env="UP_KEY")],
        {"gpt": [("oai", "gpt-up")], "claude": [("ant", "claude-up")]},
    )
    app = app_for(gw, upstream, hooks=hooks)
    client = openai.AsyncOpenAI(
        base_url="http://localhost/v1", api_key="x", http_client=sdk_http_client(app), max_retries=0
    )
    return app, client


def anthropic_parallel_tool_stream() -> bytes:
    """Two tool_use blocks whose input_json_delta fragments arrive in several pieces."""
    start = anthropic_message("", "claude-up") | {"content": [], "stop_reason": None, "usage": {"input_tokens": 9}}
    frames: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": start})]
    for index, (call_id, name, pieces) in enumerate(
        [("toolu_a", "Read", ['{"path"', ': "a.py"}']), ("toolu_b", "Grep", ['{"pa', 'th": "b', '.py"}'])]
    ):
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        frames.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": block}))
        for piece in pieces:
            delta = {"type": "input_json_delta", "partial_json": piece}
            frames.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        frames.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    end = {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 21}}
    frames += [("message_delta", end), ("message_stop", {"type": "message_stop"})]
    return sse(frames)


async def test_non_streaming_text_from_an_openai_upstream():
    hooks = Recorder()
    up = Upstream().add("oai.test", json_reply(openai_completion("hello there")))
    _, client = build(up, hooks)
    response = await client.responses.create(model="gpt", instructions="Be kind.", input="hi", max_output_tokens=50)
    assert response.output_text == "hello there" and response.status == "completed"
    assert response.model == "gpt" and response.id.startswith("resp_")
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (11, 7, 18)
    sent = up.bodies("oai.test")[0]
    assert sent["messages"] == [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"}]
    assert sent["max_completion_tokens"] == 50 and "input" not in sent and "instructions" not in sent
    ctx = hooks.logs[0].context
    assert (ctx.dialect, ctx.endpoint, ctx.status, ctx.passthrough) == ("responses", "responses", 200, False)


async def test_non_streaming_tool_call_from_an_anthropic_upstream():
    message = anthropic_message("Let me look.") | {"stop_reason": "tool_use"}
    message["content"].append({"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.py"}})
    up = Upstream().add("ant.test", json_reply(message))
    _, client = build(up)
    history: list[Any] = [
        {"role": "user", "content": "read a.py"},
        {"type": "function_call", "call_id": "toolu_0", "name": "Read", "arguments": '{"path": "b.py"}'},
        {"type": "function_call_output", "call_id": "toolu_0", "output": "b contents"},
    ]
    response = await client.responses.create(model="claude", input=history, tools=TOOLS, store=False)
    assert [item.type for item in response.output] == ["message", "function_call"]
    call = response.output[1]
    assert (call.call_id, call.name, call.arguments) == ("toolu_1", "Read", '{"path":"a.py"}')
    assert response.output_text == "Let me look." and [t.name for t in response.tools] == ["Read", "Grep"]
    sent = up.bodies("ant.test")[0]
    assert sent["messages"][1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_0",
        "name": "Read",
        "input": {"path": "b.py"},
    }
    assert sent["messages"][2]["content"][0]["tool_use_id"] == "toolu_0"
    assert [t["name"] for t in sent["tools"]] == ["Read", "Grep"]


async def test_streaming_text_through_the_sdk_helper():
    up = Upstream().add("ant.test", sse_reply(anthropic_text_stream("Hel", "lo")))
    app, client = build(up)
    async with client.responses.stream(model="claude", input="hi") as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert deltas == ["Hel", "lo"] and final.output_text == "Hello" and final.status == "completed"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 4)
    async with asgi_client(app) as raw:
        up.add("ant.test", sse_reply(anthropic_text_stream("x")))
        reply = await raw.post("/openai/v1/responses", json={"model": "claude", "input": "hi", "stream": True})
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.content.startswith(b"event: response.created\ndata: ")
    assert b"[DONE]" not in reply.content


async def _streamed_calls(client: openai.AsyncOpenAI, model: str) -> tuple[list[Any], Any]:
    stream = await client.responses.create(model=model, input="read both", tools=TOOLS, stream=True)
    events = [event async for event in stream]
    return events, events[-1].response


@pytest.mark.parametrize("source", ["anthropic", "openai"])
async def test_streaming_two_parallel_tool_calls(source):
    up = Upstream()
    if source == "anthropic":
        up.add("ant.test", sse_reply(anthropic_parallel_tool_stream()))
        expected = [("toolu_a", "Read", '{"path": "a.py"}'), ("toolu_b", "Grep", '{"path": "b.py"}')]
    else:
        expected = [("call_a", "Read", '{"path": "a.py"}'), ("call_b", "Grep", '{"path": "b.py"}')]
        up.add("oai.test", sse_reply(openai_tool_stream(expected)))
    _, client = build(up)
    events, final = await _streamed_calls(client, "claude" if source == "anthropic" else "gpt")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added = [(e.output_index, e.item.call_id) for e in events if e.type == "response.output_item.added"]
    assert added == [(0, expected[0][0]), (1, expected[1][0])]
    for index, (_, _, arguments) in enumerate(expected):
        deltas = [e for e in events if e.type == "response.function_call_arguments.delta" and e.output_index == index]
        assert "".join(d.delta for d in deltas) == arguments
        assert {d.item_id for d in deltas} == {final.output[index].id}
    assert final.status == "completed"
    assert [(i.call_id, i.name, i.arguments) for i in final.output] == expected
    up.add("oai.test", sse_reply(openai_tool_stream(expected)))
    async with client.responses.stream(model="gpt", input="again", tools=TOOLS) as stream:  # the strict helper
        helper_final = await stream.get_final_response()
    assert [i.arguments for i in helper_final.output] == [a for _, _, a in expected]


async def test_max_output_tokens_gives_an_incomplete_response():
    cut = openai_completion("trunc")
    cut["choices"][0]["finish_reason"] = "length"
    up = Upstream().add("oai.test", json_reply(cut))
    stream_body = openai_text_stream("tru", "nc").replace(b'"finish_reason":"stop"', b'"finish_reason":"length"')
    up.add("oai.test", sse_reply(stream_body))
    _, client = build(up)
    response = await client.responses.create(model="gpt", input="hi", max_output_tokens=2)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    stream = await client.responses.create(model="gpt", input="hi", max_output_tokens=2, stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "response.incomplete" and events[-1].response.output_text == "trunc"
    assert events[-1].response.max_output_tokens == 2


@pytest.mark.parametrize(
    "status, error",
    [(400, openai.BadRequestError), (429, openai.RateLimitError), (500, openai.InternalServerError)],
)
async def test_upstream_errors_raise_the_matching_sdk_exception(status, error):
    reply = json_reply({"type": "error", "error": {"type": "x", "message": "upstream says no"}}, status)
    up = Upstream(default={"ant.test": reply})
    _, client = build(up)
    with pytest.raises(error) as info:
        await client.responses.create(model="claude", input="hi")
    body = orjson.loads(info.value.response.content)
    assert set(body["error"]) == {"message", "type", "param", "code"}


async def test_an_unknown_previous_response_id_is_openais_400():
    up = Upstream()
    _, client = build(up)
    with pytest.raises(openai.BadRequestError) as info:
        await client.responses.create(model="gpt", input="hi", previous_response_id="resp_123")
    assert info.value.body == {
        "message": "Previous response with id 'resp_123' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    assert up.requests == []


async def test_previous_response_id_reaches_a_chat_completions_upstream_as_the_whole_history():
    """The upstream answers every turn with the same completion id: each stored turn still gets its own id."""
    up = Upstream()
    up.add("oai.test", json_reply(openai_completion("first answer")), sse_reply(openai_text_stream("second answer")))
    up.add("oai.test", json_reply(openai_completion("third answer")))
    _, client = build(up)
    first = await client.responses.create(model="gpt", input="one")
    async with client.responses.stream(model="gpt", input="two", previous_response_id=first.id) as stream:
        second = await stream.get_final_response()
    third = await client.responses.create(model="gpt", input="three", previous_response_id=second.id)
    assert len({first.id, second.id, third.id}) == 3
    assert (await client.responses.retrieve(second.id)).output_text == second.output_text
    sent = up.bodies("oai.test")[2]["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
        ("assistant", second.output_text),
        ("user", "three"),
    ]
    assert third.output_text == "third answer"


async def test_mid_stream_upstream_failure_surfaces_as_error_and_failed_response():
    def broken(_request: httpx.Request) -> httpx.Response:
        async def body():
            yield openai_text_stream("partial")[:200]
            raise httpx.ReadError("peer went away")

        return sse_reply(body())

    hooks = Recorder()
    up = Upstream(default={"oai.test": broken})
    _, client = build(up, hooks)
    stream = await client.responses.create(model="gpt", input="hi", stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert "peer went away" in events[-2].message
    assert events[-1].response.status == "failed" and "peer went away" in events[-1].response.error.message
    with pytest.raises(RuntimeError):  # the helper has no completed response to give
        async with client.responses.stream(model="gpt", input="hi") as helper:
            await helper.get_final_response()
    assert hooks.logs[0].context.status >= 500


async def test_cached_answers_replay_in_the_responses_dialect():
    cached = ChatResponse(
        "msg_cached", "up", [TextPart("from cache"), ToolCallPart("call_1", "Read", '{"path": "a"}')], "tool_use"
    )
    cached.usage = Usage(input_tokens=4, output_tokens=2)
    up = Upstream()
    _, client = build(up, Recorder(cached))
    response = await client.responses.create(model="gpt", input="hi")
    assert response.output_text == "from cache" and response.output[1].arguments == '{"path": "a"}'
    async with client.responses.stream(model="gpt", input="hi", tools=TOOLS) as stream:
        final = await stream.get_final_response()
    assert final.output_text == "from cache" and final.output[1].call_id == "call_1"
    assert up.requests == []
    # A cache hit is a stored turn like any other: its own id, retrievable, and the cached object untouched.
    assert response.id != final.id and cached.id == "msg_cached"
    assert (await client.responses.retrieve(response.id)).output_text == "from cache"
    assert (await client.responses.retrieve(final.id)).output[1].call_id == "call_1"
