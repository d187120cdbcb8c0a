"""The provider contract: one adapter class per provider family, constructed once per configured provider.

Adapters translate with the pure functions in ``bifrostc.runtime.translate`` and do HTTP through
``providers.http_base.HttpAdapter`` (the one upstream transport, on the shared injected client); they never
create a client of their own. Errors are raised as ``bifrostc.runtime.errors.UpstreamError`` with the upstream
status (and retry-after) preserved, by ``transport.errors``; a stream fails by raising before its first event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent


class ProviderAdapter(Protocol):
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None: ...

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        """Non-streaming call; ``model`` is the upstream model id, ``api_key`` the resolved secret."""
        ...

    def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        """Streaming call yielding canonical events; must raise UpstreamError before the first event on failure."""
        ...
