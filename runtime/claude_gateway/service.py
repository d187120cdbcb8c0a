"""The sign-in service: the store, the token signer and the current key table, and bearer authentication.

A bearer is admitted when this gateway signed it, it has not expired, its grant was not revoked and its
virtual key still exists in the gateway's current key table (a hot reload that drops the key signs its users
out). Anything else is a 401 ``authentication_error`` with ``x-should-retry: false``, so Claude Code asks the
user to sign in again at once instead of retrying for minutes.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime.claude_gateway.limits import IpLimiter
from bifrostc.runtime.claude_gateway.relay import TelemetryRelay
from bifrostc.runtime.claude_gateway.store import SignInStore
from bifrostc.runtime.claude_gateway.tokens import TokenSigner
from bifrostc.runtime.config import ClaudeCodeTelemetry, SignIn
from bifrostc.runtime.context import RequestContext, WrappedHooks
from bifrostc.runtime.errors import AuthenticationFailed
from bifrostc.runtime.governance.keys import KeyContext, KeyRing, presented_credentials

Endpoint = Callable[[Request], Awaitable[Response]]
PREFIX = "/claude-code"
wall_clock: Callable[[], float] = time.time  # read when a service is built; tests replace it to move time
DEVICE_CODE_TTL_S = 600
POLL_INTERVAL_S = 5

# The key a /claude-code bearer was admitted as, for the chat pipeline's authenticate hook (SignedInHooks).
SIGNED_IN: contextvars.ContextVar[KeyContext | None] = contextvars.ContextVar("bifrostc_signed_in", default=None)


class SignedInHooks(WrappedHooks):
    """``authenticate`` answers with the signed-in key when a /claude-code endpoint admitted a bearer; every
    other request goes to the inner pipeline unchanged (a model the key may not use is the grant rule's 400
    ``invalid_request_error`` for every caller: ``keys.authorize``)."""

    async def authenticate(self, headers: Mapping[str, str], ctx: RequestContext) -> Any:
        key = SIGNED_IN.get()
        return key if key is not None else await self.inner.authenticate(headers, ctx)


def origin(request: Request) -> str:
    """The origin the client reached us on (uvicorn applies X-Forwarded-Proto from trusted proxies)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def anthropic_error(status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


@dataclass
class SignInService:
    config: SignIn
    store: SignInStore
    signer: TokenSigner
    keyring: Callable[[], KeyRing]  # the current one: follows hot reloads
    clock: Callable[[], float] = field(default_factory=lambda: wall_clock)
    device_limit: IpLimiter = field(default_factory=lambda: IpLimiter(20))
    page_limit: IpLimiter = field(default_factory=lambda: IpLimiter(10))
    telemetry_keep_seconds: float | None = None  # the log's retention_days; None keeps telemetry forever
    relay: TelemetryRelay = field(default_factory=lambda: TelemetryRelay(ClaudeCodeTelemetry(), {}))
    _ring: KeyRing | None = field(default=None, init=False)
    _by_name: dict[str, KeyContext] = field(default_factory=dict, init=False)

    async def revoke(self, grant_id: str) -> None:
        # Kept past any access token of the grant, also one minted before a restart with a longer TTL.
        await self.store.revoke(grant_id, self.clock(), forget_after=2.0 * max(self.config.token_ttl_seconds, 86400))

    def key(self, name: str) -> KeyContext | None:
        ring = self.keyring()
        if ring is not self._ring:
            self._ring, self._by_name = ring, {ctx.key_name: ctx for ctx in ring.contexts}
        return self._by_name.get(name)

    def key_for_value(self, value: str) -> KeyContext | None:
        """The virtual key whose value was pasted on the verification page."""
        try:
            return self.keyring().authenticate({"x-api-key": value.strip()})
        except AuthenticationFailed:  # under require_key: the same answer as an unknown key
            return None

    async def bearer(self, headers: Mapping[str, str]) -> KeyContext | Response:
        """The signed-in key, or the 401 to answer with."""
        token = next(iter(presented_credentials({"authorization": headers.get("authorization", "")})), None)
        claims = self.signer.verify(token) if token else None
        refused = {"x-should-retry": "false"}
        if claims is None:
            return anthropic_error(401, "authentication_error", "sign in to the gateway with /login", refused)
        if claims.expires_at <= self.clock():
            return anthropic_error(401, "authentication_error", "the gateway sign-in has expired", refused)
        key = self.key(claims.key_name)
        if key is None or await self.store.is_revoked(claims.grant_id):
            return anthropic_error(401, "authentication_error", "the gateway sign-in was revoked", refused)
        return key
