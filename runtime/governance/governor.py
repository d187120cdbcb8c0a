"""The Governor: virtual keys, permissions, budgets and rate limits behind one small API for the app.

Hook points, in request order::

    ctx = governor.authenticate(request.headers)          # AuthenticationFailed -> 401
    keys.authorize(ctx, router, model, route)              # ModelNotAllowed     -> 400 (one grant rule)
    reservation = await governor.admit(ctx, max_cost)       # BudgetExceeded (billing_error) / RateLimited -> 429
    headers = await governor.usage_headers(ctx)             # the unified usage headers of the answer
    ... call the provider ...
    await governor.settle(reservation, cost_usd, tokens)    # always, also with 0.0 after a failure

Budget rule: a request is admitted only if, at admission, ``spent + held + max_cost <= limit`` in every
budgeted scope of its chain (key -> team -> customer), where ``held`` is what requests in flight reserved
and ``max_cost`` the most this request can cost (see reserve.py). The check and the hold are one atomic
step of the store, so with replicas sharing Redis spend never passes a budget as long as each request costs
at most what it reserved; settlement swaps the hold for the real cost, and a hold that is never settled (a
replica died) expires after ``HOLD_TTL_SECONDS``. Without a price (``max_cost`` 0) the old rule applies:
``spent + held < limit``. Rate limits count requests at admission and tokens at
settlement over a sliding minute: the current one-minute UTC window's count plus the previous window's,
weighted by the share of it still inside the last 60 s (the sliding-window-counter estimate), so bursts at a
window edge cannot pass twice the limit. ``requests_per_minute`` never admits more than the limit in that
estimate; ``tokens_per_minute`` admits while the estimate is under the limit. Anonymous traffic
(``ctx is None``) has no scopes.

Concurrency (``max_concurrent_requests`` on a key or team): admission places a lease on the scope's lease set
in the same atomic step, the Governor renews its leases every third of ``LEASE_TTL_SECONDS`` while they are in
flight, and settlement releases them; a replica that dies holding leases frees them ``LEASE_TTL_SECONDS``
later. Under Redis Cluster every counter of one chain carries the chain's hash tag (its top scope:
``{customer:acme}``), so each admission and settlement touches one slot and runs atomically on one node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bifrostc.runtime.config import Gateway, RedisState, Route
from bifrostc.runtime.errors import BudgetExceeded, NotFound, RateLimited
from bifrostc.runtime.governance import keys as key_policy
from bifrostc.runtime.governance import pricing, reserve, usage
from bifrostc.runtime.governance.keys import KeyContext, KeyRing, Scope
from bifrostc.runtime.governance.periods import RATE_WINDOW_SECONDS, Window, budget_window, rate_window
from bifrostc.runtime.governance.sqlite_store import SqliteCounterStore
from bifrostc.runtime.governance.store import (
    Check,
    CheckKind,
    CounterStore,
    Hold,
    Increment,
    Lease,
    Rejection,
    checked_value,
)
from bifrostc.runtime.router import Router
from bifrostc.runtime.types import ChatRequest, Usage

Clock = Callable[[], float]
# How long a hold outlives its admission if nobody settles it: above any request the gateway lets run
# (Claude Code gives up after 600 s), so only a dead replica's holds ever expire.
HOLD_TTL_SECONDS = 900
LEASE_TTL_SECONDS = 30  # a dead replica's concurrency leases stop counting this long after their last renewal
LEASE_TTL_ENV = "BIFROSTC_LEASE_TTL_S"  # overrides it (whole seconds, >= 3); leases are renewed every third of it
log = logging.getLogger("bifrostc.governance")


@dataclass(slots=True)
class Reservation:
    """What ``admit`` counted; ``settle`` adds the real spend to the same budget windows."""

    key_name: str | None
    spend_counters: tuple[tuple[str, int | None], ...] = ()  # (counter, ttl) per scope
    token_scopes: tuple[str, ...] = ()  # scope ids with a tokens-per-minute limit
    hold: Hold | None = None  # the maximum cost held on the budgeted counters until settlement
    hold_keys: tuple[str, ...] = ()
    lease: Lease | None = None  # the request's slot on every concurrency-limited scope until settlement
    lease_keys: tuple[str, ...] = ()
    settled: bool = False


def _spend_counter(scope: Scope, now: float, tag: str = "") -> tuple[str, Window, str]:
    period = scope.budget.period if scope.budget else "never"
    window = budget_window(period, now)
    return f"{tag}{scope.id}:usd:{period}:{window.id}", window, period


def _rate_counter(scope_id: str, kind: str, now: float) -> tuple[str, Window]:
    """``scope_id`` already carries the chain's hash tag when there is one."""
    window = rate_window(now)
    return f"{scope_id}:{kind}:{window.id}", window


def _rate_check(scope_id: str, kind: CheckKind, limit: float, now: float) -> tuple[Check, Window]:
    """A sliding one-minute check: this window's counter plus the previous one's, weighted by overlap."""
    counter, window = _rate_counter(scope_id, kind[:3], now)
    previous, _ = _rate_counter(scope_id, kind[:3], window.start - RATE_WINDOW_SECONDS)
    weight = 1.0 - (now - window.start) / RATE_WINDOW_SECONDS
    return Check(counter, kind, limit, window.ttl(now, margin=60), previous, weight), window


def _lease_ttl(environ: Mapping[str, str]) -> int:
    raw = environ.get(LEASE_TTL_ENV)
    if not raw:
        return LEASE_TTL_SECONDS
    try:
        return max(3, int(raw))
    except ValueError as exc:
        raise ValueError(f"{LEASE_TTL_ENV} must be whole seconds, not {raw!r}") from exc


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()


class Governor:
    def __init__(
        self, gateway: Gateway, store: CounterStore, *, keyring: KeyRing | None = None, clock: Clock = time.time
    ) -> None:
        self.gateway = gateway
        self.store = store
        self.keyring = keyring or KeyRing(gateway)
        self.prices = pricing.PriceBook(gateway.pricing)
        self._clock = clock
        self._router: Router | None = None  # resolves fallback names for reserve.max_cost; built on first use
        server = gateway.server
        self._tagged = server.state == "redis" and server.redis is not None and server.redis.mode == "cluster"
        self._leases: dict[str, tuple[Lease, tuple[str, ...]]] = {}  # in flight here, renewed until settled
        self._renewer: asyncio.Task[None] | None = None
        self._lease_ttl = _lease_ttl(os.environ)
        for scope in self.all_scopes():  # fail at start-up, not on the first request, for a bad period
            if scope.budget is not None:
                budget_window(scope.budget.period, 0.0)

    @classmethod
    def from_gateway(
        cls,
        gateway: Gateway,
        *,
        redis_url: str | None = None,
        sqlite_path: str | None = None,
        key_prefix: str = "bifrostc:gov:",
        clock: Clock = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> Governor:
        """Redis when ``redis_url`` is given or ``server.state`` is ``redis`` (URL read from
        ``server.redis_url_env``); otherwise SQLite at ``sqlite_path`` (in memory when None: not durable)."""
        env = os.environ if environ is None else environ
        state = None
        if redis_url is None and gateway.server.state == "redis":
            from bifrostc.runtime import redis_client  # loads redis only when used

            state = redis_client.settings(gateway.server)
            if state is None:
                raise ValueError("server.state is redis but neither server.redis nor server.redis_url_env is set")
        store: CounterStore
        if redis_url or state is not None:
            from bifrostc.runtime import redis_client
            from bifrostc.runtime.governance.redis_store import RedisCounterStore
            from bifrostc.runtime.governance.resilient import ResilientCounterStore, StateFailure

            try:
                handle = redis_client.from_url(redis_url, decode=True) if redis_url else None
                handle = handle or redis_client.connect(state or RedisState(), env, decode=True)
            except RuntimeError as exc:
                raise ValueError(str(exc)) from exc
            redis_store = RedisCounterStore(handle, prefix=key_prefix)
            mode: StateFailure = "open" if gateway.server.state_failure == "open" else "closed"
            store = ResilientCounterStore(redis_store, mode, errors=RedisCounterStore.errors)
        else:
            store = SqliteCounterStore(sqlite_path or ":memory:")
        return cls(gateway, store, keyring=KeyRing(gateway, env), clock=clock)

    # --- who and what --------------------------------------------------------------------------------
    def authenticate(self, headers: Mapping[str, str]) -> KeyContext | None:
        return self.keyring.authenticate(headers)

    def tool_allowed(self, ctx: KeyContext | None, tool_name: str) -> bool:
        return key_policy.tool_allowed(ctx, tool_name, self.gateway.server.mcp_default)

    def mcp_server_allowed(self, ctx: KeyContext | None, server: str) -> bool:
        return key_policy.mcp_server_allowed(ctx, server, self.gateway.server.mcp_default)

    def cost_usd(self, provider: str, model: str, usage: Usage) -> float:
        """The response's cost with the spec's ``pricing:`` overrides applied."""
        return self.prices.cost(provider, model, usage)

    def max_cost(
        self, ctx: KeyContext | None, route: Route, request: ChatRequest | None, content_length: str | None
    ) -> float:
        """What admission holds for this request (see reserve.py); 0.0 when no scope has a budget."""
        if ctx is None or not any(scope.budget is not None for scope in ctx.scopes):
            return 0.0
        body_bytes = reserve.body_size(content_length, request)
        return reserve.max_cost(self.gateway, route, request, body_bytes, self._resolve)

    def _resolve(self, name: str) -> Route | None:
        if self._router is None:
            self._router = Router(self.gateway)
        try:
            return self._router.resolve(name)
        except NotFound:
            return None

    # --- how much ------------------------------------------------------------------------------------
    def _tag(self, scopes: tuple[Scope, ...]) -> str:
        """The chain's Redis Cluster hash tag (its top scope), or "" when the store needs none."""
        return "{" + scopes[-1].id + "}:" if self._tagged and scopes else ""

    def _scope_tag(self, scope: Scope) -> str:
        """The tag of the chain ``scope`` sits in (a key's or team's top scope is its customer, else its team)."""
        if not self._tagged:
            return ""
        top = scope.id
        team = scope.name if scope.kind == "team" else None
        if scope.kind == "key":
            key = next((k for k in self.gateway.virtual_keys if k.name == scope.name), None)
            team = key.team if key else None
            top = f"team:{team}" if team else top
        if team is not None and (owner := self.gateway.teams.get(team)) is not None and owner.customer:
            top = f"customer:{owner.customer}"
        return "{" + top + "}:"

    def _checks(self, scopes: tuple[Scope, ...], now: float) -> list[tuple[Check, Scope, Window]]:
        checks: list[tuple[Check, Scope, Window]] = []
        tag = self._tag(scopes)
        for scope in scopes:
            if scope.budget is not None:
                counter, window, _ = _spend_counter(scope, now, tag)
                checks.append((Check(counter, "spend", scope.budget.max_usd, window.ttl(now)), scope, window))
            limit = scope.rate_limit
            if limit is not None and limit.requests_per_minute is not None:
                check, window = _rate_check(tag + scope.id, "requests", limit.requests_per_minute, now)
                checks.append((check, scope, window))
            if limit is not None and limit.tokens_per_minute is not None:
                check, window = _rate_check(tag + scope.id, "tokens", limit.tokens_per_minute, now)
                checks.append((check, scope, window))
            if scope.max_concurrent is not None:
                window = rate_window(now)  # unused by the check; the refusal's retry-after is 1 s
                check = Check(f"{tag}{scope.id}:inflight", "concurrent", scope.max_concurrent, self._lease_ttl)
                checks.append((check, scope, window))
        return checks

    async def admit(self, ctx: KeyContext | None, max_cost: float = 0.0) -> Reservation:
        """Check every scope's budget and rate limits atomically, count the request and hold ``max_cost``
        (USD) on every budget of the chain until :meth:`settle`."""
        if ctx is None:
            return Reservation(key_name=None)
        now = self._clock()
        checks = self._checks(ctx.scopes, now)
        hold_keys = tuple(check.key for check, _, _ in checks if check.kind == "spend")
        hold = Hold(os.urandom(12).hex(), max_cost, HOLD_TTL_SECONDS) if max_cost > 0 and hold_keys else None
        lease_keys = tuple(check.key for check, _, _ in checks if check.kind == "concurrent")
        lease = Lease(os.urandom(12).hex(), self._lease_ttl) if lease_keys else None
        rejection = await self.store.check_and_count([check for check, _, _ in checks], hold, lease)
        if rejection is not None:
            check, scope, window = checks[rejection.index]
            raise _refusal(check, scope, window, rejection, now, hold)
        tag = self._tag(ctx.scopes)
        spend_counters = []
        for scope in ctx.scopes:  # every scope accrues spend; unbudgeted ones in a "never" window for reports
            counter, window, _ = _spend_counter(scope, now, tag)
            spend_counters.append((counter, window.ttl(now)))
        token_scopes = tuple(
            tag + s.id for s in ctx.scopes if s.rate_limit is not None and s.rate_limit.tokens_per_minute is not None
        )
        if lease is not None:
            self._leases[lease.id] = (lease, lease_keys)
            self._start_renewing()
        return Reservation(
            ctx.key_name, tuple(spend_counters), token_scopes, hold, hold_keys if hold else (), lease, lease_keys
        )

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="bifrostc-lease-renewal")

    async def _renew(self) -> None:
        """Keep this replica's leases alive while their requests run; stops when none are left."""
        while self._leases:
            await asyncio.sleep(self._lease_ttl / 3)
            try:
                await self.store.renew(list(self._leases.values()))
            except Exception:  # a failed renewal is retried at the next interval; leases outlive two misses
                log.warning("renewing concurrency leases failed", exc_info=True)

    async def settle(self, reservation: Reservation, cost_usd: float, tokens: int) -> None:
        """Add the request's real cost and tokens; a second call for one reservation is ignored."""
        if reservation.settled:
            return
        reservation.settled = True
        if reservation.lease is not None:
            self._leases.pop(reservation.lease.id, None)
            try:
                await self.store.release(reservation.lease, reservation.lease_keys)
            except Exception:  # an unreleased lease expires by itself
                log.warning("releasing a concurrency lease failed; it expires by itself", exc_info=True)
        increments: list[Increment] = []
        if cost_usd > 0:
            increments += [Increment(counter, cost_usd, ttl) for counter, ttl in reservation.spend_counters]
        if tokens > 0:
            now = self._clock()
            for scope_id in reservation.token_scopes:
                counter, window = _rate_counter(scope_id, "tok", now)
                increments.append(Increment(counter, tokens, window.ttl(now, margin=60)))
        await self.store.settle(reservation.hold, reservation.hold_keys, increments)

    # --- standing against the budgets (what Claude Code shows) ---------------------------------------
    async def standings(self, ctx: KeyContext | None) -> list[usage.Standing]:
        """Each budget of the key's chain with what its current window has spent (holds not included)."""
        if ctx is None:
            return []
        now = self._clock()
        budgeted = [scope for scope in ctx.scopes if scope.budget is not None]
        counters = [_spend_counter(scope, now) for scope in budgeted]
        values = await self.store.read([counter for counter, _, _ in counters]) if counters else []
        return [
            usage.Standing(scope, spent, scope.budget.max_usd, period, window.end)
            for scope, (_, window, period), spent in zip(budgeted, counters, values, strict=True)
            if scope.budget is not None
        ]

    async def capacity(self, ctx: KeyContext | None, names: frozenset[str]) -> dict[str, float]:
        """The routing rules' live levels, 0-100: ``budget_used`` (spend of the current budget window),
        ``tokens_used`` and ``request`` (the sliding-minute estimates the rate limits check), each the fullest
        scope of the key's chain that has that limit, read from the same counters admission uses (one store
        read). A name whose limit no scope has is 0; holds of requests in flight are not counted."""
        if ctx is None or not names:
            return {}
        now, tag = self._clock(), self._tag(ctx.scopes)
        wanted: list[tuple[str, Check]] = []
        for scope in ctx.scopes:
            if "budget_used" in names and scope.budget is not None:
                counter, window, _ = _spend_counter(scope, now, tag)
                wanted.append(("budget_used", Check(counter, "spend", scope.budget.max_usd, window.ttl(now))))
            limit = scope.rate_limit
            rates: tuple[tuple[str, CheckKind, float | None], ...] = (
                ("request", "requests", limit.requests_per_minute if limit else None),
                ("tokens_used", "tokens", limit.tokens_per_minute if limit else None),
            )
            for name, kind, value in rates:
                if name in names and value:
                    wanted.append((name, _rate_check(tag + scope.id, kind, value, now)[0]))
        keys = [k for _, check in wanted for k in (check.key, check.previous_key or check.key)]
        values = await self.store.read(keys) if keys else []
        levels = dict.fromkeys(names, 0.0)
        for i, (name, check) in enumerate(wanted):
            value = checked_value(check, values[2 * i], values[2 * i + 1])
            levels[name] = max(levels[name], 100.0 * value / check.limit)
        return levels

    async def usage_headers(self, ctx: KeyContext | None) -> dict[str, str]:
        """The `anthropic-ratelimit-unified-*` headers of an admitted request's answer; none without a budget."""
        standing = usage.fullest(await self.standings(ctx))
        return usage.allowed_headers(standing) if standing is not None else {}

    # --- reporting -----------------------------------------------------------------------------------
    def all_scopes(self) -> list[Scope]:
        """Every key, team and customer of the spec, whether or not a key currently uses it."""
        gw = self.gateway
        scopes = [Scope("key", k.name, k.budget, k.rate_limit, k.max_concurrent_requests) for k in gw.virtual_keys]
        scopes += [Scope("team", t.name, t.budget, t.rate_limit, t.max_concurrent_requests) for t in gw.teams.values()]
        scopes += [Scope("customer", c.name, c.budget, c.rate_limit) for c in gw.customers.values()]
        return scopes

    async def spend_report(self) -> list[dict[str, Any]]:
        """One row per key, team and customer of the spec, for the dashboard.

        Keys: scope ("team:eng"), kind, name, spent_usd (current budget window; all-time when no budget),
        limit_usd, period, window_start and resets_at (ISO-8601 UTC, None for "never"),
        requests_per_minute, tokens_per_minute (limits) and requests_this_minute, tokens_this_minute (the
        sliding estimates the limits are checked against).
        """
        now = self._clock()
        rows: list[dict[str, Any]] = []
        counters: list[str] = []
        rates: list[Check] = []
        for scope in self.all_scopes():
            tag = self._scope_tag(scope)
            counter, window, period = _spend_counter(scope, now, tag)
            rates += [_rate_check(tag + scope.id, kind, 0, now)[0] for kind in ("requests", "tokens")]
            counters.append(counter)
            limit = scope.rate_limit
            rows.append(
                {
                    "scope": scope.id,
                    "kind": scope.kind,
                    "name": scope.name,
                    "limit_usd": scope.budget.max_usd if scope.budget else None,
                    "period": period,
                    "window_start": _iso(window.start if window.end is not None else None),
                    "resets_at": _iso(window.end),
                    "requests_per_minute": limit.requests_per_minute if limit else None,
                    "tokens_per_minute": limit.tokens_per_minute if limit else None,
                }
            )
        values = await self.store.read([*counters, *(k for c in rates for k in (c.key, c.previous_key or c.key))])
        rate_values = values[len(counters) :]
        for i, row in enumerate(rows):
            row["spent_usd"] = values[i]
            req, tok = rates[2 * i], rates[2 * i + 1]
            row["requests_this_minute"] = round(checked_value(req, rate_values[4 * i], rate_values[4 * i + 1]))
            row["tokens_this_minute"] = round(checked_value(tok, rate_values[4 * i + 2], rate_values[4 * i + 3]))
        return rows

    async def healthy(self) -> bool:
        """Whether the counter store answers (Redis reachable); for health and readiness."""
        return await self.store.healthy()

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self.store.aclose()


def _refusal(
    check: Check, scope: Scope, window: Window, rejection: Rejection, now: float, hold: Hold | None
) -> Exception:
    who = f"{scope.kind} {scope.name!r}"
    if check.kind == "spend":
        period = scope.budget.period if scope.budget else "never"
        spent, held = rejection.current, rejection.previous
        cost = hold.amount if hold else 0.0
        if held > 0 and spent + cost <= check.limit and spent < check.limit:
            # Only requests in flight stand in the way: their holds are released within seconds.
            message = f"the budget of {who} is held by requests in flight (${spent:.2f} of ${check.limit:.2f} spent)"
            return RateLimited(message, retry_after=1.0)
        standing = usage.Standing(scope, spent, check.limit, period, window.end)
        left = window.seconds_left(now)
        return BudgetExceeded(
            usage.refusal_sentence(standing, cost),
            retry_after=None if left is None else float(max(1, math.ceil(left))),
            headers=usage.rejected_headers(standing),
        )
    if check.kind == "concurrent":
        message = f"concurrency limit of {who} reached: {int(check.limit)} requests in flight"
        return RateLimited(message, retry_after=1.0)
    unit = "requests" if check.kind == "requests" else "tokens"
    message = f"rate limit of {who} reached: {int(check.limit)} {unit} per minute"
    return RateLimited(message, retry_after=float(max(1, math.ceil(_sliding_wait(check, rejection, window, now)))))


def _sliding_wait(check: Check, rejection: Rejection, window: Window, now: float) -> float:
    """Seconds until the sliding estimate leaves room again, assuming no other traffic meanwhile."""
    room = check.limit - 1 if check.kind == "requests" else check.limit * (1 - 1e-9)
    current, previous = rejection.current, rejection.previous
    if current <= room and previous > 0:  # this window has room once enough of the previous one slides out
        return window.start + RATE_WINDOW_SECONDS * (1 - (room - current) / previous) - now
    # Full within this window alone: wait for the next, where this count becomes the one that slides out.
    share = (1 - room / current) if current > 0 else 0.0
    return (window.end or now) + RATE_WINDOW_SECONDS * max(0.0, share) - now
