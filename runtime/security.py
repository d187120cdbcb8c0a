"""What a browser may not do to a gateway on a developer's laptop: one pure ASGI middleware.

A web page the developer visits can reach ``127.0.0.1:8080``. Two attacks follow, both refused here:

* DNS rebinding: ``evil.example`` resolves to 127.0.0.1, so the page reads ``/api/logs`` as same-origin. The
  ``Host`` header still says ``evil.example``: only the loopback names and the configured ones
  (``server.allowed_hosts``, else ``server.host``) are served, anything else is a 403.
* Cross-site requests: a form or ``fetch(..., {mode: "no-cors"})`` POST with a ``text/plain`` body needs no
  CORS preflight and spends the developer's provider keys. A state-changing request whose ``Origin`` is not
  the gateway's own, or that a browser marks ``Sec-Fetch-Site: cross-site``/``same-site``, is a 403; a JSON
  endpoint refuses the CORS-safelisted body types with a 415. SDKs and CLIs send neither header.

With ``server.require_key`` on, ``/metrics`` (the admin key or ``observability.metrics_token_env``), the model
lists (any valid key) and ``/health`` detail are behind a key; ``/health`` without one says only its status and
``/health/live`` stays open. Refusals use the caller's dialect (``handlers.errors``). This layer also teaches the
redactor the secret values of the gateway it guards, and each virtual key once it authenticates.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bifrostc.runtime import config
from bifrostc.runtime.dialects.gemini import MODEL_LISTS as GEMINI_MODEL_LISTS
from bifrostc.runtime.errors import AuthenticationFailed, GatewayError, PermissionDenied
from bifrostc.runtime.governance.keys import hash_key, presented_credentials
from bifrostc.runtime.handlers.errors import dialect_for_path, error_response
from bifrostc.runtime.loadout import configured_secrets
from bifrostc.runtime.observability.redaction import SECRETS, register_secrets
from bifrostc.runtime.transport.credentials import GATEWAY_KEY_HEADERS, gateway_key

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "*"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The body types a browser may send cross-site without a CORS preflight (Fetch standard, CORS-safelisted).
SIMPLE_BODY_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
BROWSER_CROSS_SITE = frozenset({"cross-site", "same-site"})  # same-site: another port of localhost
MODEL_LISTS = frozenset({"/anthropic/v1/models", "/v1/models", "/openai/v1/models", *GEMINI_MODEL_LISTS})
MODEL_PAGES = tuple(f"{path}/" for path in sorted(MODEL_LISTS))  # GET .../models/{id}
OPEN_PROBES = frozenset({"/health/live"})
# OAuth (RFC 6749/8628/7009) and the sign-in page take form bodies by definition; the Origin rule still holds.
FORM_ENDPOINTS = (
    "/claude-code/oauth/",
    "/claude-code/device",
    "/claude-code/oidc/",
    "/login",
)  # /login: the dashboard sign-in form
# The only headers read here, picked out of the scope in one pass (ASGI servers lower-case header names).
_READ = frozenset(
    {
        b"host",
        b"origin",
        b"sec-fetch-site",
        b"content-type",
        b"x-api-key",
        b"x-goog-api-key",
        b"authorization",
        b"x-admin-key",
        *(name.encode() for name in GATEWAY_KEY_HEADERS),  # the gateway key beside the client's own credential
    }
)
Headers = dict[str, str]


def _headers(scope: Scope) -> Headers:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"] if name in _READ}


class UnsupportedMediaType(GatewayError):
    status = 415
    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"
    openai_code = "unsupported_media_type"


def host_name(host: str) -> str:
    """``Host`` without its port, brackets or trailing dot, lower-cased (``[::1]:8080`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def allowed_host_names(server: config.Server) -> frozenset[str] | None:
    """The Host names served (None: any). A wildcard bind without a list means the operator exposed the
    gateway on purpose: any name is served, and require_key is what protects it."""
    if "*" in server.allowed_hosts or (not server.allowed_hosts and server.host.strip() in WILDCARD_BINDS):
        return None
    # Loopback names are always safe: a rebinding page's Host is the attacker's own name.
    names = {host_name(h) for h in server.allowed_hosts} or {host_name(server.host)}
    return frozenset(names | LOOPBACK_NAMES)


@dataclass(frozen=True, slots=True)
class Policy:
    """The guard's view of one gateway snapshot (rebuilt when a hot reload installs a new one)."""

    hosts: frozenset[str] | None
    require_key: bool
    admin_key: str | None
    metrics_token: str | None
    key_digests: frozenset[str]

    @classmethod
    def of(cls, gateway: config.Gateway, environ: Mapping[str, str]) -> Policy:
        digests = set()
        for key in gateway.virtual_keys:
            if key.sha256:
                digests.add(key.sha256.strip().lower().removeprefix("sha256:"))
            elif key.env and environ.get(key.env):
                digests.add(hash_key(environ[key.env]))
        admin_env, token_env = gateway.server.admin_key_env, gateway.observability.metrics_token_env
        return cls(
            hosts=allowed_host_names(gateway.server),
            require_key=gateway.server.require_key,
            admin_key=environ.get(admin_env) if admin_env else None,
            metrics_token=environ.get(token_env) if token_env else None,
            key_digests=frozenset(digests),
        )

    def host_refusal(self, headers: Headers) -> GatewayError | None:
        host = headers.get("host")
        if self.hosts is None or host is None:  # HTTP/1.0 without Host: no browser sends that
            return None
        name = host_name(host)
        if name in self.hosts or name.endswith(".localhost"):  # browsers resolve *.localhost to loopback only
            return None
        return PermissionDenied(f"host {name!r} is not served here; list it in server.allowed_hosts")

    def cross_site_refusal(self, method: str, headers: Headers, path: str = "") -> GatewayError | None:
        if method in SAFE_METHODS:  # a cross-site GET cannot read the answer (no CORS headers) nor change state
            return None
        if headers.get("sec-fetch-site", "").lower() in BROWSER_CROSS_SITE:
            return PermissionDenied("cross-site browser requests are refused")
        origin = headers.get("origin")
        if origin is not None and origin.partition("://")[2].lower() != headers.get("host", "").lower():
            return PermissionDenied(f"requests from origin {origin!r} are refused")
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type in SIMPLE_BODY_TYPES and not path.startswith(FORM_ENDPOINTS):
            return UnsupportedMediaType(f"content type {media_type!r} is not accepted: send application/json")
        return None

    def credentials(self, headers: Headers) -> list[str]:
        offered = presented_credentials(headers)
        explicit = gateway_key(headers)  # x-bifrostc-key: beside the client's own upstream credential
        if explicit is not None:
            offered = [explicit, *offered]
        admin = headers.get("x-admin-key")
        return [*offered, admin] if admin else offered

    def is_valid_key(self, credential: str) -> bool:
        return bool(self.key_digests) and hash_key(credential) in self.key_digests

    def grants(self, path: str, credentials: Iterable[str]) -> bool:
        """Whether these credentials may read a gated path (true for every path when keys are not required)."""
        if not self.require_key:
            return True
        privileged = [s for s in (self.admin_key, self.metrics_token) if s]
        for credential in credentials:
            if any(hmac.compare_digest(credential.encode(), s.encode()) for s in privileged):
                return True
            # Tenants read the model lists and health. /metrics names every tenant: a tenant's key reads it
            # only when there is no admin key or metrics token to read it with.
            if (path != "/metrics" or not privileged) and self.is_valid_key(credential):
                return True
        return False


def _is_health_detail(path: str) -> bool:
    return (path == "/health" or path.startswith("/health/")) and path not in OPEN_PROBES


class SecurityMiddleware:
    """Host check, cross-site refusal, key gates; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._runtime: Any = None  # the snapshot the policy was built from
        self._policy: Policy | None = None

    def policy(self, scope: Scope) -> Policy | None:
        state = scope["app"].state if "app" in scope else None
        runtime = getattr(state, "runtime", None)
        if runtime is None:
            return None
        if runtime is not self._runtime or self._policy is None:
            options = getattr(state, "runtime_options", None) or {}
            given: Mapping[str, str] | None = options.get("environ")  # what create_app resolved keys from
            environ = os.environ if given is None else given
            register_secrets(configured_secrets(runtime.gateway, environ))
            self._policy, self._runtime = Policy.of(runtime.gateway, environ), runtime
        return self._policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy(scope)
        if policy is None:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope["path"]
        refusal = policy.host_refusal(headers) or policy.cross_site_refusal(scope["method"], headers, scope["path"])
        credentials = policy.credentials(headers)
        gated = path == "/metrics" or path in MODEL_LISTS or path.startswith(MODEL_PAGES)
        if refusal is None and gated and not policy.grants(path, credentials):
            refusal = AuthenticationFailed(f"{path} needs a gateway key")
        if refusal is not None:
            await error_response(dialect_for_path(path), refusal)(scope, receive, send)
            return
        for credential in credentials:
            if credential not in SECRETS and policy.is_valid_key(credential):
                register_secrets([credential])  # a virtual key in flight: never echoed, logged or traced
        if _is_health_detail(path) and not policy.grants(path, credentials):
            send = _status_only(send)
        await self.app(scope, receive, send)


def _status_only(send: Send) -> Send:
    """Cut a JSON health answer down to ``{"status": ...}`` (its HTTP status kept) for an anonymous caller."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def reduced(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        try:
            status = orjson.loads(b"".join(chunks)).get("status", "ok")
        except (orjson.JSONDecodeError, AttributeError):
            status = "ok"
        body = orjson.dumps({"status": status})
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return reduced
