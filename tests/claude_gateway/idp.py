"""A small OpenID Connect provider for tests: discovery, JWKS, authorize (the current user is signed in at
once), token (authorization_code with PKCE S256 and client_secret_basic; refresh_token) with RS256 id_tokens.

It answers the documented errors: ``invalid_client``, ``invalid_grant`` (unknown or used code, wrong
redirect_uri, a verifier that does not match the challenge, a disabled user's refresh token).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID, CLIENT_SECRET = "bifrostc-test-client", "idp-client-secret-0123456789"


@dataclass
class User:
    sub: str
    email: str
    groups: list[str]
    disabled: bool = False


@dataclass
class TestIdp:
    __test__ = False  # not a test class
    issuer: str = ""  # set once the server is up
    users: dict[str, User] = field(default_factory=dict)
    current: str = ""  # the email of whoever is "at the keyboard" when /authorize is hit
    key: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    kid: str = "test-key-1"
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> email
    token_calls: list[str] = field(default_factory=list)  # grant types asked for

    def id_token(self, user: User, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": user.sub,
            "email": user.email,
            "email_verified": True,
            "groups": list(user.groups),
            "iat": now,
            "exp": now + 300,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE required"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "email": self.current,
            "redirect_uri": q["redirect_uri"],
            "challenge": q["code_challenge"],
            "nonce": q.get("nonce"),
        }
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}", 302)

    async def token(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        grant = str(form.get("grant_type"))
        self.token_calls.append(grant)
        if grant == "authorization_code":
            issued = self.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier", ""))
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if issued is None or issued["redirect_uri"] != form.get("redirect_uri") or issued["challenge"] != challenge:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return self._tokens(self.users[issued["email"]], issued["nonce"])
        if grant == "refresh_token":
            email = self.refresh.pop(str(form.get("refresh_token")), None)
            if email is None or self.users[email].disabled:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return self._tokens(self.users[email], None)
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _tokens(self, user: User, nonce: str | None) -> Response:
        refresh = secrets.token_urlsafe(16)
        self.refresh[refresh] = user.email
        body = {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": refresh,
            "id_token": self.id_token(user, nonce),
        }
        return JSONResponse(body, headers={"cache-control": "no-store"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )
