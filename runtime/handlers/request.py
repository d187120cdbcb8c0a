"""The chat endpoints' request: Starlette's Request whose headers are indexed once.

A chat request reads its headers about twenty times (the key, the session and agent hints, content-length,
anthropic-beta, what is forwarded upstream), and each lookup in Starlette's Headers lowers and encodes the name
and scans the whole list in Python, an absent name through a raised KeyError. `ClientHeaders` is the same class
(`isinstance(h, Headers)`, `raw`, `getlist` and `items()` with repeats all as Starlette's) with one dict from
name to the first value, so a lookup is a dict get.
"""

from __future__ import annotations

from typing import Any, overload

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send


class ClientHeaders(Headers):
    """Starlette's Headers over an ASGI scope (names lower-case, as servers give them), the first of a
    repeated name answering `[]`, `get` and `in`, as Starlette's own lookups do."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        self._first: dict[bytes, bytes] = dict(reversed(self._list))  # the first of a repeated name wins

    def __getitem__(self, key: str) -> str:
        value = self._first.get(key.lower().encode("latin-1"))
        if value is None:
            raise KeyError(key)
        return value.decode("latin-1")

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower().encode("latin-1") in self._first

    @overload  # type: ignore[override]
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    @overload
    def get(self, key: str, default: None) -> str | None: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        value = self._first.get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")


class GatewayRequest(Request):
    """What the chat endpoints hand `handle_chat` (`app.ChatEndpoint`)."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive, send)
        self._client_headers = ClientHeaders(scope)

    @property
    def headers(self) -> ClientHeaders:
        return self._client_headers
