"""The sign-in service: the store, the token signer and the current key table, and bearer authentication.

A bearer is admitted when this gateway signed it, it has not expired, its grant was not revoked and its
virtual key still exists in the gateway's current key table (a hot reload that drops the key signs its users
out). Anything else is a 401 ``authentication_error`` with ``x-should-retry: false``, so Claude Code asks the
user to sign in again at once instead of retrying for minutes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime.claude_gateway.limits import IpLimiter
from bifrostc.runtime.claude_gateway.oidc import IdpError, OidcProvider
from bifrostc.runtime.claude_gateway.otlp_points import Point
from bifrostc.runtime.claude_gateway.relay import TelemetryRelay
from bifrostc.runtime.claude_gateway.store import Person, SignInStore, TelemetryRow
from bifrostc.runtime.claude_gateway.tokens import TokenSigner
from bifrostc.runtime.config import ClaudeCodeTelemetry, SignIn, VirtualKey
from bifrostc.runtime.context import RequestContext, WrappedHooks
from bifrostc.runtime.errors import AuthenticationFailed
from bifrostc.runtime.governance.keys import KeyContext, KeyRing, key_context, presented_credentials

Endpoint = Callable[[Request], Awaitable[Response]]
PREFIX = "/claude-code"
OIDC_PREFIX = "oidc:"  # identities signed in through the IdP; every other token names a virtual key
log = logging.getLogger("bifrostc.claude_gateway")
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
        if key is not None:
            ctx.credential = None  # the bearer is the gateway's own sign-in token
            return key
        return await self.inner.authenticate(headers, ctx)


def origin(request: Request) -> str:
    """The origin the client reached us on (uvicorn applies X-Forwarded-Proto from trusted proxies)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def anthropic_error(status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class TelemetryStore(Protocol):
    """``store.SignInStore`` (SQLite) or ``telemetry_pg.PostgresTelemetry``."""

    async def add_telemetry(
        self, row: TelemetryRow, now: float, keep_seconds: float | None, points: Sequence[Point] = ()
    ) -> None: ...

    async def session_telemetry(self, session_id: str) -> dict[str, Any] | None: ...


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
    oidc: OidcProvider | None = None  # claude_code.sign_in.oidc: people sign in through the IdP
    telemetry: TelemetryStore | None = None  # where Claude Code's OTLP exports go; None: the sign-in store
    _rechecks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False)
    _ring: KeyRing | None = field(default=None, init=False)
    _by_name: dict[str, KeyContext] = field(default_factory=dict, init=False)

    async def revoke(self, grant_id: str) -> None:
        # Kept past any access token of the grant, also one minted before a restart with a longer TTL.
        await self.store.revoke(grant_id, self.clock(), forget_after=2.0 * max(self.config.token_ttl_seconds, 86400))

    @property
    def telemetry_store(self) -> TelemetryStore:
        return self.telemetry if self.telemetry is not None else self.store

    def key(self, name: str) -> KeyContext | None:
        ring = self.keyring()
        if ring is not self._ring:
            self._ring, self._by_name = ring, {ctx.key_name: ctx for ctx in ring.contexts}
        return self._by_name.get(name)

    async def aclose(self) -> None:
        await self.relay.aclose()
        closing = getattr(self.telemetry, "aclose", None)
        if closing is not None:
            await closing()
        if self.oidc is not None:
            await self.oidc.aclose()

    async def identity(self, name: str) -> KeyContext | None:
        """Who a token names, now: a virtual key of the current spec, or an OIDC person still in a group that maps
        to a current team (their groups read again from the IdP every ``recheck_seconds``)."""
        if not name.startswith(OIDC_PREFIX):
            return self.key(name)
        person = await self.store.person(name)
        ring = self.keyring()
        if person is None or self.oidc is None or person.team not in ring.gateway.teams:
            return None
        if self.clock() - person.checked_at >= self.oidc.config.recheck_seconds:
            person = await self._recheck(name)
            if person is None:
                return None
        return key_context(VirtualKey(name, team=person.team), ring.gateway)

    async def _recheck(self, name: str) -> Person | None:
        assert self.oidc is not None
        async with self._rechecks.setdefault(name, asyncio.Lock()):  # one IdP refresh at a time per person
            person = await self.store.person(name)
            if person is None or self.clock() - person.checked_at < self.oidc.config.recheck_seconds:
                return person
            try:
                if person.idp_refresh_token is None:
                    raise IdpError("no IdP refresh token to read the groups again with")
                now = await self.oidc.refresh(person.idp_refresh_token)
                team = self.oidc.team_for(now.groups, self.keyring().gateway.teams)
                if team is None:
                    raise IdpError("no longer in a group that maps to a team")
            except IdpError as exc:
                log.info("claude_code sign-in of %s ended: %s", name, exc)
                await self.store.forget_person(name)
                return None
            except httpx.HTTPError as exc:  # the IdP is unreachable: keep the session, ask again next time
                log.warning("claude_code: the IdP could not be asked about %s: %s", name, type(exc).__name__)
                return person
            person = Person(name, now.subject, now.email, team, now.refresh_token, self.clock())
            await self.store.put_person(person)
            return person

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
        key = await self.identity(claims.key_name)
        if key is None or await self.store.is_revoked(claims.grant_id):
            return anthropic_error(401, "authentication_error", "the gateway sign-in was revoked", refused)
        return key
