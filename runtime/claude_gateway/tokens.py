"""Access tokens: compact HS256 JWTs naming the virtual key (``sub``) and the sign-in grant they belong to.

Claude Code reads ``exp`` and ``sub`` without verifying; the gateway verifies the signature and then looks the
grant up (revocation) and the key up (a removed key signs its users out on the next request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from bifrostc.runtime.workers import shared_secret

log = logging.getLogger("bifrostc.claude_gateway")
_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class AccessClaims:
    key_name: str
    grant_id: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes, issuer: str) -> None:
        self._secret = secret
        self.issuer = issuer

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest())

    def mint(self, key_name: str, grant_id: str, ttl_seconds: int, now: float) -> str:
        claims = {
            "iss": self.issuer,
            "sub": key_name,
            "grant": grant_id,
            "iat": int(now),
            "exp": int(now) + ttl_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        signing_input = f"{_HEADER}.{_b64(orjson.dumps(claims))}"
        return f"{signing_input}.{self._sign(signing_input)}"

    def verify(self, token: str) -> AccessClaims | None:
        """The claims of a token this gateway signed (expired or not), else None."""
        header, dot, rest = token.partition(".")
        payload, dot2, signature = rest.partition(".")
        if not (dot and dot2) or header != _HEADER:
            return None
        if not hmac.compare_digest(self._sign(f"{header}.{payload}"), signature):
            return None
        try:
            claims = orjson.loads(_unb64(payload))
            return AccessClaims(str(claims["sub"]), str(claims["grant"]), float(claims["exp"]))
        except (ValueError, KeyError, TypeError):
            return None


def signing_secret(secret_env: str | None, environ: Mapping[str, str]) -> bytes:
    """The secret from ``secret_env``; without one, a random secret for this server (tokens die with it): the
    supervisor's, shared by its workers, else this process's own."""
    value = environ.get(secret_env) if secret_env else None
    if value:
        return value.encode()
    shared = shared_secret()  # several workers of one server (serve --workers): one secret for all of them
    if shared is not None and not secret_env:
        return shared
    if secret_env:
        log.error("claude_code.sign_in.secret_env is %s but it is not set: using a per-process secret", secret_env)
    else:
        log.warning(
            "claude_code.sign_in has no secret_env: access tokens are void after a restart (refresh tokens are not)"
        )
    return os.urandom(32)
