"""One provider family's refusing fake behind a real gateway app, for the request-rule tests: what the client
sees (status, body) and what the fake was sent and would have refused (`Script.bodies`, `Script.refused`)."""

from __future__ import annotations

import contextlib
import json
import pathlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from conformance.upstream import Script, closed_port, fake_upstream
from conformance.wire import ALL_FAMILIES

from bifrostc.runtime import config
from bifrostc.runtime.app import create_app

NETWORK = config.Network(connect_timeout=2.0, read_timeout=5.0, total_timeout=10.0, max_retries=0, backoff_max=0.05)
FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures" / "claude_code"


@dataclass(frozen=True)
class Target:
    """A provider type, the upstream model and the options: one row of what every request must pass."""

    family: str  # the fake (tests/conformance/wire.py ALL_FAMILIES)
    model: str
    options: config.ProviderOptions | None = None


# Every provider family, at the model class that enforces the most (reasoning models, thinking mode).
TARGETS = {
    "openai-o-series": Target("openai", "o4-mini"),
    "openai-chat": Target("openai", "gpt-4o"),
    "azure-gpt-5": Target("azure", "gpt-5", config.AzureOptions()),
    "openai-responses": Target("openai", "gpt-5-codex"),  # a Responses-only model: /v1/responses
    "azure-responses": Target("azure", "o3-pro", config.AzureOptions()),
    "deepseek-thinking": Target("deepseek", "deepseek-v4-pro"),
    "mistral": Target("mistral", "mistral-large-latest"),
    "cerebras": Target("cerebras", "gpt-oss-120b"),
    "groq": Target("groq", "openai/gpt-oss-120b"),
    "openrouter": Target("openrouter", "anthropic/claude-sonnet-4.5"),
    "vllm-qwen": Target("vllm", "Qwen/Qwen3-Coder-30B-A3B-Instruct"),
    "anthropic": Target("anthropic", "claude-sonnet-4-5"),
    "bedrock-converse": Target("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", config.BedrockOptions()),
    "bedrock-invoke": Target(
        "bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", config.BedrockOptions(api="invoke")
    ),
    "vertex-gemini": Target("vertex", "gemini-2.5-pro", config.VertexOptions(project="p")),
    "vertex-claude": Target("vertex", "claude-sonnet-4-5@20250929", config.VertexOptions(project="p")),
    "gemini": Target("gemini", "gemini-2.5-pro"),
    "cohere": Target("cohere", "command-a-03-2025"),
}


def provider(name: str, target: Target, base: str) -> config.Provider:
    family = ALL_FAMILIES[target.family]
    return config.Provider(
        name=name,
        type=target.family,
        base_url=base + family.base_path,
        keys=(config.KeyRef(env="UP_KEY"),),
        network=NETWORK,
        options=target.options,
    )


@dataclass
class Rig:
    script: Script
    client: httpx.AsyncClient
    gateway: config.Gateway

    async def anthropic(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post("/anthropic/v1/messages", json={**body, "model": "r"}, headers=headers or {})

    async def openai(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/v1/chat/completions", json={**body, "model": "r"})


@contextlib.asynccontextmanager
async def rig(target: Target, *, fallback_from: Target | None = None) -> AsyncIterator[Rig]:
    """Route ``r`` to ``target``; with ``fallback_from``, ``r`` first tries that family at a refused port and
    falls back to ``target`` (a conversation that moves between families mid-way)."""
    script = Script(ALL_FAMILIES[target.family])
    async with fake_upstream(script) as base:
        providers = {"up": provider("up", target, base)}
        targets = (config.Target(provider="up", model=target.model),)
        routes = {"r": config.Route(name="r", targets=targets)}
        if fallback_from is not None:
            providers["first"] = provider("first", fallback_from, f"http://127.0.0.1:{closed_port()}")
            first = (config.Target(provider="first", model=fallback_from.model),)
            routes = {
                "r": config.Route(name="r", targets=first, fallbacks=("next",)),
                "next": config.Route(name="next", targets=targets),
            }
        gateway = config.Gateway(providers=providers, routes=routes)
        app = create_app(gateway, environ={"UP_KEY": "sk-test"})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=30) as client:
            try:
                yield Rig(script, client, gateway)
            finally:
                await app.state.http_client.aclose()


def claude_code_requests() -> dict[str, dict[str, Any]]:
    """The captured Claude Code requests (tests/fixtures/claude_code/capture.py), by fixture name."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}


def claude_headers(captured: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in captured["headers"].items() if k in ("anthropic-beta", "anthropic-version")}
