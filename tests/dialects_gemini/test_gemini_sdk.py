"""The official google-genai SDK against the gateway's Gemini API (/genai and /v1beta), routed to other families
and passed through to Gemini. Upstreams are MockTransport fakes speaking each provider's documented wire."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from bifrostc.runtime.app import create_app
from tests.runtime.rt_fakes import (
    Upstream,
    anthropic_message,
    anthropic_tool_stream,
    gateway,
    openai_completion,
    openai_tool_stream,
    provider,
)

SSE = {"content-type": "text/event-stream"}
WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="The weather in a city",
            parameters=types.Schema(
                type=types.Type.OBJECT,
                properties={"city": types.Schema(type=types.Type.STRING, nullable=True)},
                required=["city"],
            ),
        )
    ]
)
CONFIG = types.GenerateContentConfig(
    tools=[WEATHER], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
)
ASK = [types.Content(role="user", parts=[types.Part(text="Weather in Paris and Rome?")])]


def sdk(url: str, key: str = "vk", prefix: str = "/genai") -> genai.Client:
    options = types.HttpOptions(base_url=url + prefix, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key=key, http_options=options)


def _gw_openai(up: Upstream) -> Any:
    gw = gateway([provider("oa", "openai", base_url="http://oa.test/v1", key_env="K")], {"smart": [("oa", "gpt-x")]})
    return create_app(gw, transport=httpx.MockTransport(up), environ={"K": "sk"})


def _calls(chunks: list[types.GenerateContentResponse]) -> list[types.FunctionCall]:
    parts = [
        p for c in chunks for p in (c.candidates[0].content.parts or []) if c.candidates and c.candidates[0].content
    ]
    return [p.function_call for p in parts if p.function_call]


async def test_streamed_parallel_calls_and_tool_results_round_trip_through_openai(live_server: Any) -> None:
    calls = [("c1", "get_weather", '{"city": "Paris"}'), ("c2", "get_weather", '{"city": "Rome"}')]
    up = Upstream().add("oa.test", httpx.Response(200, content=openai_tool_stream(calls), headers=SSE))
    up.add("oa.test", httpx.Response(200, json=openai_completion("Sunny in both.")))
    async with live_server(_gw_openai(up)) as url:
        client = sdk(url)
        stream = await client.aio.models.generate_content_stream(model="smart", contents=ASK, config=CONFIG)
        chunks = [chunk async for chunk in stream]
        called = _calls(chunks)
        assert [(c.name, c.args) for c in called] == [
            ("get_weather", {"city": "Paris"}),
            ("get_weather", {"city": "Rome"}),
        ]
        assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
        assert chunks[-1].usage_metadata.prompt_token_count == 9
        assert chunks[-1].usage_metadata.candidates_token_count == 4
        # The SDK's own function responses carry no id: the gateway pairs them with the calls by order and name.
        results = [types.Part.from_function_response(name=c.name, response={"output": "sunny"}) for c in called]
        history = [*ASK, types.Content(role="model", parts=[types.Part(function_call=c) for c in called])]
        history.append(types.Content(role="user", parts=results))
        answer = await client.aio.models.generate_content(model="smart", contents=history, config=CONFIG)
    assert answer.text == "Sunny in both."
    assert answer.usage_metadata.total_token_count == 18
    sent = orjson.loads(up.requests[0].content)
    assert sent["tools"][0]["function"]["parameters"]["properties"]["city"]["type"] == ["string", "null"]
    messages = orjson.loads(up.requests[1].content)["messages"]
    assert [m.get("tool_call_id") for m in messages if m["role"] == "tool"] == ["c1", "c2"]
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]


async def test_plain_v1beta_layout_and_json_array_stream(live_server: Any) -> None:
    up = Upstream().add("oa.test", httpx.Response(200, json=openai_completion("hello")))
    up.add("oa.test", httpx.Response(200, content=openai_tool_stream([("c1", "get_weather", "{}")]), headers=SSE))
    async with live_server(_gw_openai(up)) as url:
        answer = await sdk(url, prefix="").aio.models.generate_content(model="smart", contents="hi")
        assert answer.text == "hello"
        async with httpx.AsyncClient() as http:  # no alt=sse: one JSON array, as the REST API answers
            raw = await http.post(
                f"{url}/v1beta/models/smart:streamGenerateContent",
                json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
                headers={"x-goog-api-key": "vk"},
            )
    chunks = json.loads(raw.content)
    assert chunks[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_claude_thinking_signature_survives_a_gemini_client(live_server: Any) -> None:
    """Claude signs its thinking; the Gemini client carries the signature back (as base64 bytes) and Claude gets
    exactly its own thinking block, text and signature, before the tool_use it belongs to."""
    stream = anthropic_tool_stream([("toolu_1", "get_weather", '{"city": "Paris"}')], thinking=("Hmm.", "c2ln"))
    up = Upstream().add("an.test", httpx.Response(200, content=stream, headers=SSE))
    up.add("an.test", httpx.Response(200, json=anthropic_message("Sunny.")))
    gw = gateway([provider("an", "anthropic", base_url="http://an.test", key_env="K")], {"claude": [("an", "c-4")]})
    app = create_app(gw, transport=httpx.MockTransport(up), environ={"K": "sk"})
    async with live_server(app) as url:
        client = sdk(url)
        chunks = [
            c
            async for c in await client.aio.models.generate_content_stream(model="claude", contents=ASK, config=CONFIG)
        ]
        parts = [p for c in chunks for p in c.candidates[0].content.parts or []]
        history = [*ASK, types.Content(role="model", parts=parts)]
        history.append(
            types.Content(
                role="user", parts=[types.Part.from_function_response(name="get_weather", response={"output": "sun"})]
            )
        )
        await client.aio.models.generate_content(model="claude", contents=history, config=CONFIG)
    assistant = orjson.loads(up.requests[1].content)["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "Hmm.", "signature": "c2ln"}
    assert assistant[1]["type"] == "tool_use" and assistant[1]["id"] == "toolu_1"


def _gemini_upstream(seen: list[httpx.Request]) -> Upstream:
    signed = base64.b64encode(b"gemini-signature").decode()

    def generate(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": signed}],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "r1",
        }
        if request.url.path.endswith(":streamGenerateContent"):
            return httpx.Response(200, content=b"data: " + orjson.dumps(body) + b"\r\n\r\n", headers=SSE)
        return httpx.Response(200, json=body)

    up = Upstream()
    up.default["gm.test"] = generate
    return up


async def test_gemini_to_gemini_passes_the_body_through(live_server: Any) -> None:
    seen: list[httpx.Request] = []
    gw = gateway(
        [provider("gm", "gemini", base_url="http://gm.test/v1beta", key_env="G")],
        {"flash": [("gm", "gemini-2.5-flash")]},
    )
    app = create_app(gw, transport=httpx.MockTransport(_gemini_upstream(seen)), environ={"G": "g-key"})
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "safetySettings": [], "cachedContent": "cc/1"}
    async with live_server(app) as url, httpx.AsyncClient() as http:
        whole = await http.post(
            f"{url}/genai/v1beta/models/flash:generateContent", json=body, headers={"x-goog-api-key": "vk"}
        )
        streamed = await http.post(f"{url}/genai/v1beta/models/flash:streamGenerateContent?alt=sse", json=body)
        chunks = [c async for c in await sdk(url).aio.models.generate_content_stream(model="flash", contents="hi")]
    assert [orjson.loads(r.content) for r in seen[:2]] == [body, body]  # unknown fields kept: nothing translated
    assert str(seen[1].url).endswith("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert seen[0].headers["x-goog-api-key"] == "g-key"  # the provider key, never the client's
    assert whole.json()["modelVersion"] == "flash" and whole.headers["x-bifrostc-provider"] == "gm"
    assert b"thoughtSignature" in streamed.content
    assert chunks[0].candidates[0].content.parts[0].thought_signature == b"gemini-signature"


async def test_count_tokens_and_model_list(live_server: Any) -> None:
    counted = Upstream()
    counted.default["gm.test"] = lambda request: httpx.Response(200, json={"totalTokens": 42})
    gw = gateway(
        [
            provider("gm", "gemini", base_url="http://gm.test/v1beta", key_env="G"),
            provider("oa", "openai", key_env="G"),
        ],
        {"flash": [("gm", "gemini-2.5-flash")], "smart": [("oa", "gpt-x")]},
    )
    app = create_app(gw, transport=httpx.MockTransport(counted), environ={"G": "g"})
    async with live_server(app) as url:
        client = sdk(url)
        native = await client.aio.models.count_tokens(model="flash", contents="hello there")
        estimated = await client.aio.models.count_tokens(model="smart", contents="hello there")
        models = [m.name async for m in await client.aio.models.list()]
        one = await client.aio.models.get(model="smart")
    assert native.total_tokens == 42
    forwarded = orjson.loads(counted.requests[0].content)
    assert forwarded["generateContentRequest"]["model"] == "models/gemini-2.5-flash"
    assert estimated.total_tokens is not None and estimated.total_tokens > 0
    assert models == ["models/flash", "models/smart"] and one.name == "models/smart"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"contents": "hi"}, 400, "contents: expected an array"),
        ({"contents": [{"role": "tool", "parts": []}]}, 400, "contents[0].role"),
        (
            {"contents": [{"parts": [{"functionResponse": {"name": "x", "response": {}}}]}]},
            400,
            "answers no functionCall",
        ),
        ({"contents": [], "generationConfig": {"candidateCount": 2}}, 400, "candidateCount"),
    ],
)
async def test_bad_input_gets_googles_error_shape(live_server: Any, body: Any, status: int, message: str) -> None:
    async with live_server(_gw_openai(Upstream())) as url, httpx.AsyncClient() as http:
        response = await http.post(f"{url}/genai/v1beta/models/smart:generateContent", json=body)
    error = response.json()["error"]
    assert response.status_code == status and error["code"] == status and error["status"] == "INVALID_ARGUMENT"
    assert message in error["message"]


async def test_sdk_raises_its_own_errors_for_gateway_refusals(live_server: Any) -> None:
    async with live_server(_gw_openai(Upstream())) as url:
        with pytest.raises(genai_errors.ClientError) as missing:
            await sdk(url).aio.models.generate_content(model="nope", contents="hi")
        async with httpx.AsyncClient() as http:
            not_json = await http.post(
                f"{url}/v1beta/models/smart:generateContent", content=b"{", headers={"content-type": "application/json"}
            )
            unknown = await http.get(f"{url}/genai/v1beta/unknown")
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
    assert not_json.status_code == 400 and not_json.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
