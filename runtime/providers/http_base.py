"""The adapters' side of the one upstream transport: every family's HTTP goes through `HttpAdapter`.

An adapter builds its URL, body and auth headers; `HttpAdapter` posts them on the shared pool's fast path
(`http.post_upstream`), maps every failure with `transport.errors`, and reads stream bodies with
`transport.readers` under the first-event rule of `transport.relay`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import httpx
import orjson

from bifrostc.runtime import config
from bifrostc.runtime.errors import anthropic_error_type
from bifrostc.runtime.http import UpstreamReply, post_upstream, timeout_for
from bifrostc.runtime.translate.common import too_deep
from bifrostc.runtime.transport import credentials
from bifrostc.runtime.transport.errors import error_from_response, error_from_transport
from bifrostc.runtime.transport.passthrough import check_json, error_in_body
from bifrostc.runtime.transport.readers import Frame, sse_json
from bifrostc.runtime.transport.relay import relay
from bifrostc.runtime.types import StreamError, StreamEvent


class HttpAdapter:
    """Base for adapters that speak JSON over HTTP with the injected shared client."""

    default_base_url = ""

    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        self.provider = provider
        self.client = client
        self.timeout = timeout_for(provider.network)
        self._timeout_extension = self.timeout.as_dict()
        self._pool = (provider.name, provider.network.max_connections)  # this provider's own connection pool
        self.base_url = (provider.base_url or self.default_base_url).rstrip("/")
        self.static_headers = dict(provider.headers)
        self._parsed_urls: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = {}  # parse each URL once
        self._base_headers: dict[str | None, dict[str, str]] = {}  # per API key: client defaults + ours

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """Headers that depend only on the key (cached per key); per-request ones go in `extra_headers`."""
        raise NotImplementedError

    def _headers(self, api_key: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        forwarded = credentials.current(self.provider.name)
        if forwarded is not None:  # the client's own credential (auth: passthrough), never cached, never mixed
            return {**self._keyed(None), **(extra or {}), **forwarded}
        base = self._keyed(api_key)
        return {**base, **extra} if extra else base

    def _keyed(self, api_key: str | None) -> dict[str, str]:
        base = self._base_headers.get(api_key)
        if base is None:
            defaults = dict(self.client.headers)  # accept, accept-encoding, user-agent, as build_request adds
            base = {**defaults, "content-type": "application/json", **self.static_headers, **self.auth_headers(api_key)}
            self._base_headers[api_key] = base
        return base

    def _url(self, url: str, params: Mapping[str, str] | None = None) -> httpx.URL:
        key = (url, tuple(params.items()) if params else ())
        parsed = self._parsed_urls.get(key)
        if parsed is None:
            parsed = httpx.URL(url, params=params) if params else httpx.URL(url)
            self._parsed_urls[key] = parsed
        return parsed

    async def post(self, url: httpx.URL, content: bytes, headers: Mapping[str, str]) -> UpstreamReply:
        """POST exactly these bytes and headers (a signed request); error statuses raise UpstreamError."""
        name = self.provider.name
        try:
            response = await post_upstream(self.client, url, content, headers, self._timeout_extension, self._pool)
        except httpx.TransportError as exc:
            raise error_from_transport(exc, name) from exc
        if response.status_code >= 400:
            try:
                error = await error_from_response(response, name)
            finally:
                await response.aclose()
            raise error
        return response

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
        try:
            content = body if isinstance(body, bytes) else orjson.dumps(body)
        except orjson.JSONEncodeError:  # a relayed body whose nesting the gateway did not check (relay_parse.py)
            raise too_deep() from None
        return await self.post(self._url(url, params), content, self._headers(api_key, extra_headers))

    async def read_json(self, response: UpstreamReply) -> dict[str, Any]:
        """A 2xx body as a JSON object; HTML, malformed JSON or an error object inside it raise UpstreamError."""
        try:
            content = await response.aread()
        except httpx.TransportError as exc:
            raise error_from_transport(exc, self.provider.name) from exc
        finally:
            await response.aclose()
        data: dict[str, Any] = check_json(content, response.headers.get("content-type", ""), self.provider.name)
        return data

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
        return await self.read_json(response)

    def relay_sse(
        self,
        response: UpstreamReply,
        feed: Callable[[Frame], Iterable[StreamEvent]],
        finish: Callable[[], Iterable[StreamEvent]],
    ) -> AsyncIterator[StreamEvent]:
        """A text/event-stream body as canonical events, under the first-event rule (`transport.relay`). An error
        object in an event (each family's shape, `passthrough.error_in_body`) is an error event."""

        def checked(frame: Frame) -> Iterable[StreamEvent]:
            found = error_in_body(frame[1])
            if found is None:
                return feed(frame)
            status, message = found
            return (StreamError(anthropic_error_type(status), message, status),)

        return relay(response, sse_json(response), checked, finish, self.provider.name)

    def relay_frames(
        self,
        response: UpstreamReply,
        frames: AsyncIterator[Frame],
        feed: Callable[[Frame], Iterable[StreamEvent]],
        finish: Callable[[], Iterable[StreamEvent]],
    ) -> AsyncIterator[StreamEvent]:
        """Decoded frames of any other framing (Bedrock's event stream) under the same rule."""
        return relay(response, frames, feed, finish, self.provider.name)
