"""Google Gemini API adapter (``generativelanguage.googleapis.com``, ``x-goog-api-key`` auth).

The ``generateContent`` round trip (:func:`send_generate_content`, :func:`stream_generate_content`) is shared
with the Vertex adapter, which differs only in URL and credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.providers import registry
from bifrostc.runtime.providers.native_http import (
    iter_sse,
    raise_for_status,
    relay_events,
    request_timeout,
    transport_errors,
)
from bifrostc.runtime.translate import gemini as gemini_translate
from bifrostc.runtime.translate.gemini_stream import StreamParser
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

DEFAULT_BASE_URL = registry.default_base_url("gemini")
_DURATION = re.compile(r"^([0-9.]+)s$")


def with_default_path(base_url: str, default: str, version_path: str) -> str:
    """Use ``default`` for an empty base URL and add ``version_path`` when the URL has no path of its own."""
    url = (base_url or default).rstrip("/")
    return url + version_path if urlsplit(url).path in ("", "/") else url


def google_retry_delay(body: bytes | None) -> float | None:
    """``retryDelay`` from a google.rpc.RetryInfo error detail ("30s"), which Google sends instead of a header."""
    try:
        data = json.loads(body or b"")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        match = _DURATION.match(str(detail.get("retryDelay", ""))) if isinstance(detail, dict) else None
        if match:
            return float(match.group(1))
    return None


async def raise_google_error(response: httpx.Response, provider: str) -> None:
    try:
        await raise_for_status(response, provider)
    except UpstreamError as exc:
        if exc.retry_after is None:
            exc.retry_after = google_retry_delay(exc.body)
        raise


async def send_generate_content(
    client: httpx.AsyncClient,
    provider: config.Provider,
    *,
    url: str,
    headers: Mapping[str, str],
    request: ChatRequest,
    model: str,
) -> ChatResponse:
    body = gemini_translate.build_request(request, model=model)
    with transport_errors(provider.name):
        response = await client.post(url, json=body, headers=headers, timeout=request_timeout(provider.network))
        await raise_google_error(response, provider.name)
    return gemini_translate.parse_response(response.json(), model=model)


async def stream_generate_content(
    client: httpx.AsyncClient,
    provider: config.Provider,
    *,
    url: str,
    headers: Mapping[str, str],
    request: ChatRequest,
    model: str,
) -> AsyncIterator[StreamEvent]:
    body = gemini_translate.build_request(request, model=model)
    parser = StreamParser(model=model)
    timeout = request_timeout(provider.network)
    with transport_errors(provider.name):
        async with client.stream("POST", url, json=body, headers=headers, timeout=timeout) as response:
            await raise_google_error(response, provider.name)
            chunks = (chunk async for _, chunk in iter_sse(response))
            async for event in relay_events(chunks, parser.feed, parser.finish, provider.name):
                yield event


class GeminiAdapter:
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        self.provider = provider
        self.client = client
        self.base_url = with_default_path(provider.base_url, DEFAULT_BASE_URL, "/v1beta")

    def _headers(self, api_key: str | None) -> dict[str, str]:
        headers = dict(self.provider.headers)
        if api_key:
            headers["x-goog-api-key"] = api_key
        return headers

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        url = f"{self.base_url}/models/{model}:generateContent"
        return await send_generate_content(
            self.client, self.provider, url=url, headers=self._headers(api_key), request=request, model=model
        )

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        url = f"{self.base_url}/models/{model}:streamGenerateContent?alt=sse"
        async for event in stream_generate_content(
            self.client, self.provider, url=url, headers=self._headers(api_key), request=request, model=model
        ):
            yield event
