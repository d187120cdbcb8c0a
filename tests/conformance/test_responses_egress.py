"""Issue 11 item 4: the Responses API upstream, driven with the official SDKs through the real app to the fake
Responses API (responses_fake.py), which refuses what OpenAI refuses.

- Chat Completions in, Responses out (openai SDK), streamed and not: parallel function calls, usage with cached
  and reasoning tokens, the tool results going back paired with their calls.
- Anthropic Messages in (anthropic SDK): reasoning comes back as thinking signed `bfc:openai:<encrypted>` and goes
  upstream again as the reasoning item with its encrypted_content (the fake refuses it otherwise).
- A Responses-only model (gpt-5-codex) goes to /responses without any option; `api: chat` keeps it on chat.
- Responses in, Responses out: a stateless body is relayed unchanged; one needing state is translated.
- A mid-stream `response.failed` reaches the client as its dialect's error event.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import anthropic
import httpx
import openai
import pytest
from openai.types.responses import ResponseStreamEvent

from bifrostc.runtime import config
from bifrostc.runtime.app import create_app
from tests.runtime.rt_fakes import gateway

from . import responses_fake as fake
from .gateway import BillingHooks

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
FINAL = "Sunny in Paris and in Rome."


def weather_model(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn 1: think, then call get_weather twice in parallel; after both results: answer."""
    if len(fake.outputs(body)) >= 2:
        return [fake.reasoning("rs_2", "Both are sunny.", "turn-2"), fake.message("msg_2", FINAL)]
    return [
        fake.reasoning("rs_1", "I need the weather of both cities.", "turn-1"),
        fake.function_call("call_paris", "get_weather", json.dumps({"city": "Paris"})),
        fake.function_call("call_rome", "get_weather", json.dumps({"city": "Rome"})),
    ]


def _provider(base: str, type_: str = "openai", **options: Any) -> config.Provider:
    kind = config.AzureOptions if type_ == "azure" else config.OpenAIOptions
    return config.Provider(
        name="up",
        type=type_,
        base_url=base,
        keys=(config.KeyRef(env="UP_KEY"),),
        network=config.Network(max_retries=0),
        options=kind(**options) if options else None,
    )


def _app(provider: config.Provider, model: str, hooks: Any = None) -> Any:
    gw = gateway([provider], {"m": [("up", model)]})
    return create_app(gw, environ={"UP_KEY": "sk-up"}, hooks=hooks)


def _event_types() -> dict[str, Any]:
    union = typing.get_args(typing.get_args(ResponseStreamEvent)[0]) or typing.get_args(ResponseStreamEvent)
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in union}


def test_the_fakes_events_are_the_sdks_types() -> None:
    events = _event_types()
    items = [*weather_model({}), fake.custom_call("call_p", "apply_patch", "*** Begin Patch"), fake.message("m", "x")]
    frames = fake.stream(items, fake.Usage()) + fake.stream(items, fake.Usage(), fail_after=1)
    for frame in frames:
        data = json.loads(frame.split(b"data: ", 1)[1])
        events[data["type"]].model_validate(data)


def test_the_fake_refuses_what_the_api_refuses() -> None:
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "c1", "output": "x"}
    base = {"model": "gpt-5", "store": False}
    assert fake.refusal({**base, "input": [call, output]}) is None
    assert "No tool call found" in fake.refusal({**base, "input": [output]})[1]["error"]["message"]  # type: ignore[index]
    assert "No tool output found" in fake.refusal({**base, "input": [call]})[1]["error"]["message"]  # type: ignore[index]
    bare = {"type": "reasoning", "id": "rs_1", "summary": []}
    assert "not persisted" in fake.refusal({**base, "input": [bare]})[1]["error"]["message"]  # type: ignore[index]
    forged = {**bare, "encrypted_content": "bfc:openai:x"}
    assert fake.refusal({**base, "input": [forged]})[1]["error"]["code"] == "invalid_encrypted_content"  # type: ignore[index]
    assert fake.refusal({**base, "input": [{"type": "mystery"}]})[1]["error"]["param"] == "input[0].type"  # type: ignore[index]
    assert fake.refusal({**base, "messages": []})[0] == 400  # type: ignore[index]
    assert fake.refusal({**base, "max_output_tokens": 1})[1]["error"]["code"] == "integer_below_min_value"  # type: ignore[index]


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_openai_sdk_chat_completions_run_a_parallel_tool_loop_on_a_responses_upstream(live_server, stream):
    upstream = fake.FakeResponses(weather_model)
    async with live_server(upstream.app()) as up, live_server(_app(_provider(f"{up}/v1"), "gpt-5-codex")) as gw:
        client = openai.AsyncOpenAI(base_url=f"{gw}/v1", api_key="k", max_retries=0)
        messages: list[Any] = [{"role": "user", "content": "Weather in Paris and Rome?"}]
        calls, usage = await _chat(client, messages, stream)
        assert [(c["id"], json.loads(c["function"]["arguments"])["city"]) for c in calls] == [
            ("call_paris", "Paris"),
            ("call_rome", "Rome"),
        ]
        assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (40, 12)
        assert usage.prompt_tokens_details.cached_tokens == 8  # type: ignore[union-attr]
        assert usage.completion_tokens_details.reasoning_tokens == 5  # type: ignore[union-attr]
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        messages += [{"role": "tool", "tool_call_id": c["id"], "content": "sunny"} for c in calls]
        text = await _chat(client, messages, stream, text=True)
    assert text == FINAL
    assert not upstream.refused
    first, second = upstream.seen
    assert (first["store"], first["include"], first["stream"]) == (False, ["reasoning.encrypted_content"], stream)
    assert first["tools"][0] == {
        "type": "function",
        "name": "get_weather",
        "parameters": WEATHER["function"]["parameters"],
        "strict": False,
        "description": "The weather in a city.",
    }
    kinds = [(i["type"], i.get("call_id")) for i in second["input"]]
    assert kinds == [
        ("message", None),
        ("function_call", "call_paris"),
        ("function_call", "call_rome"),
        ("function_call_output", "call_paris"),
        ("function_call_output", "call_rome"),
    ]


async def _chat(client: openai.AsyncOpenAI, messages: list[Any], stream: bool, text: bool = False) -> Any:
    if not stream:
        reply = await client.chat.completions.create(model="m", messages=messages, tools=[WEATHER])  # type: ignore[list-item]
        message = reply.choices[0].message
        if text:
            return message.content
        return [c.model_dump(include={"id", "type", "function"}) for c in message.tool_calls or []], reply.usage
    chunks = await client.chat.completions.create(
        model="m", messages=messages, tools=[WEATHER], stream=True, stream_options={"include_usage": True}
    )  # type: ignore[list-item]
    content, calls, usage = "", {}, None
    async for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                empty = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                entry = calls.setdefault(call.index, empty)
                entry["id"] = call.id or entry["id"]
                if call.function:
                    entry["function"]["name"] += call.function.name or ""
                    entry["function"]["arguments"] += call.function.arguments or ""
    return content if text else ([calls[i] for i in sorted(calls)], usage)


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_anthropic_sdk_thinking_round_trips_as_encrypted_reasoning(live_server, stream):
    upstream = fake.FakeResponses(weather_model)
    async with live_server(upstream.app()) as up:
        app = _app(_provider(f"{up}/v1", api={"gpt-5.1": "responses"}), "gpt-5.1")
        async with live_server(app) as gw:
            client = anthropic.AsyncAnthropic(base_url=f"{gw}/anthropic", api_key="k", max_retries=0)
            tools: Any = [{"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}]
            messages: list[Any] = [{"role": "user", "content": "Weather in Paris and Rome?"}]
            thinking: Any = {"type": "enabled", "budget_tokens": 2048}
            kwargs = {"model": "m", "max_tokens": 4096, "tools": tools, "thinking": thinking}
            if stream:
                async with client.messages.stream(messages=messages, **kwargs) as events:
                    first = await events.get_final_message()
            else:
                first = await client.messages.create(messages=messages, **kwargs)
            blocks = [b.model_dump(exclude_none=True) for b in first.content]
            assert blocks[0]["type"] == "thinking"
            assert blocks[0]["signature"] == "bfc:openai:" + fake.encrypted("turn-1")
            assert [b["id"] for b in blocks if b["type"] == "tool_use"] == ["call_paris", "call_rome"]
            assert first.stop_reason == "tool_use"
            messages.append({"role": "assistant", "content": blocks})
            results = [{"type": "tool_result", "tool_use_id": b["id"], "content": "sunny"} for b in blocks[1:]]
            messages.append({"role": "user", "content": results})
            second = await client.messages.create(messages=messages, **kwargs)
    assert [b.text for b in second.content if b.type == "text"] == [FINAL]
    assert not upstream.refused
    sent = upstream.seen[1]["input"]
    assert sent[1] == {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "I need the weather of both cities."}],
        "encrypted_content": fake.encrypted("turn-1"),
    }
    assert upstream.seen[0]["reasoning"] == {"effort": "low", "summary": "auto"}


async def test_a_responses_only_model_needs_no_option_and_api_chat_keeps_chat(live_server):
    upstream = fake.FakeResponses(lambda body: [fake.message("msg_1", "hello")])
    async with live_server(upstream.app()) as up:
        for options, status in (({}, 200), ({"api": {"gpt-5-codex": "chat"}}, 404)):
            async with live_server(_app(_provider(f"{up}/v1", **options), "gpt-5-codex")) as gw:
                client = openai.AsyncOpenAI(base_url=f"{gw}/v1", api_key="k", max_retries=0)
                hello: Any = [{"role": "user", "content": "hi"}]
                try:
                    reply = await client.chat.completions.create(model="m", messages=hello)
                    assert (status, reply.choices[0].message.content) == (200, "hello")
                except openai.NotFoundError as exc:
                    assert status == 404 and "only supported in v1/responses" in str(exc)


async def test_azure_deployments_are_called_on_the_resources_responses_endpoint(live_server):
    upstream = fake.FakeResponses(lambda body: [fake.message("msg_1", "hello")])
    async with live_server(upstream.app()) as up:
        provider = _provider(up, "azure", deployments={"o3-pro": "my-o3-pro"})
        async with live_server(_app(provider, "o3-pro")) as gw:
            client = openai.AsyncOpenAI(base_url=f"{gw}/v1", api_key="k", max_retries=0)
            hello: Any = [{"role": "user", "content": "hi"}]
            reply = await client.chat.completions.create(model="m", messages=hello, max_tokens=1)  # a probe's
    assert reply.choices[0].message.content == "hello"
    assert upstream.seen[0]["model"] == "my-o3-pro" and upstream.seen[0]["max_output_tokens"] == 16


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_a_stateless_responses_body_is_relayed_and_a_stateful_one_translated(live_server, stream):
    upstream, billing = fake.FakeResponses(weather_model), BillingHooks()
    async with (
        live_server(upstream.app()) as up,
        live_server(_app(_provider(f"{up}/v1"), "gpt-5-codex", billing)) as gw,
    ):
        client = openai.AsyncOpenAI(base_url=f"{gw}/v1", api_key="k", max_retries=0)
        tools: Any = [{"type": "function", **WEATHER["function"], "strict": False}]
        body: dict[str, Any] = {"model": "m", "input": "Weather?", "tools": tools, "store": False}
        body["include"] = ["reasoning.encrypted_content"]
        body["text"] = {"verbosity": "low"}
        if stream:
            async with client.responses.stream(**body) as events:
                relayed = await events.get_final_response()
        else:
            relayed = await client.responses.create(**body)
        assert upstream.seen[-1] == {**body, "model": "gpt-5-codex", **({"stream": True} if stream else {})}
        assert relayed.model == ("gpt-5-codex" if stream else "m")  # a whole body is relabelled, a stream relayed
        assert relayed.output[0].type == "reasoning" and relayed.output[0].encrypted_content == fake.encrypted("turn-1")
        billed = billing.billed[-1]  # the relayed answer's own usage: cached and reasoning tokens too
        assert billed is not None and (billed.input_tokens, billed.cache_read_tokens) == (32, 8)
        assert (billed.output_tokens, billed.reasoning_tokens) == (12, 5)
        stored = await client.responses.create(model="m", input="Weather?", tools=tools)  # store defaults to true
    assert upstream.seen[-1]["store"] is False and "text" not in upstream.seen[-1]
    assert [item.type for item in stored.output] == ["reasoning", "function_call", "function_call"]
    assert not upstream.refused


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
async def test_a_response_failed_mid_stream_ends_the_clients_stream_with_an_error(live_server, dialect):
    upstream = fake.FakeResponses(weather_model, fail_after=1)
    async with live_server(upstream.app()) as up, live_server(_app(_provider(f"{up}/v1"), "gpt-5-pro")) as gw:
        if dialect == "anthropic":
            client = anthropic.AsyncAnthropic(base_url=f"{gw}/anthropic", api_key="k", max_retries=0)
            with pytest.raises(anthropic.APIStatusError, match="invalid content"):
                async with client.messages.stream(
                    model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
                ) as events:
                    await events.get_final_message()
        else:
            oai = openai.AsyncOpenAI(base_url=f"{gw}/v1", api_key="k", max_retries=0)
            chunks = await oai.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            with pytest.raises(openai.APIError, match="invalid content"):
                async for _chunk in chunks:
                    pass


async def test_a_response_that_fails_before_any_output_is_an_error_status_so_it_falls_back(live_server):
    upstream = fake.FakeResponses(weather_model, fail_after=0)  # response.created, then response.failed
    async with live_server(upstream.app()) as up:
        gw = gateway(
            [_provider(f"{up}/v1"), config.Provider(name="spare", type="mock", base_url="")],
            {
                "m": [("up", "gpt-5-pro")],
                "spare": [("spare", "mock-model")],
            },
            fallbacks={"m": ("spare",)},
        )
        async with live_server(create_app(gw, environ={"UP_KEY": "sk-up"})) as url, httpx.AsyncClient() as http:
            body = {"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
            reply = await http.post(f"{url}/anthropic/v1/messages", json=body, headers={"x-api-key": "k"})
    assert reply.status_code == 200 and reply.headers.get("x-bifrostc-fallback")  # the spare route answered
    assert "event: error" not in reply.text and "message_stop" in reply.text
    assert len(upstream.seen) == 1


async def test_reasoning_the_gateway_wrapped_is_unwrapped_not_relayed(live_server):
    """A Codex session that began on another route replays the gateway's reasoning items (`bfc.sig.` + the
    signature): relayed, OpenAI would refuse them; translated, Claude's is dropped and OpenAI's unwrapped."""
    upstream = fake.FakeResponses(weather_model)
    async with live_server(upstream.app()) as up, live_server(_app(_provider(f"{up}/v1"), "gpt-5-codex")) as gw:
        client = openai.AsyncOpenAI(base_url=f"{gw}/v1", api_key="k", max_retries=0)
        history: Any = [
            {"role": "user", "content": "Weather?"},
            {"type": "reasoning", "summary": [], "encrypted_content": "bfc.sig.EqQBClaudeSigned"},
            {"type": "reasoning", "summary": [], "encrypted_content": "bfc.sig.bfc:openai:" + fake.encrypted("t0")},
            {"type": "function_call", "call_id": "call_paris", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_paris", "output": "sunny"},
            {"type": "function_call", "call_id": "call_rome", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_rome", "output": "sunny"},
        ]
        tools: Any = [{"type": "function", **WEATHER["function"]}]
        reply = await client.responses.create(model="m", input=history, tools=tools, store=False)
    assert reply.output_text == FINAL and not upstream.refused
    sent = [i for i in upstream.seen[0]["input"] if i["type"] == "reasoning"]
    assert sent == [{"type": "reasoning", "summary": [], "encrypted_content": fake.encrypted("t0")}]


async def test_structured_outputs_of_a_chat_client_become_the_text_format(live_server):
    upstream = fake.FakeResponses(lambda body: [fake.message("msg_1", '{"city": "Paris"}')])
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    async with live_server(upstream.app()) as up, live_server(_app(_provider(f"{up}/v1"), "gpt-5-pro")) as gw:
        client = openai.AsyncOpenAI(base_url=f"{gw}/v1", api_key="k", max_retries=0)
        fmt: Any = {"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}}
        hello: Any = [{"role": "user", "content": "Which city?"}]
        reply = await client.chat.completions.create(model="m", messages=hello, response_format=fmt)
    assert json.loads(reply.choices[0].message.content or "") == {"city": "Paris"}
    assert upstream.seen[0]["text"] == {
        "format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}
    }
