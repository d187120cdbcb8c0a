"""The dialect seam: a dialect is one object, and one whose model and stream flag live in the URL (as Gemini's
`/v1beta/models/{model}:streamGenerateContent` does) is served by the same handle_chat, unchanged."""

from __future__ import annotations

import orjson

from bifrostc.runtime.app import create_app
from bifrostc.runtime.context import Hooks, LogRecord
from bifrostc.runtime.dialects import DIALECTS, Endpoint, Inbound
from bifrostc.runtime.dialects.anthropic_messages import AnthropicMessages
from bifrostc.runtime.types import ChatRequest
from tests.runtime.rt_fakes import asgi_client, gateway, provider


class UrlModelMessages(AnthropicMessages):
    """Anthropic Messages bodies on Gemini-shaped URLs: the model and the stream flag come from the path."""

    name = "url-messages"
    log_endpoint = "generate"
    endpoints = (
        Endpoint("/seam/v1beta/models/{model}:generateContent", stream=False),
        Endpoint("/seam/v1beta/models/{model}:streamGenerateContent", stream=True),
    )
    error_prefixes = ("/seam",)

    def requested_model(self, call: Inbound) -> str:
        return call.params["model"]

    def parse(self, call: Inbound) -> ChatRequest:
        body = {**call.body, "model": call.params["model"], "stream": bool(call.endpoint.stream)}
        return super().parse(Inbound(body, call.params, call.endpoint, call.query, call.headers))


class Logged(Hooks):
    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    async def on_log(self, record: LogRecord) -> None:
        self.records.append(record)


async def test_a_url_model_dialect_is_one_object_more() -> None:
    gw = gateway([provider("mock", "mock")], {"echo": [("mock", "echo")]})
    hooks = Logged()
    app = create_app(gw, hooks=hooks, dialects=(*DIALECTS, UrlModelMessages()))
    body = {"max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]}
    async with asgi_client(app) as client:
        streamed = await client.post("/seam/v1beta/models/echo:streamGenerateContent", json=body)
        whole = await client.post("/seam/v1beta/models/echo:generateContent", json=body)
        usual = await client.post("/anthropic/v1/messages", json={**body, "model": "echo"})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    assert b"event: message_stop" in streamed.content
    assert whole.status_code == 200 and orjson.loads(whole.content)["type"] == "message"
    assert usual.status_code == 200
    seen = [(r.context.dialect, r.context.endpoint, r.context.requested_model, r.context.stream) for r in hooks.records]
    assert seen == [
        ("url-messages", "generate", "echo", True),
        ("url-messages", "generate", "echo", False),
        ("anthropic", "messages", "echo", False),
    ]
