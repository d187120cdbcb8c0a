"""Pipeline wiring: a Hooks wrapper that answers cache_lookup/cache_store with a ResponseCache.

Everything else is delegated to the wrapped Hooks (governance, observability), so the app composes it as
``CacheHooks(inner_hooks, ResponseCache.from_config(...))``. Entries are scoped per tenant: a key's
team when it has one (keys of one team share answers), else the key itself; a key with ``cache: false``
neither reads nor writes the cache. A request carrying the client's own credential (``auth: passthrough``) is
scoped on that credential's salted hash as well (``cache.passthrough: per_credential``), or not cached (``off``):
one person's answer is never served to another.
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.cache.response_cache import ResponseCache
from bifrostc.runtime.context import Hooks, RequestContext, WrappedHooks
from bifrostc.runtime.types import ChatRequest, ChatResponse

ANONYMOUS_SCOPE = "anonymous"


def cache_scope(key: Any) -> str | None:
    """Tenant scope of an authenticated key context (duck-typed on governance's KeyContext); None: no caching."""
    if key is None:
        return ANONYMOUS_SCOPE
    if not getattr(key, "cache", True):
        return None
    team = getattr(key, "team", None)
    return f"team:{team}" if team else f"key:{getattr(key, 'key_name', key)}"


def request_scope(ctx: RequestContext, passthrough: str = "per_credential") -> str | None:
    """The scope of this request's entries: the key's, narrowed to the client's own credential when it sent one."""
    scope = cache_scope(ctx.key)
    credential = ctx.credential
    if scope is None or credential is None:
        return scope
    return None if passthrough == "off" else f"{scope}|{credential.label}"


class CacheHooks(WrappedHooks):
    def __init__(self, inner: Hooks, cache: ResponseCache, *, passthrough: str = "per_credential") -> None:
        super().__init__(inner)
        self.cache = cache
        self.passthrough = passthrough

    @staticmethod
    def route_name(ctx: RequestContext) -> str:
        """The route the request was given (by the one resolver or a routing rule), so the names of one route
        share entries and a rule that sends the same body elsewhere gets entries of its own."""
        return ctx.routed or ctx.requested_model

    async def cache_lookup(self, ctx: RequestContext, request: ChatRequest) -> ChatResponse | None:
        scope = request_scope(ctx, self.passthrough)
        if scope is None or not self.cache.enabled:
            return await self.inner.cache_lookup(ctx, request)
        return await self.cache.lookup(request, route=self.route_name(ctx), scope=scope)

    async def cache_store(self, ctx: RequestContext, request: ChatRequest, response: ChatResponse) -> None:
        scope = request_scope(ctx, self.passthrough)
        if scope is None or not self.cache.enabled:
            await self.inner.cache_store(ctx, request, response)
            return
        await self.cache.store(request, response, route=self.route_name(ctx), scope=scope)
