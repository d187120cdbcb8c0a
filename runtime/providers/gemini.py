"""Google Gemini API adapter (``generativelanguage.googleapis.com``, ``x-goog-api-key`` auth).

The ``generateContent`` round trip (:func:`send_generate_content`, :func:`stream_generate_content`) is shared
with the Vertex adapter, which differs only in URL and credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.http import UpstreamReply
from bifrostc.runtime.providers import registry
from bifrostc.runtime.providers.http_base import HttpAdapter
from bifrostc.runtime.translate import anthropic as anthropic_translate
from bifrostc.runtime.translate import gemini as gemini_translate
from bifrostc.runtime.translate.gemini_stream import StreamParser
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

DEFAULT_BASE_URL = registry.default_base_url("gemini")
SSE_PARAMS = {"alt": "sse"}


def with_default_path(base_url: str, default: str, version_path: str) -> str:
    """Use ``default`` for an empty base URL and add ``version_path`` when the URL has no path of its own."""
    url = (base_url or default).rstrip("/")
    return url + version_path if urlsplit(url).path in ("", "/") else url


async def send_generate_content(
    adapter: HttpAdapter,
    url: str,
    request: ChatRequest,
    *,
    model: str,
    api_key: str | None,
    extra_headers: Mapping[str, str] | None = None,
) -> ChatResponse:
    body = gemini_translate.build_request(request, model=model)
    raw = await adapter.post_json(url, body, api_key, extra_headers=extra_headers)
    return gemini_translate.parse_response(raw, model=model)


async def stream_generate_content(
    adapter: HttpAdapter,
    url: str,
    request: ChatRequest,
    *,
    model: str,
    api_key: str | None,
    extra_headers: Mapping[str, str] | None = None,
) -> AsyncIterator[StreamEvent]:
    """`streamGenerateContent?alt=sse`: one GenerateContentResponse JSON per SSE event."""
    body = gemini_translate.build_request(request, model=model)
    response = await adapter.open(url, body, api_key, extra_headers=extra_headers, params=SSE_PARAMS)
    parser = StreamParser(model=model)
    async for event in adapter.relay_sse(response, lambda frame: parser.feed(frame[1]), parser.finish):
        yield event


def count_request(body: dict[str, Any], model: str, *, vertex: bool) -> dict[str, Any]:
    """An Anthropic count_tokens body as Gemini's ``countTokens`` request: the Gemini API takes the whole
    ``generateContentRequest`` (with its ``model``), Vertex AI the request's fields at the top level."""
    built = gemini_translate.build_request(anthropic_translate.parse_request(body), model=model)
    counted = {k: built[k] for k in ("contents", "systemInstruction", "tools") if built.get(k)}
    if vertex:
        return counted
    return {"generateContentRequest": {"model": f"models/{model}", **counted}}


async def count_tokens(
    adapter: HttpAdapter, url: str, request: dict[str, Any], api_key: str | None, **extra: Any
) -> dict[str, Any]:
    raw = await adapter.post_json(url, request, api_key, **extra)
    total = raw.get("totalTokens")
    if not isinstance(total, int) or isinstance(total, bool):
        raise UpstreamError(f"{adapter.provider.name}: countTokens answered without totalTokens", status=502)
    return {"input_tokens": total}


class GeminiAdapter(HttpAdapter):
    default_base_url = DEFAULT_BASE_URL
    dialect = "gemini"  # a Gemini API client's body is sent as it is (runtime/dialects/gemini.py)

    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        super().__init__(provider, client)
        self.base_url = with_default_path(provider.base_url, DEFAULT_BASE_URL, "/v1beta")

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": api_key} if api_key else {}

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        url = f"{self.base_url}/models/{model}:generateContent"
        return await send_generate_content(self, url, request, model=model, api_key=api_key)

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        url = f"{self.base_url}/models/{model}:streamGenerateContent"
        async for event in stream_generate_content(self, url, request, model=model, api_key=api_key):
            yield event

    async def count_tokens(
        self, body: dict[str, Any], *, model: str, api_key: str | None, client_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """``models/{model}:countTokens``, the prompt as generateContent would send it."""
        url = f"{self.base_url}/models/{model}:countTokens"
        return await count_tokens(self, url, count_request(body, model, vertex=False), api_key)

    async def passthrough(
        self,
        body: dict[str, Any],
        *,
        model: str,
        api_key: str | None,
        client_headers: Mapping[str, str],
        stream: bool = False,
        raw: bytes = b"",  # the client's bytes of `body` (sent from only by the Anthropic adapter)
    ) -> UpstreamReply:
        """A Gemini client's body, unchanged (the model is in the URL); the caller relays the raw bytes."""
        method = "streamGenerateContent" if stream else "generateContent"
        url = f"{self.base_url}/models/{model}:{method}"
        return await self.open(url, body, api_key, params=SSE_PARAMS if stream else None)

    async def count_tokens_native(self, body: dict[str, Any], *, model: str, api_key: str | None) -> dict[str, Any]:
        """``models/{model}:countTokens`` with a Gemini client's own body."""
        return await self.post_json(f"{self.base_url}/models/{model}:countTokens", body, api_key)
