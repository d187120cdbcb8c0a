"""Pipeline hooks, count_tokens forwarding, embeddings, and the Azure / OpenAI-compatible adapters."""

from __future__ import annotations

from typing import Any

from rt_fakes import (
    Upstream,
    anthropic_message,
    app_for,
    asgi_client,
    gateway,
    json_reply,
    openai_completion,
    provider,
)

from bifrostc.runtime import config
from bifrostc.runtime.context import Hooks, LogRecord, RequestContext
from bifrostc.runtime.errors import AuthenticationFailed
from bifrostc.runtime.types import ChatRequest, ChatResponse, TextPart, Usage

USER = [{"role": "user", "content": "hi"}]


class Recorder(Hooks):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def authenticate(self, headers, ctx: RequestContext) -> Any:
        if headers.get("x-api-key") == "bad":
            raise AuthenticationFailed("bad key")
        return "key-ctx"

    async def before_call(self, ctx: RequestContext, route: config.Route) -> None:
        self.calls.append(("before", route.name))

    async def after_call(self, ctx: RequestContext, usage: Usage | None) -> None:
        self.calls.append(("after", (ctx.key, ctx.provider, usage.output_tokens if usage else None)))

    async def cache_lookup(self, ctx: RequestContext, request: ChatRequest) -> ChatResponse | None:
        if request.messages[-1].content[0].text == "cached?":
            return ChatResponse(id="c1", model="x", content=[TextPart("from cache")])
        return None

    async def cache_store(self, ctx: RequestContext, request: ChatRequest, response: ChatResponse) -> None:
        self.calls.append(("store", response.content[0].text))

    async def on_log(self, record: LogRecord) -> None:
        self.calls.append(("log", record.context.status))


def mock_gateway() -> config.Gateway:
    return gateway([provider("mock", "mock")], {"m": [("mock", "mock-1")]})


async def test_hooks_run_in_order_and_can_reject():
    hooks = Recorder()
    app = app_for(mock_gateway(), Upstream(), hooks=hooks)
    async with asgi_client(app) as client:
        ok = await client.post("/anthropic/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER})
        denied = await client.post(
            "/anthropic/v1/messages", json={"model": "m", "messages": USER}, headers={"x-api-key": "bad"}
        )
        cached = await client.post(
            "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "cached?"}]}
        )
        streamed = await client.post("/v1/chat/completions", json={"model": "m", "messages": USER, "stream": True})
    assert ok.status_code == 200
    assert [c[0] for c in hooks.calls[:4]] == ["before", "after", "store", "log"]
    assert hooks.calls[1] == ("after", ("key-ctx", "mock", 1))
    assert denied.status_code == 401 and denied.json()["error"]["type"] == "authentication_error"
    assert ("log", 401) in hooks.calls
    assert cached.json()["choices"][0]["message"]["content"] == "from cache"
    assert cached.headers["x-bifrostc-cache"] == "hit"
    assert streamed.status_code == 200 and ("store", "hi") in hooks.calls


async def test_count_tokens_forwards_to_anthropic_upstream():
    up = Upstream().add("ant.test", json_reply({"input_tokens": 42}))
    gw = gateway([provider("ant", "anthropic", key_env="UP_KEY")], {"c": [("ant", "claude-up")]})
    async with asgi_client(app_for(gw, up)) as client:
        response = await client.post("/anthropic/v1/messages/count_tokens", json={"model": "c", "messages": USER})
    assert response.json() == {"input_tokens": 42}
    assert up.requests[0].url.path == "/v1/messages/count_tokens"
    assert up.bodies("ant.test")[0]["model"] == "claude-up"


async def test_embeddings_and_azure_deployments():
    azure = config.Provider(
        name="az",
        type="azure",
        base_url="https://az.test",
        keys=(config.KeyRef("UP_KEY"),),
        options=config.AzureOptions(api_version="2024-06-01", deployments={"text-embed": "embed-deploy"}),
    )
    embedding = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}], "model": "x"}
    up = Upstream().add("az.test", json_reply(embedding), json_reply(openai_completion("azure says hi")))
    gw = gateway([azure], {"emb": [("az", "text-embed")], "chat": [("az", "gpt-4o")]})
    async with asgi_client(app_for(gw, up)) as client:
        emb = await client.post("/openai/v1/embeddings", json={"model": "emb", "input": "hello"})
        chat = await client.post("/anthropic/v1/messages", json={"model": "chat", "max_tokens": 5, "messages": USER})
    assert emb.json()["model"] == "emb" and emb.json()["data"][0]["embedding"] == [0.1]
    first, second = up.requests
    assert first.url.path == "/openai/deployments/embed-deploy/embeddings"
    assert first.url.params["api-version"] == "2024-06-01" and first.headers["api-key"] == "sk-test"
    assert second.url.path == "/openai/deployments/gpt-4o/chat/completions"
    assert chat.json()["content"][0]["text"] == "azure says hi"


async def test_openai_compatible_quirks():
    up = Upstream().add("groq.test", json_reply(openai_completion("g")))
    up.add("ollama.test", json_reply(openai_completion("o")))
    gw = gateway(
        [provider("groq", "groq", key_env="UP_KEY"), provider("ollama", "ollama")],
        {"g": [("groq", "llama")], "o": [("ollama", "qwen")]},
    )
    async with asgi_client(app_for(gw, up)) as client:
        for model in ("g", "o"):
            await client.post("/anthropic/v1/messages", json={"model": model, "max_tokens": 9, "messages": USER})
    groq_body, ollama_body = (r for r in up.requests)
    assert groq_body.headers["authorization"] == "Bearer sk-test"
    assert "authorization" not in ollama_body.headers
    assert up.bodies("groq.test")[0]["max_tokens"] == 9 and "max_completion_tokens" not in up.bodies("groq.test")[0]


async def test_anthropic_upstream_error_body_in_openai_dialect():
    up = Upstream().add("ant.test", json_reply(anthropic_message("x")))
    gw = gateway([provider("ant", "anthropic", key_env="UP_KEY")], {"c": [("ant", "claude-up")]})
    async with asgi_client(app_for(gw, up)) as client:
        response = await client.post("/v1/chat/completions", json={"model": "c", "messages": "not a list"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


class OnlyProviderB(Hooks):
    async def before_call(self, ctx: RequestContext, route: config.Route) -> None:
        ctx.provider_filter = lambda name: name == "b"


async def test_provider_filter_skips_disallowed_targets_and_falls_back():
    gw = gateway(
        [provider("a", "openai", key_env="UP_KEY"), provider("b", "openai", key_env="UP_KEY")],
        {"only-a": [("a", "m")], "mixed": [("a", "m"), ("b", "m")]},
    )
    up = Upstream(default={"b.test": lambda r: json_reply(openai_completion("b"))})
    async with asgi_client(app_for(gw, up, hooks=OnlyProviderB())) as client:
        denied = await client.post("/v1/chat/completions", json={"model": "only-a", "messages": USER})
        for _ in range(5):
            ok = await client.post("/v1/chat/completions", json={"model": "mixed", "messages": USER})
            assert ok.headers["x-bifrostc-provider"] == "b"
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    assert {r.url.host for r in up.requests} == {"b.test"}
