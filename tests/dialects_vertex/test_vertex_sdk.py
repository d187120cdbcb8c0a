"""Anthropic's own Vertex client (``anthropic.AsyncAnthropicVertex``) pointed at the gateway's /vertex/v1: its
access token is the virtual key (``Authorization: Bearer``), rawPredict and streamRawPredict are served through
the spec's routes to an OpenAI-shaped upstream, and refusals come back as Anthropic errors."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import orjson
import pytest

from bifrostc.runtime.app import create_app
from bifrostc.runtime.context import Hooks
from tests.runtime.rt_fakes import Upstream, gateway, openai_completion, openai_tool_stream, provider

SSE = {"content-type": "text/event-stream"}
TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {}}}]


class SeenKeys(Hooks):
    def __init__(self) -> None:
        self.authorizations: list[str | None] = []

    async def authenticate(self, headers: Any, ctx: Any) -> Any:
        self.authorizations.append(headers.get("authorization"))
        return None


def vertex(url: str) -> anthropic.AsyncAnthropicVertex:
    return anthropic.AsyncAnthropicVertex(
        region="us-east5", project_id="p", access_token="sk-bfc-virtual", base_url=f"{url}/vertex/v1", max_retries=0
    )


async def test_raw_predict_and_stream_raw_predict(live_server: Any) -> None:
    upstream = Upstream().add("oa.test", httpx.Response(200, json=openai_completion("Hello from Vertex.")))
    stream = openai_tool_stream([("c1", "get_weather", '{"city": "Paris"}'), ("c2", "get_weather", '{"city": "Rome"}')])
    upstream.add("oa.test", httpx.Response(200, content=stream, headers=SSE))
    gw = gateway(
        [provider("oa", "openai", base_url="http://oa.test/v1", key_env="K")],
        {"smart": [("oa", "gpt-x")]},
        tiers={"sonnet": "smart"},
    )
    hooks = SeenKeys()
    app = create_app(gw, transport=httpx.MockTransport(upstream), environ={"K": "sk"}, hooks=hooks)
    async with live_server(app) as url:
        client = vertex(url)
        message = await client.messages.create(
            model="claude-sonnet-4-5@20250929", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
        async with client.messages.stream(
            model="smart", max_tokens=64, tools=TOOLS, messages=[{"role": "user", "content": "weather?"}]
        ) as streamed:
            final = await streamed.get_final_message()
        with pytest.raises(anthropic.NotFoundError):
            await client.messages.create(model="nope", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "Hello from Vertex." and message.model == "claude-sonnet-4-5@20250929"
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert final.stop_reason == "tool_use"
    assert "anthropic_version" not in orjson.loads(upstream.requests[0].content)
    assert set(hooks.authorizations) == {"Bearer sk-bfc-virtual"}


async def test_bad_input_and_unknown_paths_get_each_dialects_own_error_shape(live_server: Any) -> None:
    gw = gateway([provider("oa", "openai", key_env="K")], {"smart": [("oa", "gpt-x")]})
    vertex_path = "/vertex/v1/projects/p/locations/l/publishers/anthropic/models/smart:rawPredict"
    async with live_server(create_app(gw, environ={"K": "sk"})) as url, httpx.AsyncClient(base_url=url) as http:
        bad_vertex = await http.post(vertex_path, json={"anthropic_version": "vertex-2023-10-16", "messages": 3})
        not_json = await http.post(vertex_path, content=b"[", headers={"content-type": "application/json"})
        unknown_vertex = await http.post("/vertex/v1/projects/p/whatever", json={})
        unknown_bedrock = await http.post("/bedrock/model/smart/unknown-action", json={})
        unknown_gemini = await http.post("/genai/v1beta/models/smart:embedThings", json={})
    assert bad_vertex.status_code == 400 and bad_vertex.json()["error"]["type"] == "invalid_request_error"
    assert not_json.status_code == 400 and not_json.json()["type"] == "error"
    assert unknown_vertex.status_code == 404 and unknown_vertex.json()["error"]["type"] == "not_found_error"
    assert unknown_bedrock.status_code == 404 and unknown_bedrock.json()["__type"] == "ResourceNotFoundException"
    assert (
        unknown_gemini.status_code in (404, 405)
        and unknown_gemini.json()["error"]["code"] == unknown_gemini.status_code
    )
