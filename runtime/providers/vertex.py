"""Google Vertex AI adapter: Gemini models via ``generateContent`` and Claude via Anthropic-on-Vertex.

Options: ``project`` (required), ``location`` (default ``us-central1``; ``global`` uses the global host),
``credentials_file`` (a service-account JSON; otherwise ``google.auth.default()``). Tokens are cached on the
adapter and refreshed in a worker thread (google-auth refresh is blocking I/O) under a lock, so concurrent
requests trigger one refresh. A given ``api_key`` (Vertex express mode) is sent instead of OAuth.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.errors import AuthenticationFailed, InvalidRequest
from bifrostc.runtime.providers import registry, rules
from bifrostc.runtime.providers.gemini import (
    count_request,
    count_tokens,
    send_generate_content,
    stream_generate_content,
    with_default_path,
)
from bifrostc.runtime.providers.http_base import HttpAdapter
from bifrostc.runtime.translate import anthropic as anthropic_translate
from bifrostc.runtime.translate.bedrock import MODEL_IDS
from bifrostc.runtime.translate.claude_history import fit_for_claude
from bifrostc.runtime.translate.common import ANTHROPIC_BETAS
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


class VertexAdapter(HttpAdapter):
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        super().__init__(provider, client)
        self.options = provider.options_as(config.VertexOptions)
        self.project, self.location = self.options.project, self.options.location
        default_url = registry.default_base_url(provider.type, self.options)
        self.base_url = with_default_path(provider.base_url or default_url, default_url, "/v1")
        self.credentials: TokenCredentials | None = None  # resolved on first use; tests may inject one
        self._refresh_lock = asyncio.Lock()

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": api_key} if api_key else {}  # express mode; otherwise OAuth per request

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        oauth = await self._oauth(api_key)
        if is_claude(model):
            url = self._model_url("anthropic", vertex_claude_model(model), "rawPredict")
            body, headers = self._claude_body(request, model, stream=False)
            raw = await self.post_json(url, body, api_key, extra_headers={**(oauth or {}), **headers})
            return anthropic_translate.parse_response(raw)
        url = self._model_url("google", model, "generateContent")
        return await send_generate_content(self, url, request, model=model, api_key=api_key, extra_headers=oauth)

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        oauth = await self._oauth(api_key)
        if is_claude(model):
            events = self._stream_claude(request, model, api_key, oauth)
        else:
            url = self._model_url("google", model, "streamGenerateContent")
            events = stream_generate_content(self, url, request, model=model, api_key=api_key, extra_headers=oauth)
        async for event in events:
            yield event

    async def count_tokens(
        self, body: dict[str, Any], *, model: str, api_key: str | None, client_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """Gemini: ``:countTokens``; Claude: Anthropic's count_tokens at ``count-tokens:rawPredict``."""
        oauth = await self._oauth(api_key)
        if is_claude(model):
            url = self._model_url("anthropic", "count-tokens", "rawPredict")
            counted = {**fit_for_claude(body), "model": vertex_claude_model(model)}
            raw: dict[str, Any] = await self.post_json(url, counted, api_key, extra_headers=oauth)
            return raw
        url = self._model_url("google", model, "countTokens")
        return await count_tokens(self, url, count_request(body, model, vertex=True), api_key, extra_headers=oauth)

    def _model_url(self, publisher: str, model: str, method: str) -> str:
        if not self.project:
            raise InvalidRequest(f"{self.provider.name}: Vertex AI needs the provider option 'project'")
        location = f"projects/{self.project}/locations/{self.location}"
        return f"{self.base_url}/{location}/publishers/{publisher}/models/{model}:{method}"

    def _claude_body(self, request: ChatRequest, model: str, *, stream: bool) -> tuple[dict[str, Any], dict[str, str]]:
        """The rawPredict body (the model is in the URL; Vertex rejects it in the body) and its beta header, with
        only the fields and betas Vertex accepts (providers/rules.py VERTEX)."""
        body = anthropic_translate.build_request(request, model=model)
        body["anthropic_version"] = ANTHROPIC_VERSION
        body["stream"] = stream
        betas = rules.filter_betas(rules.VERTEX, request.extra.get(ANTHROPIC_BETAS))
        rules.fit_anthropic_body(rules.VERTEX, body, betas)
        return body, ({"anthropic-beta": ",".join(betas)} if betas else {})

    async def _stream_claude(
        self, request: ChatRequest, model: str, api_key: str | None, oauth: dict[str, str] | None
    ) -> AsyncIterator[StreamEvent]:
        url = self._model_url("anthropic", vertex_claude_model(model), "streamRawPredict")
        body, headers = self._claude_body(request, model, stream=True)
        response = await self.open(url, body, api_key, extra_headers={**(oauth or {}), **headers})
        parser = anthropic_translate.StreamParser()
        async for event in self.relay_sse(response, lambda frame: parser.feed(*frame), parser.finish):
            yield event

    async def _oauth(self, api_key: str | None) -> dict[str, str] | None:
        """The OAuth bearer header, per request (the token is refreshed); None in express mode (an API key)."""
        return None if api_key else {"authorization": f"Bearer {await self.access_token()}"}

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
                found: TokenCredentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                    path, scopes=SCOPES
                )
                return found
            credentials, _ = google.auth.default(scopes=SCOPES)
        except (DefaultCredentialsError, OSError, ValueError) as exc:
            raise AuthenticationFailed(f"{self.provider.name}: no usable Google credentials ({exc})") from exc
        return credentials


def _google_request() -> Any:
    from google.auth.transport.requests import Request

    return Request()
