"""Google Vertex AI adapter: Gemini models via ``generateContent`` and Claude via Anthropic-on-Vertex.

Options: ``project`` (required), ``location`` (default ``us-central1``; ``global`` uses the global host),
``credentials_file`` (a service-account JSON; otherwise ``google.auth.default()``). Tokens are cached on the
adapter and refreshed in a worker thread (google-auth refresh is blocking I/O) under a lock, so concurrent
requests trigger one refresh. A given ``api_key`` (Vertex express mode) is sent instead of OAuth.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.errors import AuthenticationFailed, InvalidRequest
from bifrostc.runtime.providers import registry
from bifrostc.runtime.providers.gemini import (
    raise_google_error,
    send_generate_content,
    stream_generate_content,
    with_default_path,
)
from bifrostc.runtime.providers.native_http import iter_sse, relay_events, request_timeout, transport_errors
from bifrostc.runtime.translate import anthropic as anthropic_translate
from bifrostc.runtime.translate.bedrock import MODEL_IDS
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
ANTHROPIC_VERSION = "vertex-2023-10-16"


class TokenCredentials(Protocol):
    """The part of ``google.auth.credentials.Credentials`` we use (tests pass a fake)."""

    token: str | None

    @property
    def valid(self) -> bool: ...

    def refresh(self, request: Any) -> None: ...


def vertex_claude_model(model: str) -> str:
    """``claude-sonnet-4-5`` / ``claude-sonnet-4-5-20250929`` -> ``claude-sonnet-4-5@20250929``."""
    if "@" in model:
        return model
    base = MODEL_IDS.get(model, "")
    if base.startswith("anthropic."):
        model = base.removeprefix("anthropic.").removesuffix("-v1:0")
    name, _, date = model.rpartition("-")
    return f"{name}@{date}" if len(date) == 8 and date.isdigit() else model


def is_claude(model: str) -> bool:
    return model.startswith("claude")


class VertexAdapter:
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        self.provider = provider
        self.client = client
        self.options = provider.options_as(config.VertexOptions)
        self.project, self.location = self.options.project, self.options.location
        default_url = registry.default_base_url(provider.type, self.options)
        self.base_url = with_default_path(provider.base_url or default_url, default_url, "/v1")
        self.credentials: TokenCredentials | None = None  # resolved on first use; tests may inject one
        self._refresh_lock = asyncio.Lock()

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        headers = await self._headers(api_key)
        if is_claude(model):
            return await self._send_claude(request, model, headers)
        url = self._model_url("google", model, "generateContent")
        return await send_generate_content(
            self.client, self.provider, url=url, headers=headers, request=request, model=model
        )

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        headers = await self._headers(api_key)
        if is_claude(model):
            events = self._stream_claude(request, model, headers)
        else:
            url = self._model_url("google", model, "streamGenerateContent") + "?alt=sse"
            events = stream_generate_content(
                self.client, self.provider, url=url, headers=headers, request=request, model=model
            )
        async for event in events:
            yield event

    def _model_url(self, publisher: str, model: str, method: str) -> str:
        if not self.project:
            raise InvalidRequest(f"{self.provider.name}: Vertex AI needs the provider option 'project'")
        location = f"projects/{self.project}/locations/{self.location}"
        return f"{self.base_url}/{location}/publishers/{publisher}/models/{model}:{method}"

    def _claude_body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        body = anthropic_translate.build_request(request, model=model)
        body.pop("model", None)  # the model is in the URL; Vertex rejects it in the body
        body["anthropic_version"] = ANTHROPIC_VERSION
        body["stream"] = stream
        return body

    async def _send_claude(self, request: ChatRequest, model: str, headers: dict[str, str]) -> ChatResponse:
        url = self._model_url("anthropic", vertex_claude_model(model), "rawPredict")
        body = self._claude_body(request, model, stream=False)
        timeout = request_timeout(self.provider.network)
        with transport_errors(self.provider.name):
            response = await self.client.post(url, json=body, headers=headers, timeout=timeout)
            await raise_google_error(response, self.provider.name)
        return anthropic_translate.parse_response(response.json())

    async def _stream_claude(
        self, request: ChatRequest, model: str, headers: dict[str, str]
    ) -> AsyncIterator[StreamEvent]:
        url = self._model_url("anthropic", vertex_claude_model(model), "streamRawPredict")
        body = self._claude_body(request, model, stream=True)
        parser = anthropic_translate.StreamParser()
        timeout = request_timeout(self.provider.network)
        with transport_errors(self.provider.name):
            async with self.client.stream("POST", url, json=body, headers=headers, timeout=timeout) as response:
                await raise_google_error(response, self.provider.name)

                def feed(item: tuple[str, dict[str, Any]]) -> list[StreamEvent]:
                    return parser.feed(*item)

                async for event in relay_events(iter_sse(response), feed, parser.finish, self.provider.name):
                    yield event

    async def _headers(self, api_key: str | None) -> dict[str, str]:
        headers = dict(self.provider.headers)
        if api_key:
            headers["x-goog-api-key"] = api_key
        else:
            headers["authorization"] = f"Bearer {await self.access_token()}"
        return headers

    async def access_token(self) -> str:
        """A valid OAuth token, refreshing (once, in a thread) when the cached one is missing or expired."""
        async with self._refresh_lock:
            if self.credentials is None:
                self.credentials = await asyncio.to_thread(self._load_credentials)
            if not self.credentials.valid or not self.credentials.token:
                await self._refresh(self.credentials)
            if not self.credentials.token:
                raise AuthenticationFailed(f"{self.provider.name}: Google credentials produced no access token")
            return self.credentials.token

    async def _refresh(self, credentials: TokenCredentials) -> None:
        from google.auth.exceptions import GoogleAuthError

        try:
            await asyncio.to_thread(credentials.refresh, _google_request())
        except GoogleAuthError as exc:
            raise AuthenticationFailed(f"{self.provider.name}: refreshing the Google token failed ({exc})") from exc

    def _load_credentials(self) -> TokenCredentials:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
        from google.oauth2 import service_account

        path = self.options.credentials_file
        try:
            if path:
                return service_account.Credentials.from_service_account_file(path, scopes=SCOPES)
            credentials, _ = google.auth.default(scopes=SCOPES)
        except (DefaultCredentialsError, OSError, ValueError) as exc:
            raise AuthenticationFailed(f"{self.provider.name}: no usable Google credentials ({exc})") from exc
        return credentials


def _google_request() -> Any:
    from google.auth.transport.requests import Request

    return Request()
