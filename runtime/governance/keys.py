"""Virtual keys: who is calling, which budget/rate-limit scopes they draw on, and what they may use.

Only sha256 digests of key values are kept in memory. A presented credential is hashed and looked up in a
dict, so no comparison ever runs over the secret itself (the lookup is constant-time in the key value).

Anonymous traffic. With ``server.require_key: false`` a request with no credential, or with a credential we
do not know, passes as anonymous (``authenticate`` returns ``None``): coding agents often send a placeholder
or their own upstream key. The exception is a credential that *looks like ours* (starts with
``VIRTUAL_KEY_PREFIX``) but is unknown: that is a revoked or mistyped gateway key, and letting it through
would silently turn metered traffic into unmetered traffic, so it is rejected.

Beside the client's own credential. A caller whose ``Authorization`` / ``x-api-key`` hold its own upstream
credential (a Claude subscription, a personal key: ``auth: passthrough`` providers) sends the gateway key in
``x-bifrostc-key`` (or LiteLLM's ``x-litellm-api-key``, ``Bearer `` optional). When that header is present it is
the only place a gateway key is looked for, and an unknown value in it is refused whatever ``require_key`` says.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from bifrostc.runtime.config import Budget, Gateway, RateLimit, Route, VirtualKey
from bifrostc.runtime.errors import AuthenticationFailed, ModelNotAllowed, PermissionDenied
from bifrostc.runtime.governance.pricing import FREE_PROVIDER_TYPES, find_price
from bifrostc.runtime.mcp.naming import pattern_covers_server  # no SDK import: naming.py is plain Python
from bifrostc.runtime.router import Router
from bifrostc.runtime.transport.credentials import GATEWAY_KEY_PREFIX, gateway_key

log = logging.getLogger(__name__)

VIRTUAL_KEY_PREFIX = GATEWAY_KEY_PREFIX  # "sk-bfc-": declared beside the rule that never forwards one

ScopeKind = Literal["key", "team", "customer"]


@dataclass(frozen=True, slots=True)
class Scope:
    """One level of the spend hierarchy with its own (optional) budget and rate limit."""

    kind: ScopeKind
    name: str
    budget: Budget | None = None
    rate_limit: RateLimit | None = None
    max_concurrent: int | None = None  # requests in flight at once (max_concurrent_requests)

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class KeyContext:
    """An authenticated virtual key; ``scopes`` runs key -> team -> customer."""

    key_name: str
    team: str | None = None
    customer: str | None = None
    scopes: tuple[Scope, ...] = ()
    allowed_models: tuple[str, ...] = ()
    allowed_providers: tuple[str, ...] = ()
    allowed_mcp_tools: tuple[str, ...] = ()
    cache: bool = True


def hash_key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _normal_digest(digest: str) -> str:
    digest = digest.strip().lower()
    return digest.removeprefix("sha256:")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # `in` first: Starlette's Headers.get goes through a raised KeyError when the header is absent (~1 µs).
    if name in headers:
        return headers[name]
    if hasattr(headers, "raw"):  # Starlette's and httpx's Headers are case-insensitive already
        return None
    # plain dicts are case-sensitive
    return next((v for k, v in headers.items() if k.lower() == name), None)


def presented_credentials(headers: Mapping[str, str]) -> list[str]:
    """``x-api-key`` (``x-goog-api-key`` for Gemini clients) first, then ``Authorization: Bearer``; both may be
    present (Claude Code sends either)."""
    found: list[str] = []
    for name in ("x-api-key", "x-goog-api-key"):
        api_key = _header(headers, name)
        if api_key and api_key.strip():
            found.append(api_key.strip())
    authorization = _header(headers, "authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            found.append(token.strip())
    return found


def key_context(key: VirtualKey, gateway: Gateway) -> KeyContext:
    """The key's grants and its spend chain key -> team -> customer (what ``explain --key`` shows, too)."""
    scopes = [Scope("key", key.name, key.budget, key.rate_limit, key.max_concurrent_requests)]
    customer_name: str | None = None
    if key.team is not None:
        team = gateway.teams.get(key.team)
        budget, rate = (team.budget, team.rate_limit) if team else (None, None)
        scopes.append(Scope("team", key.team, budget, rate, team.max_concurrent_requests if team else None))
        customer_name = team.customer if team else None
    if customer_name is not None:
        customer = gateway.customers.get(customer_name)
        budget = customer.budget if customer else None
        scopes.append(Scope("customer", customer_name, budget, customer.rate_limit if customer else None))
    return KeyContext(
        key_name=key.name,
        team=key.team,
        customer=customer_name,
        scopes=tuple(scopes),
        allowed_models=key.allowed_models,
        allowed_providers=key.allowed_providers,
        allowed_mcp_tools=key.allowed_mcp_tools,
        cache=key.cache,
    )


class KeyRing:
    """sha256(key value) -> KeyContext, built once at start-up from ``Gateway.virtual_keys``."""

    def __init__(self, gateway: Gateway, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.gateway = gateway  # the spec the ring was built from (teams for /claude-code OIDC identities)
        self.require_key = gateway.server.require_key
        self._by_digest: dict[str, KeyContext] = {}
        for key in gateway.virtual_keys:
            digest = self._digest_of(key, env)
            if digest is not None and digest in self._by_digest:
                log.warning("virtual key %r has the same value as another key; it is ignored", key.name)
            elif digest is not None:
                self._by_digest[digest] = key_context(key, gateway)

    @staticmethod
    def _digest_of(key: VirtualKey, env: Mapping[str, str]) -> str | None:
        if key.sha256:
            return _normal_digest(key.sha256)
        value = env.get(key.env) if key.env else None
        if not value:
            log.warning("virtual key %r: env var %r is not set; the key is disabled", key.name, key.env)
            return None
        return hash_key(value)

    def knows(self, value: str) -> bool:
        """Whether ``value`` is one of the gateway's virtual keys (so never a credential to forward)."""
        return bool(self._by_digest) and hash_key(value) in self._by_digest

    @property
    def contexts(self) -> list[KeyContext]:
        return list(self._by_digest.values())

    def authenticate(self, headers: Mapping[str, str]) -> KeyContext | None:
        """The caller's key context, or ``None`` for anonymous traffic (see module docstring)."""
        explicit = gateway_key(headers)
        if explicit is not None:  # the gateway key travels apart: Authorization / x-api-key are the client's
            context = self._by_digest.get(hash_key(explicit))
            if context is None:
                raise AuthenticationFailed("unknown or revoked gateway key in x-bifrostc-key")
            return context
        credentials = presented_credentials(headers)
        if self._by_digest:  # no keys configured: no sha256 per request
            for credential in credentials:
                context = self._by_digest.get(hash_key(credential))
                if context is not None:
                    return context
        if self.require_key:
            raise AuthenticationFailed("a valid gateway key is required" if credentials else "missing gateway key")
        if any(credential.startswith(VIRTUAL_KEY_PREFIX) for credential in credentials):
            raise AuthenticationFailed("unknown or revoked gateway key")
        return None


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return not patterns or any(fnmatchcase(name, pattern) for pattern in patterns)


ProviderFilter = Callable[[str], bool]


def provider_allowed(ctx: KeyContext | None, provider: str) -> bool:
    return ctx is None or _matches(provider, ctx.allowed_providers)


def authorize(ctx: KeyContext | None, router: Router, asked: str, route: Route) -> ProviderFilter | None:
    """The one key-grant rule; the gateway, count_tokens and ``bifrostc explain`` all call it.

    Models: ``allowed_models`` globs match any public name the request stands for: the string asked for and
    every name of the route it resolves to (name, aliases, the tiers set to it), so a grant on ``opus`` or on
    the route covers ``claude-opus-4-1-20250805`` (a generated discovery id, ``claude-<route>``, only its route's
    names); a ``provider/model`` or default-provider request has only its
    own string. Providers: ``allowed_providers`` globs filter the targets of every route of the fallback chain;
    when no route of the chain keeps a target the request is refused up front. Raises ModelNotAllowed (a 400
    ``invalid_request_error``: Claude Code's contract for a denied model);
    returns the provider filter the dispatcher applies to every attempt (None: any provider).
    """
    if ctx is None:
        return None
    # A generated discovery id (``claude-<route>``) stands for its route only: a ``claude-*`` grant meant for
    # Claude models must not reach every route through the ids the model list offers Claude Code.
    names = router.names_of(route) if asked in router.discovery else (asked, *router.names_of(route))
    if ctx.allowed_models and not any(_matches(name, ctx.allowed_models) for name in names):
        raise ModelNotAllowed(f"key {ctx.key_name!r} may not use model {asked!r}")
    patterns = ctx.allowed_providers
    if patterns and not any(_matches(t.provider, patterns) for r in router.chain(route) for t in r.targets):
        raise ModelNotAllowed(f"key {ctx.key_name!r} may not use the providers that serve model {asked!r}")
    if router.gateway.server.budgets_refuse_unpriced and any(scope.budget for scope in ctx.scopes):
        unpriced = unpriced_target(router, route, patterns)
        if unpriced is not None:
            message = f"key {ctx.key_name!r} has a budget and model {asked!r} can be served by {unpriced}, which"
            raise PermissionDenied(message + " has no price (server.budgets_refuse_unpriced); add pricing: for it")
    return (lambda provider: _matches(provider, patterns)) if patterns else None


def unpriced_target(router: Router, route: Route, provider_patterns: tuple[str, ...] = ()) -> str | None:
    """The first ``provider/model`` of the fallback chain a key could be served by that has no price."""
    gateway = router.gateway
    for current in router.chain(route):
        for target in current.targets:
            provider = gateway.providers.get(target.provider)
            if provider is None or provider.type in FREE_PROVIDER_TYPES:
                continue
            if _matches(target.provider, provider_patterns) and not find_price(
                provider.name, target.model, gateway.pricing
            ):
                return f"{target.provider}/{target.model}"
    return None


def tool_allowed(ctx: KeyContext | None, tool_name: str, default: str = "allow") -> bool:
    """May this key call (and list) MCP tool ``tool_name``? ``default`` (``server.mcp_default``) answers for a
    caller without a key and a key without ``allowed_mcp_tools``: ``allow`` every tool, ``deny`` none."""
    if ctx is None or not ctx.allowed_mcp_tools:
        return default != "deny"
    return _matches(tool_name, ctx.allowed_mcp_tools)


def mcp_server_allowed(ctx: KeyContext | None, server: str, default: str = "allow") -> bool:
    """Whether the key sees MCP server ``server``'s prompts and resources.

    They ride on the tool grants: a key sees them when one of its ``allowed_mcp_tools`` patterns can match some
    ``<server>__<name>`` (``fs__read_*`` grants server ``fs``'s prompts and resources; ``git__*`` does not).
    Without grants, ``default`` answers as for tools.
    """
    if ctx is None or not ctx.allowed_mcp_tools:
        return default != "deny"
    return any(pattern_covers_server(pattern, server) for pattern in ctx.allowed_mcp_tools)
