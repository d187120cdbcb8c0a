"""Cohere v2 chat adapter (``https://api.cohere.com/v2/chat``, Bearer key)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.providers import registry
from bifrostc.runtime.providers.gemini import with_default_path
from bifrostc.runtime.providers.native_http import raise_for_status, relay_events, request_timeout, transport_errors
from bifrostc.runtime.translate import cohere as cohere_translate
from bifrostc.runtime.translate.cohere_stream import StreamParser
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

DEFAULT_BASE_URL = registry.default_base_url("cohere")


class CohereAdapter:
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        self.provider = provider
        self.client = client
        self.url = with_default_path(provider.base_url, DEFAULT_BASE_URL, "/v2") + "/chat"

    def _headers(self, api_key: str | None) -> dict[str, str]:
        headers = {**dict(self.provider.headers), "accept": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return headers

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        body = cohere_translate.build_request(request, model=model)
        body["stream"] = False
        timeout = request_timeout(self.provider.network)
        with transport_errors(self.provider.name):
            response = await self.client.post(self.url, json=body, headers=self._headers(api_key), timeout=timeout)
            await raise_for_status(response, self.provider.name)
        return cohere_translate.parse_response(response.json(), model=model)

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        body = cohere_translate.build_request(request, model=model)
        body["stream"] = True
        headers = {**self._headers(api_key), "accept": "text/event-stream"}
        parser = StreamParser(model=model)
        timeout = request_timeout(self.provider.network)
        with transport_errors(self.provider.name):
            async with self.client.stream("POST", self.url, json=body, headers=headers, timeout=timeout) as response:
                await raise_for_status(response, self.provider.name)
                async for event in relay_events(
                    iter_stream_events(response), parser.feed, parser.finish, self.provider.name
                ):
                    yield event


async def iter_stream_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Cohere streams SSE (``data: {...}``); each JSON object carries its own ``type``, so we read data lines
    and also accept bare JSON lines (the v1-style framing some proxies keep)."""
    async for line in response.aiter_lines():
        text = line.removeprefix("data:").strip() if line.startswith("data:") else line.strip()
        if not text.startswith("{"):
            continue  # event:, id:, comments, blank separators, [DONE]
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            yield parsed
