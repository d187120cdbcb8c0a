"""Anthropic Messages API adapter, plus same-dialect passthrough and count_tokens forwarding."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from bifrostc.runtime.http import UpstreamReply
from bifrostc.runtime.providers import registry, rules
from bifrostc.runtime.providers.http_base import HttpAdapter
from bifrostc.runtime.translate.claude_history import fit_for_claude
from bifrostc.runtime.transport.request_bytes import with_model
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

ANTHROPIC_VERSION = "2023-06-01"


def forwarded_headers(client_headers: Mapping[str, str]) -> dict[str, str]:
    """Every `anthropic-*` header of the client (version, betas and whatever Anthropic adds next) goes to an
    Anthropic upstream unchanged: they select API behaviour; credentials travel in other headers."""
    forwarded: dict[str, str] = {}
    for name, value in client_headers.items():  # Starlette's Headers repeat a name sent twice: join them
        key = name.lower()
        if key.startswith("anthropic-"):
            forwarded[key] = f"{forwarded[key]},{value}" if key in forwarded else value
    return forwarded


class AnthropicAdapter(HttpAdapter):
    default_base_url = registry.default_base_url("anthropic")
    dialect = "anthropic"

    def __init__(self, provider: Any, client: httpx.AsyncClient) -> None:
        super().__init__(provider, client)
        # Accept base URLs given with or without the /v1 suffix.
        self.base_url = self.base_url.removesuffix("/v1")
        self.messages_url = f"{self.base_url}/v1/messages"
        self.rules = registry.provider_type(provider.type).rules
        # A third-party Anthropic-compatible host takes only user and assistant turns (providers/rules.py).
        self.third_party = not self.base_url.startswith(registry.default_base_url("anthropic"))

    def forwarded(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        """The client headers that select API behaviour, betas filtered to what this host accepts."""
        forwarded = forwarded_headers(client_headers)
        if "anthropic-beta" in forwarded:
            betas = rules.filter_betas(self.rules, forwarded.pop("anthropic-beta"))
            if betas:
                forwarded["anthropic-beta"] = ",".join(betas)
        return forwarded

    def fit(self, body: dict[str, Any]) -> dict[str, Any]:
        fitted = fit_for_claude(body)  # history from other model families, made acceptable to Claude
        fitted = rules.fit_anthropic_ids(rules.ANTHROPIC_IDS, fitted)
        return rules.fold_anthropic_system(fitted) if self.third_party else fitted

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        from bifrostc.runtime.translate import anthropic as dialect

        body = dialect.build_request(request, model=model)
        body["stream"] = False
        return dialect.parse_response(await self.post_json(self.messages_url, body, api_key))

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        from bifrostc.runtime.translate import anthropic as dialect

        body = dialect.build_request(request, model=model)
        body["stream"] = True
        response = await self.open(self.messages_url, body, api_key)
        parser = dialect.StreamParser()
        async for event in self.relay_sse(response, lambda frame: parser.feed(*frame), parser.finish):
            yield event

    async def passthrough(
        self,
        body: dict[str, Any],
        *,
        model: str,
        api_key: str | None,
        client_headers: Mapping[str, str],
        stream: bool = False,  # the body says it
        raw: bytes = b"",  # the client's bytes of `body`, sent as they are when only the model changes
    ) -> UpstreamReply:
        """Forward the client's body with only `model` rewritten; the caller relays the raw bytes."""
        forwarded = self.forwarded(client_headers)
        fitted = self.fit(body)
        as_sent = with_model(raw, body.get("model"), model) if raw and fitted is body else None
        content = as_sent if as_sent is not None else {**fitted, "model": model}
        return await self.open(self.messages_url, content, api_key, extra_headers=forwarded)

    async def count_tokens(
        self, body: dict[str, Any], *, model: str, api_key: str | None, client_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        forwarded = self.forwarded(client_headers)
        return await self.post_json(
            f"{self.messages_url}/count_tokens",
            {**self.fit(body), "model": model},
            api_key,
            extra_headers=forwarded,
        )
