"""Per-request context and the hook points other subsystems plug into.

`Hooks` is the seam for governance (authenticate, before_call, after_call), the cache (cache_lookup,
cache_store) and observability (on_log). Every method is a no-op by default, so the gateway runs bare;
a subsystem subclasses `Hooks` (or wraps it) and passes the instance to ``create_app(..., hooks=...)``.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from bifrostc.runtime import config
from bifrostc.runtime.types import ChatRequest, ChatResponse, Usage

# The name of a client dialect (`runtime/dialects`: anthropic | openai | responses | any dialect registered there).
Dialect = str


class _RequestIds:
    """Request ids: 16 random hex digits per process, then a 16-digit counter (uuid4().hex's shape).

    Unique across replicas (64 random bits per process) and within one, at a tenth of uuid4's cost: uuid4
    makes a getrandom() system call per id. A forked child draws a fresh prefix so it never repeats its parent.
    """

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_request_ids = _RequestIds()
os.register_at_fork(after_in_child=_request_ids.reseed)
new_request_id = _request_ids.next

# A client's own x-request-id is kept when it is a plain token (what proxies and SDKs send); anything else
# (too long, spaces, control characters: a header-injection or log-forging attempt) gets a fresh id.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")
# The id of the client request being served in this task: the one upstream transport forwards it.
current_request_id: ContextVar[str | None] = ContextVar("bifrostc_request_id", default=None)


def client_request_id(headers: Mapping[str, str]) -> str | None:
    offered = headers.get("x-request-id")
    return offered if offered and _CLIENT_REQUEST_ID.fullmatch(offered) else None


@dataclass(slots=True)
class RequestContext:
    """What one client request did, filled in as it moves through the pipeline."""

    dialect: Dialect
    endpoint: str  # messages | chat | responses | embeddings | count_tokens
    requested_model: str = ""
    stream: bool = False
    session: str | None = None  # what keeps a conversation on one target (see Router.choose_target)
    headers: Mapping[str, str] = field(default_factory=dict)
    key: Any = None  # whatever Hooks.authenticate returned (a governance key context)
    request_id: str = ""  # the client's x-request-id when it sent a usable one, else a new id
    started: float = field(default_factory=time.monotonic)
    route: str | None = None  # public route that finally served the request
    provider: str | None = None
    upstream_model: str | None = None
    attempts: int = 0
    fallback_used: bool = False
    passthrough: bool = False
    cache_hit: bool = False
    usage: Usage | None = None
    usage_estimated: bool = False  # usage counted from what a stream relayed: its closing usage never came
    finish_reason: str | None = None  # canonical stop reason, also where no response object holds it (relayed)
    time_to_first_token_s: float | None = None  # streams: first output relayed, from the request's arrival
    inter_token_latency_s: float | None = None  # streams: mean gap between output chunks after the first
    status: int = 200
    error: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # per-request state of hooks (e.g. a budget reservation)
    chat: ChatRequest | None = None  # the parsed request, once parsed (budget admission sizes its hold from it)
    # Set by a before_call hook to restrict which providers may serve (a key's allowed_providers).
    provider_filter: Callable[[str], bool] | None = None
    # Set by hooks for the answer (a budgeted key's anthropic-ratelimit-unified-* headers).
    answer_headers: dict[str, str] = field(default_factory=dict)
    rule: str | None = None  # the routing rule that picked the route (x-bifrostc-rule), if one matched
    routed: str | None = None  # the route picked for the request (by a rule or by name), before any fallback
    credential: Any = None  # the client's own credential (transport.credentials.Credential), when it sent one
    billed_to: str | None = None  # "client": the serving attempt used the client's own credential

    def __post_init__(self) -> None:
        if not self.request_id:
            self.request_id = client_request_id(self.headers) or new_request_id()
        if self.headers:  # a client request (internal ones, e.g. cache embeddings, keep their caller's id)
            current_request_id.set(self.request_id)

    @property
    def caller(self) -> str | None:
        """Who the request is attributed to: the virtual key's name, else the salted label of the client's own
        credential (``client:<12 hex>``); None when neither (a gateway without keys). Log rows and stored
        Responses both answer to it."""
        name = getattr(self.key, "key_name", None)
        return name if isinstance(name, str) and name else getattr(self.credential, "label", None)

    def response_headers(self) -> dict[str, str]:
        headers = {**self.answer_headers, "x-bifrostc-attempts": str(self.attempts), "x-request-id": self.request_id}
        if self.provider:
            headers["x-bifrostc-provider"] = self.provider
        if self.upstream_model:
            headers["x-bifrostc-model"] = self.upstream_model
        if self.fallback_used and self.route:
            headers["x-bifrostc-fallback"] = self.route
        if self.cache_hit:
            headers["x-bifrostc-cache"] = "hit"
        if self.rule:
            headers["x-bifrostc-rule"] = self.rule
        return headers


@dataclass(slots=True)
class LogRecord:
    """Handed to Hooks.on_log once a request is finished, before its answer is complete (a non-streamed body is
    sent after it; a stream's frames before it, its end of body after it)."""

    context: RequestContext
    duration_s: float
    request: ChatRequest | None = None
    response: ChatResponse | None = None


class Hooks:
    """No-op pipeline hooks. Raise a GatewayError from any `before` hook to reject the request."""

    async def authenticate(self, headers: Mapping[str, str], ctx: RequestContext) -> Any:
        """Return a key context stored on ctx.key (or raise AuthenticationFailed)."""
        return None

    async def authorize(self, ctx: RequestContext, route: config.Route) -> None:
        """May this key use this route at all (model/provider grants)? Admits nothing, charges nothing."""

    async def capacity(self, ctx: RequestContext, names: frozenset[str]) -> Mapping[str, float]:
        """The live levels (0-100) of the named routing-rule variables (budget_used, tokens_used, request)
        for ctx.key, read before routing; only asked when one of the key's rules names one. No limits: {}."""
        return {}

    async def before_call(self, ctx: RequestContext, route: config.Route) -> None:
        """Checked after routing, before any upstream call: model grants, budgets, rate limits."""

    async def after_call(self, ctx: RequestContext, usage: Usage | None) -> None:
        """Charge usage once the request finished (ctx.provider/upstream_model say who served it). Called for
        every request, cache hits and failures included (usage None: nothing to bill, release what was held)."""

    async def cache_lookup(self, ctx: RequestContext, request: ChatRequest) -> ChatResponse | None:
        return None

    async def cache_store(self, ctx: RequestContext, request: ChatRequest, response: ChatResponse) -> None:
        """Called for successful canonical (non-passthrough) responses, streamed ones included."""

    async def on_log(self, record: LogRecord) -> None:
        """Request log / metrics / tracing sink."""


class WrappedHooks(Hooks):
    """Hooks layered over an inner pipeline: every hook is forwarded; subclasses override the ones they add to."""

    def __init__(self, inner: Hooks) -> None:
        self.inner = inner

    async def authenticate(self, headers: Mapping[str, str], ctx: RequestContext) -> Any:
        return await self.inner.authenticate(headers, ctx)

    async def authorize(self, ctx: RequestContext, route: config.Route) -> None:
        await self.inner.authorize(ctx, route)

    async def capacity(self, ctx: RequestContext, names: frozenset[str]) -> Mapping[str, float]:
        return await self.inner.capacity(ctx, names)

    async def before_call(self, ctx: RequestContext, route: config.Route) -> None:
        await self.inner.before_call(ctx, route)

    async def after_call(self, ctx: RequestContext, usage: Usage | None) -> None:
        await self.inner.after_call(ctx, usage)

    async def cache_lookup(self, ctx: RequestContext, request: ChatRequest) -> ChatResponse | None:
        return await self.inner.cache_lookup(ctx, request)

    async def cache_store(self, ctx: RequestContext, request: ChatRequest, response: ChatResponse) -> None:
        await self.inner.cache_store(ctx, request, response)

    async def on_log(self, record: LogRecord) -> None:
        await self.inner.on_log(record)
