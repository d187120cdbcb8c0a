"""Shared HTTP mechanics for adapters: JSON POST, opened streams and error mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from bifrostc.runtime import config
from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.http import UpstreamReply, error_from_response, error_from_transport, post_upstream, timeout_for


class HttpAdapter:
    """Base for adapters that speak JSON over HTTP with the injected shared client."""

    default_base_url = ""

    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        self.provider = provider
        self.client = client
        self.timeout = timeout_for(provider.network)
        self._timeout_extension = self.timeout.as_dict()
        self.base_url = (provider.base_url or self.default_base_url).rstrip("/")
        self.static_headers = dict(provider.headers)
        self._parsed_urls: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = {}  # parse each URL once
        self._base_headers: dict[str | None, dict[str, str]] = {}  # per API key: client defaults + ours

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        raise NotImplementedError

    def _headers(self, api_key: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
        base = self._base_headers.get(api_key)
        if base is None:
            defaults = dict(self.client.headers)  # accept, accept-encoding, user-agent, as build_request adds
            base = {**defaults, "content-type": "application/json", **self.static_headers, **self.auth_headers(api_key)}
            self._base_headers[api_key] = base
        return {**base, **extra} if extra else base

    def _url(self, url: str, params: Mapping[str, str] | None) -> httpx.URL:
        key = (url, tuple(params.items()) if params else ())
        parsed = self._parsed_urls.get(key)
        if parsed is None:
            parsed = httpx.URL(url, params=params) if params else httpx.URL(url)
            self._parsed_urls[key] = parsed
        return parsed

    async def post_json(
        self,
        url: str,
        body: dict[str, Any],
        api_key: str | None,
        *,
        extra_headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.open(url, body, api_key, extra_headers=extra_headers, params=params)
        try:
            content = await response.aread()
        except httpx.TransportError as exc:
            raise error_from_transport(exc, self.provider.name) from exc
        finally:
            await response.aclose()
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(
                f"{self.provider.name} returned a body that is not JSON", status=502, provider=self.provider.name
            ) from exc

    async def open(
        self,
        url: str,
        body: dict[str, Any] | bytes,
        api_key: str | None,
        *,
        extra_headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> UpstreamReply:
        """Send and return the response with its body unread; error statuses raise UpstreamError."""
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        headers = self._headers(api_key, extra_headers)
        try:
            response = await post_upstream(
                self.client, self._url(url, params), content, headers, self._timeout_extension
            )
        except httpx.TransportError as exc:
            raise error_from_transport(exc, self.provider.name) from exc
        if response.status_code >= 400:
            try:
                error = await error_from_response(response, self.provider.name)
            except httpx.TransportError as exc:
                error = error_from_transport(exc, self.provider.name)
            finally:
                await response.aclose()
            raise error
        return response
