"""botocore's own ``bedrock-runtime`` client pointed at the gateway's /bedrock (``endpoint_url``), its virtual key
as a Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK`` -> ``Authorization: Bearer``): Converse, ConverseStream
(botocore decodes the binary event stream), InvokeModel and InvokeModelWithResponseStream, routed to an
OpenAI-shaped upstream, and Bedrock's error shape for every refusal."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from bifrostc.runtime.app import create_app  # noqa: E402
from bifrostc.runtime.context import Hooks, LogRecord  # noqa: E402
from tests.conftest import server_thread  # noqa: E402
from tests.providers_native.eventstream import converse_stream  # noqa: E402
from tests.runtime.rt_fakes import Upstream, gateway, openai_completion, openai_tool_stream, provider  # noqa: E402

SSE = {"content-type": "text/event-stream"}
CLAUDE_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"  # a Claude Code default: resolved as the sonnet tier
TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]}
ASK = [{"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]}]


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def client(upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    gw = gateway(
        [provider("oa", "openai", base_url="http://oa.test/v1", key_env="K")],
        {"smart": [("oa", "gpt-x")]},
        tiers={"sonnet": "smart"},
    )
    app = create_app(gw, transport=httpx.MockTransport(upstream), environ={"K": "sk"})
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "sk-bfc-virtual")
    with server_thread(app) as url:
        yield boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=f"{url}/bedrock",
            config=Config(retries={"max_attempts": 1}),
        )


def test_converse_stream_and_converse_run_a_parallel_tool_loop(client: Any, upstream: Upstream) -> None:
    calls = [("c1", "get_weather", '{"city": "Paris"}'), ("c2", "get_weather", '{"city": "Rome"}')]
    upstream.add("oa.test", httpx.Response(200, content=openai_tool_stream(calls), headers=SSE))
    upstream.add("oa.test", httpx.Response(200, json=openai_completion("Sunny in both.")))
    events = list(client.converse_stream(modelId=CLAUDE_ID, messages=ASK, toolConfig=TOOLS)["stream"])
    starts = [e["contentBlockStart"]["start"]["toolUse"] for e in events if "contentBlockStart" in e]
    assert [s["toolUseId"] for s in starts] == ["c1", "c2"]
    pieces: dict[int, str] = {}
    for event in events:
        if "contentBlockDelta" in event:
            delta = event["contentBlockDelta"]
            pieces[delta["contentBlockIndex"]] = (
                pieces.get(delta["contentBlockIndex"], "") + delta["delta"]["toolUse"]["input"]
            )
    assert [json.loads(p) for p in pieces.values()] == [{"city": "Paris"}, {"city": "Rome"}]
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}
    assert events[-1]["metadata"]["usage"] == {"inputTokens": 9, "outputTokens": 4, "totalTokens": 13}
    uses = [{"toolUse": {"toolUseId": s["toolUseId"], "name": s["name"], "input": {}}} for s in starts]
    results = [{"toolResult": {"toolUseId": s["toolUseId"], "content": [{"json": {"sky": "sun"}}]}} for s in starts]
    history = [*ASK, {"role": "assistant", "content": uses}, {"role": "user", "content": results}]
    answer = client.converse(modelId=CLAUDE_ID, messages=history, toolConfig=TOOLS, inferenceConfig={"maxTokens": 64})
    assert answer["output"]["message"]["content"] == [{"text": "Sunny in both."}]
    assert answer["stopReason"] == "end_turn" and answer["usage"]["totalTokens"] == 18
    sent = orjson.loads(upstream.requests[1].content)
    assert [m.get("tool_call_id") for m in sent["messages"] if m["role"] == "tool"] == ["c1", "c2"]
    assert upstream.requests[1].headers["authorization"] == "Bearer sk"  # the provider key, not the client's


def test_invoke_and_invoke_stream_carry_claude_bodies(client: Any, upstream: Upstream) -> None:
    upstream.add("oa.test", httpx.Response(200, json=openai_completion("Hi from invoke.")))
    upstream.add(
        "oa.test", httpx.Response(200, content=openai_tool_stream([("c9", "Bash", '{"command": "ls"}')]), headers=SSE)
    )
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": ["interleaved-thinking-2025-05-14"],
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    whole = json.loads(client.invoke_model(modelId="smart", body=json.dumps(body))["body"].read())
    assert whole["type"] == "message" and whole["content"] == [{"type": "text", "text": "Hi from invoke."}]
    streamed = client.invoke_model_with_response_stream(modelId=CLAUDE_ID, body=json.dumps(body))
    events = [
        json.loads(
            base64.b64decode(e["chunk"]["bytes"]) if isinstance(e["chunk"]["bytes"], str) else e["chunk"]["bytes"]
        )
        for e in streamed["body"]
    ]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    tool = next(e["content_block"] for e in events if e["type"] == "content_block_start")
    assert tool["type"] == "tool_use" and tool["name"] == "Bash"
    sent = orjson.loads(upstream.requests[0].content)
    assert "anthropic_version" not in sent and "anthropic_beta" not in sent


@pytest.mark.parametrize(
    ("call", "code", "status"),
    [
        ({"modelId": "nope", "messages": ASK}, "ResourceNotFoundException", 404),
        ({"modelId": "smart", "messages": [{"role": "bot", "content": []}]}, "ValidationException", 400),
    ],
)
def test_refusals_are_bedrock_exceptions(client: Any, call: dict[str, Any], code: str, status: int) -> None:
    with pytest.raises(ClientError) as raised:
        client.converse(**call)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_an_upstream_rate_limit_is_a_throttling_exception(client: Any, upstream: Upstream) -> None:
    refusal = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    upstream.default["oa.test"] = httpx.Response(429, json=refusal, headers={"retry-after": "0"})
    with pytest.raises(ClientError) as raised:
        client.converse(modelId="smart", messages=ASK)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("converse", {"messages": [{"role": "user", "content": [{"toolUse": {"name": 3}}]}]}, "toolUse.name"),
        ("converse-stream", {"messages": "hi"}, "messages: expected an array"),
        (
            "invoke",
            {"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": 5}]},
            "messages[0]",
        ),
        ("converse", b"{not json", "not valid JSON"),
    ],
)
def test_bad_input_is_a_validation_exception_never_a_5xx(client: Any, path: str, body: Any, message: str) -> None:
    url = f"{client.meta.endpoint_url}/model/smart/{path}"
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response = httpx.post(url, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["__type"] == "ValidationException" and message in response.json()["message"]


class Logged(Hooks):
    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    async def on_log(self, record: LogRecord) -> None:
        self.records.append(record)


def test_converse_to_a_bedrock_target_passes_the_body_through(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []
    answer = {
        "output": {"message": {"role": "assistant", "content": [{"text": "from Bedrock"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7},
    }

    def bedrock_upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/converse-stream"):
            body = b"".join(converse_stream(text="streamed", tool_args_chunks=['{"path":', ' "a.py"}']))
            return httpx.Response(200, content=body, headers={"content-type": "application/vnd.amazon.eventstream"})
        return httpx.Response(200, json=answer)

    upstream = Upstream()
    upstream.default["br.test"] = bedrock_upstream
    gw = gateway(
        [provider("br", "bedrock", base_url="http://br.test", key_env="BR_KEY")],
        {"claude": [("br", "claude-sonnet-4-5")]},
    )
    hooks = Logged()
    app = create_app(gw, transport=httpx.MockTransport(upstream), environ={"BR_KEY": "bedrock-api-key"}, hooks=hooks)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "sk-bfc-virtual")
    body = {
        "messages": ASK,
        "inferenceConfig": {"maxTokens": 64},
        "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
    }
    with server_thread(app) as url:
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=f"{url}/bedrock",
            config=Config(retries={"max_attempts": 1}),
        )
        whole = client.converse(modelId="claude", **body)
        events = list(client.converse_stream(modelId="claude", **body)["stream"])
    assert whole["output"]["message"]["content"] == [{"text": "from Bedrock"}]
    assert [orjson.loads(r.content) for r in seen] == [body, body]  # guardrailConfig too: nothing translated
    assert seen[0].url.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse"
    assert seen[0].headers["authorization"] == "Bearer bedrock-api-key"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 34
    records = [r.context for r in hooks.records]
    assert [(c.passthrough, c.usage.output_tokens if c.usage else None) for c in records] == [(True, 2), (True, 34)]
