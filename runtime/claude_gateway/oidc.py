"""The organization's OpenID Connect provider, as the verification page's second way to prove who you are.

Authorization code flow with PKCE (S256), ``state`` bound to the browser and single use, and a ``nonce`` in the
id_token; the id_token is verified against the IdP's JWKS (signature, ``iss``, ``aud``, ``exp``) with PyJWT
(the ``oidc`` extra). The IdP's groups (``groups_claim``) pick the person's team: ``teams`` maps a group to a
spec team, the first match in its order winning; without a mapping a group named like a team maps to it.
Endpoints come from the issuer's discovery document, which must name the issuer itself (OIDC Discovery §4.3).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from bifrostc.runtime.config import Oidc

IDP_TIMEOUT_S = 10.0
JWKS_REFETCH_S = 60.0  # an unknown kid refetches the key set at most this often
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


class IdpError(Exception):
    """The IdP refused, or answered something that does not verify; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Verified:
    subject: str
    email: str | None
    groups: tuple[str, ...]
    refresh_token: str | None

    @property
    def name(self) -> str:
        """What tokens, spend and log rows call this person."""
        return f"oidc:{self.email or self.subject}"


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class OidcProvider:
    def __init__(self, config: Oidc, environ: Mapping[str, str]) -> None:
        self.config = config
        self.issuer = config.issuer.rstrip("/")
        self.client_id = environ.get(config.client_id_env, "")
        self.client_secret = environ.get(config.client_secret_env) if config.client_secret_env else None
        self._http: httpx.AsyncClient | None = None
        self._metadata: dict[str, Any] | None = None
        self._jwks: Any = None
        self._jwks_at = 0.0

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=IDP_TIMEOUT_S)
        return self._http

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            answer = await self._client().get(f"{self.issuer}/.well-known/openid-configuration")
            document = answer.json() if answer.status_code == 200 else None
            if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != self.issuer:
                raise IdpError("the identity provider's discovery document does not name its issuer")
            self._metadata = document
        return self._metadata

    async def authorize_origin(self) -> str:
        """The origin of the IdP's authorization endpoint (the issuer's, when discovery fails now)."""
        try:
            url = httpx.URL(str((await self.metadata())["authorization_endpoint"]))
        except (IdpError, httpx.HTTPError, KeyError, ValueError):
            url = httpx.URL(self.issuer)
        return f"{url.scheme}://{url.netloc.decode()}"

    async def authorize_url(self, redirect_uri: str, state: str, nonce: str, challenge: str) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    async def _token(self, form: dict[str, str]) -> dict[str, Any]:
        endpoint = (await self.metadata())["token_endpoint"]
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        if auth is None:
            form = {**form, "client_id": self.client_id}
        answer = await self._client().post(endpoint, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        if answer.status_code != 200 or not isinstance(body, dict):
            raise IdpError(f"the identity provider refused: {body.get('error', answer.status_code)}")
        return body

    async def exchange(self, code: str, redirect_uri: str, verifier: str, nonce: str) -> Verified:
        body = await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
        )
        return await self._verified(body, nonce)

    async def refresh(self, refresh_token: str) -> Verified:
        """The person as the IdP sees them now (IdpError when it no longer lets them in)."""
        body = await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})
        body.setdefault("refresh_token", refresh_token)  # not rotated: keep using the one we hold
        return await self._verified(body, None)

    async def _verified(self, body: Mapping[str, Any], nonce: str | None) -> Verified:
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise IdpError("the identity provider sent no id_token")
        claims = await self.verify(id_token)
        if nonce is not None and claims.get("nonce") != nonce:
            raise IdpError("the id_token was not issued for this sign-in (nonce)")
        groups = claims.get(self.config.groups_claim) or []
        email = claims.get("email") if claims.get("email_verified", True) is not False else None
        refresh = body.get("refresh_token")
        return Verified(
            str(claims["sub"]),
            str(email) if email else None,
            tuple(str(g) for g in groups) if isinstance(groups, list) else (),
            str(refresh) if refresh else None,
        )

    async def verify(self, id_token: str) -> dict[str, Any]:
        import jwt

        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = await self._key(kid)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=ALGORITHMS,
                audience=self.client_id,
                issuer=self.config.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=60,
            )
        except jwt.PyJWTError as exc:
            raise IdpError(f"the id_token does not verify: {exc}") from exc
        return claims

    async def _key(self, kid: str | None) -> Any:
        import jwt

        for attempt in range(2):
            if self._jwks is None or (attempt and time.monotonic() - self._jwks_at >= JWKS_REFETCH_S):
                answer = await self._client().get((await self.metadata())["jwks_uri"])
                self._jwks, self._jwks_at = jwt.PyJWKSet.from_dict(answer.json()), time.monotonic()
            for candidate in self._jwks.keys:
                if kid is None or candidate.key_id == kid:
                    return candidate.key
        raise IdpError("the id_token is signed with a key the identity provider does not publish")

    def team_for(self, groups: Collection[str], teams: Collection[str]) -> str | None:
        if self.config.teams:
            return next((team for group, team in self.config.teams.items() if group in groups and team in teams), None)
        return next((team for team in sorted(teams) if team in groups), None)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
