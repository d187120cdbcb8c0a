"""The OAuth endpoints Claude Code's /login uses: RFC 8414 metadata, RFC 8628 device grant, refresh, RFC 7009.

All are unauthenticated and form-encoded, need no client_id, and ignore parameters they do not know (Claude
Code adds new ones in any release). Errors use the OAuth envelope ``{"error", "error_description"}``.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime.claude_gateway.service import (
    DEVICE_CODE_TTL_S,
    OIDC_PREFIX,
    POLL_INTERVAL_S,
    PREFIX,
    Endpoint,
    SignInService,
    origin,
)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_FORM_BYTES = 64 * 1024
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=NO_STORE)


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return _json({"error": error, "error_description": description}, status)


async def read_form(request: Request) -> dict[str, str] | None:
    """The urlencoded form's first value per name; None when it is too large to be a sign-in form."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    return dict(reversed(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def endpoints(request: Request) -> dict[str, str]:
    base = origin(request) + PREFIX
    return {
        "issuer": base,
        "device_authorization_endpoint": f"{base}/oauth/device_authorization",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
    }


class OAuthEndpoints(NamedTuple):
    metadata: Endpoint
    device_authorization: Endpoint
    token: Endpoint
    revoke: Endpoint


def build(service: SignInService) -> OAuthEndpoints:
    """The endpoint functions, closed over one service."""

    async def metadata(request: Request) -> Response:
        body: dict[str, Any] = {
            **endpoints(request),
            "grant_types_supported": [DEVICE_GRANT, "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
        }
        return _json(body)

    async def device_authorization(request: Request) -> Response:
        if not service.device_limit.allow(client_address(request), service.clock()):
            return oauth_error("slow_down", "too many sign-in attempts from this address; wait a minute", 429)
        form = await read_form(request)
        if form is None:
            return oauth_error("invalid_request", "form too large")
        grant = await service.store.new_device(
            form.get("surface") or None, service.clock(), expires_in=DEVICE_CODE_TTL_S, interval=POLL_INTERVAL_S
        )
        page = f"{origin(request)}{PREFIX}/device"
        body: dict[str, Any] = {
            "device_code": grant.device_code,
            "user_code": grant.user_code,
            "verification_uri": page,
            "verification_uri_complete": f"{page}?user_code={quote(grant.user_code)}",
            "expires_in": grant.expires_in,
            "interval": grant.interval,
        }
        if service.config.login_notice:
            body["login_notice"] = service.config.login_notice
        return _json(body)

    async def token(request: Request) -> Response:
        form = await read_form(request)
        if form is None:
            return oauth_error("invalid_request", "form too large")
        grant_type = form.get("grant_type", "")
        if grant_type == DEVICE_GRANT:
            return await _device_token(service, form.get("device_code", ""))
        if grant_type == "refresh_token":
            return await _refresh_token(service, form.get("refresh_token", ""))
        return oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    async def revoke(request: Request) -> Response:
        form = await read_form(request)
        if form is None or not form.get("token"):
            return oauth_error("invalid_request", "token is required")
        token = form["token"]
        claims = service.signer.verify(token)  # an expired access token still names its grant
        grant_id = claims.grant_id if claims else await service.store.grant_of_refresh(token)
        if grant_id is not None:
            await service.revoke(grant_id)
        return Response(status_code=200, headers=NO_STORE)  # RFC 7009 §2.2: unknown tokens too

    return OAuthEndpoints(metadata, device_authorization, token, revoke)


async def _device_token(service: SignInService, device_code: str) -> Response:
    poll = await service.store.poll(device_code, service.clock())
    if poll.outcome != "ok":
        descriptions = {
            "authorization_pending": "the code has not been approved yet",
            "slow_down": "polling too fast; add 5 seconds to the interval",
            "access_denied": "the sign-in was denied",
            "expired_token": "the code expired; start the sign-in again",
            "invalid_grant": "unknown or already used device code",
        }
        return oauth_error(poll.outcome, descriptions[poll.outcome])
    assert poll.key_name is not None
    if await service.identity(poll.key_name) is None:
        return oauth_error("access_denied", "the approving virtual key no longer exists")
    grant = await service.store.new_grant(poll.key_name, service.clock(), service.config.refresh_ttl_seconds)
    answer = _tokens(service, grant.key_name, grant.grant_id, grant.refresh_token)
    email = poll.key_name.removeprefix(OIDC_PREFIX) if poll.key_name.startswith(OIDC_PREFIX) else ""
    if "@" in email:  # the protocol's extension: Claude Code shows the account and asks to confirm it
        answer = _json({**orjson.loads(answer.body), "email": email})
    return answer


async def _refresh_token(service: SignInService, refresh_token: str) -> Response:
    now = service.clock()
    ttl = service.config.refresh_ttl_seconds
    grant = await service.store.refresh(refresh_token, now, ttl) if refresh_token else None
    if grant is None or await service.identity(grant.key_name) is None:
        if grant is not None:  # the key was removed from the spec: the grant goes with it
            await service.revoke(grant.grant_id)
        return oauth_error("invalid_grant", "the sign-in is no longer valid; run /login again", 401)
    return _tokens(service, grant.key_name, grant.grant_id, grant.refresh_token)


def _tokens(service: SignInService, key_name: str, grant_id: str, refresh_token: str) -> Response:
    ttl = service.config.token_ttl_seconds
    access = service.signer.mint(key_name, grant_id, ttl, service.clock())
    body = {"access_token": access, "token_type": "Bearer", "expires_in": ttl, "refresh_token": refresh_token}
    return _json(body)
