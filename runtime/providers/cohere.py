"""Cohere v2 chat adapter (``https://api.cohere.com/v2/chat``, Bearer key)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.providers import registry
from bifrostc.runtime.providers.gemini import with_default_path
from bifrostc.runtime.providers.http_base import HttpAdapter
from bifrostc.runtime.translate import cohere as cohere_translate
from bifrostc.runtime.translate.cohere_stream import StreamParser
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

DEFAULT_BASE_URL = registry.default_base_url("cohere")
STREAM_HEADERS = {"accept": "text/event-stream"}


class CohereAdapter(HttpAdapter):
    default_base_url = DEFAULT_BASE_URL

    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        super().__init__(provider, client)
        self.chat_url = with_default_path(provider.base_url, DEFAULT_BASE_URL, "/v2") + "/chat"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return headers

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        body = cohere_translate.build_request(request, model=model)
        body["stream"] = False
        return cohere_translate.parse_response(await self.post_json(self.chat_url, body, api_key), model=model)

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        body = cohere_translate.build_request(request, model=model)
        body["stream"] = True
        response = await self.open(self.chat_url, body, api_key, extra_headers=STREAM_HEADERS)
        parser = StreamParser(model=model)
        async for event in self.relay_sse(response, lambda frame: parser.feed(frame[1]), parser.finish):
            yield event
