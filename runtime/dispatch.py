"""Reliability: weighted target/key choice, retries with backoff, fallback chains, circuit breakers, deadlines.

`Dispatcher.run(ctx, route, call)` drives one logical request: for the route and then each fallback route in
order, it makes up to 1 + max_retries attempts, each on a freshly chosen target (skipping (provider, model)
targets whose breaker is open) and key (skipping keys resting after a 429 on that model). `call(attempt)` does
the provider work; for streams it returns only once the first event arrived (`prime`), so an upstream that
fails before its first event still falls back.
That wait is bounded by `network.first_byte_timeout` (headers and first event, from the attempt's start), not by
the read timeout, so a hung upstream costs a minute per attempt before the fallback, not five. On shutdown,
`OPEN_STREAMS.abort_all` ends every relaying stream with an error the handler turns into the dialect's error event.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bifrostc.runtime import config
from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.dialects.relay import request_estimate
from bifrostc.runtime.errors import GatewayError, InvalidRequest, PermissionDenied, UpstreamError
from bifrostc.runtime.observability.redaction import SECRETS, redact_text
from bifrostc.runtime.router import Router
from bifrostc.runtime.transport import credentials
from bifrostc.runtime.transport.wording import is_content_policy, is_overflow
from bifrostc.runtime.types import StreamError

T = TypeVar("T")
# Upstream statuses that mean "this provider/key cannot serve it" rather than "the request is bad": fall back.
FALLBACK_STATUSES = frozenset({401, 403, 404})


class MissingProviderKey(GatewayError):
    """The provider's key env vars are all unset; reported in the client's dialect."""

    status = 500
    anthropic_type = "api_error"
    openai_type = "server_error"
    openai_code = "provider_key_missing"


@dataclass(slots=True)
class Attempt:
    route: config.Route
    target: config.Target
    provider: config.Provider
    adapter: Any
    api_key: str | None
    number: int  # 1-based over the whole request
    key_env: str = ""  # which of the provider's keys (its env var name; "" for a keyless provider)
    credential: dict[str, str] | None = None  # the client's own credential headers (auth: passthrough)
    started: float = field(default_factory=time.monotonic)  # the first-byte deadline counts from here

    @property
    def network(self) -> config.Network:
        return self.provider.network

    @property
    def model(self) -> str:
        return self.target.model


@dataclass(slots=True)
class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown` s lets one trial through (half-open)."""

    threshold: int = 5
    cooldown: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self.trial_in_flight:
            return True
        return False

    def half_opens_in(self) -> float:
        """Seconds until a trial may go through (0 when it may now)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - self.clock())

    def on_attempt(self) -> None:
        if self.state == "half_open":
            self.trial_in_flight = True

    def release(self) -> None:
        self.trial_in_flight = False

    def on_success(self) -> None:
        self.failures, self.opened_at, self.trial_in_flight = 0, None, False

    def on_failure(self) -> None:
        self.failures += 1
        self.trial_in_flight = False
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = self.clock()


# How long a (provider key, model) rests after a 429 that named no retry-after.
DEFAULT_RATE_COOLDOWN = 1.0


@dataclass(slots=True)
class BreakerBoard:
    """One breaker per (provider, model) target, and rate cooldowns per (provider, key, model).

    A failing model opens only its own breaker: the provider's other models, and the same model at another
    provider, keep serving. A 429 is not a failure: the key that got it rests for its retry-after (on that
    model only) while the dispatcher picks another key or target. Threshold and cooldown come from the
    provider's ``network.breaker_threshold`` / ``breaker_cooldown_seconds`` unless the board fixes them.
    """

    threshold: int | None = None
    cooldown: float | None = None
    clock: Callable[[], float] = time.monotonic
    breakers: dict[tuple[str, str], CircuitBreaker] = field(default_factory=dict)
    resting: dict[tuple[str, str, str], float] = field(default_factory=dict)  # -> clock() when usable again

    def get(self, provider: str, model: str, network: config.Network | None = None) -> CircuitBreaker:
        breaker = self.breakers.get((provider, model))
        if breaker is None:
            net = network or config.Network()
            threshold = self.threshold if self.threshold is not None else net.breaker_threshold
            cooldown = self.cooldown if self.cooldown is not None else net.breaker_cooldown_seconds
            breaker = CircuitBreaker(threshold, cooldown, self.clock)
            self.breakers[(provider, model)] = breaker
        return breaker

    def rest(self, provider: str, key: str, model: str, seconds: float) -> None:
        self.resting[(provider, key, model)] = self.clock() + seconds

    def rests_for(self, provider: str, key: str, model: str) -> float:
        """Seconds this key must still rest on this model (0 when it may be used)."""
        until = self.resting.get((provider, key, model))
        if until is None:
            return 0.0
        left = until - self.clock()
        if left <= 0:
            del self.resting[(provider, key, model)]
            return 0.0
        return left


class Dispatcher:
    def __init__(
        self,
        router: Router,
        adapters: dict[str, Any],
        secrets: dict[str, str],
        breakers: BreakerBoard,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.router = router
        self.gateway = router.gateway
        self.adapters = adapters
        self.secrets = secrets
        self.breakers = breakers
        self._sleep = sleep
        self._rand = rand

    def chain(self, route: config.Route) -> Iterator[config.Route]:
        """The route, then its fallbacks in order (`Router.chain`: explain lists the same order)."""
        return self.router.chain(route)

    async def run(self, ctx: RequestContext, route: config.Route, call: Callable[[Attempt], Awaitable[T]]) -> T:
        """The route's chain; a prompt that does not fit, or a content-policy refusal, moves to the route's
        context_fallbacks / content_policy_fallbacks (each with its own chain) when it has them."""
        if route.context_window is not None and ctx.chat is not None:
            size = request_estimate(ctx.chat)
            if size > route.context_window:
                if not route.context_fallbacks:
                    raise InvalidRequest(f"prompt is too long: {size} tokens > {route.context_window} maximum")
                return await self._run_special(ctx, route.context_fallbacks, call, "context_window")
        try:
            return await self._run_chain(ctx, route, call)
        except UpstreamError as exc:
            if route.context_fallbacks and exc.status in (400, 413) and is_overflow(exc.message):
                return await self._run_special(ctx, route.context_fallbacks, call, "context_overflow")
            if route.content_policy_fallbacks and exc.status == 400 and is_content_policy(exc.message):
                return await self._run_special(ctx, route.content_policy_fallbacks, call, "content_policy")
            raise

    async def _run_special(
        self, ctx: RequestContext, names: tuple[str, ...], call: Callable[[Attempt], Awaitable[T]], why: str
    ) -> T:
        last: GatewayError | None = None
        for name in names:
            try:
                result = await self._run_chain(ctx, self.router.resolve(name), call)
            except GatewayError as exc:
                last = exc
                continue
            ctx.fallback_used = True
            ctx.extras["fallback_reason"] = why
            return result
        assert last is not None
        raise last

    async def _run_chain(self, ctx: RequestContext, route: config.Route, call: Callable[[Attempt], Awaitable[T]]) -> T:
        last: GatewayError | None = None
        for position, current in enumerate(self.chain(route)):
            try:
                result = await self._run_route(ctx, current, call)
            except (MissingProviderKey, PermissionDenied, credentials.NoClientCredential) as exc:
                last = exc
                continue
            except UpstreamError as exc:
                if exc.client_credential or not (exc.retryable or exc.status in FALLBACK_STATUSES):
                    raise
                last = exc
                continue
            ctx.fallback_used = position > 0
            return result
        assert last is not None
        raise last

    async def _run_route(self, ctx: RequestContext, route: config.Route, call: Callable[[Attempt], Awaitable[T]]) -> T:
        last: UpstreamError | None = None
        retries = None
        tries = 0
        while retries is None or tries <= retries:
            attempt = self._next_attempt(ctx, route)
            retries = attempt.network.max_retries if retries is None else retries
            breaker = self.breakers.get(attempt.provider.name, attempt.model, attempt.network)
            breaker.on_attempt()
            tries += 1
            try:
                async with asyncio.timeout(attempt.network.total_timeout):
                    with credentials.sending(attempt.provider.name, attempt.credential):
                        result = await call(attempt)
            except TimeoutError:
                last = UpstreamError(
                    f"{attempt.provider.name} timed out after {attempt.network.total_timeout}s",
                    status=504,
                    provider=attempt.provider.name,
                )
            except UpstreamError as exc:
                last = exc
            except BaseException:
                breaker.release()  # no verdict on the provider (cancelled, bad request): free the half-open slot
                raise
            else:
                breaker.on_success()
                return result
            if attempt.credential and last.status in credentials.THE_CLIENTS_OWN:
                breaker.release()  # the caller's own credential or its own limit: no verdict for anyone else
                last.client_credential = True
                raise last
            if not last.retryable:
                breaker.on_success()  # a 4xx says the provider is healthy
                raise last
            if last.status == 429:  # a rate signal, not a failure: rest this key on this model
                breaker.release()
                rest = last.retry_after if last.retry_after is not None else DEFAULT_RATE_COOLDOWN
                self.breakers.rest(attempt.provider.name, attempt.key_env, attempt.model, rest)
                if tries > retries:
                    break
                if self._ready_target(ctx, route):
                    continue  # another key or target can serve at once
            else:
                breaker.on_failure()
            delay = self._backoff(attempt.network, tries - 1, last.retry_after)
            if delay is None or tries > retries:
                break
            await self._sleep(delay)
            if last.status == 429:  # its retry-after has now been waited out
                self.breakers.resting.pop((attempt.provider.name, attempt.key_env, attempt.model), None)
        assert last is not None
        raise last

    def _breaker(self, target: config.Target) -> CircuitBreaker:
        provider = self.gateway.providers.get(target.provider)
        return self.breakers.get(target.provider, target.model, provider.network if provider else None)

    def _key_ready(self, provider: str, model: str) -> Callable[[config.KeyRef], bool]:
        return lambda k: k.env in self.secrets and not self.breakers.rests_for(provider, k.env, model)

    def _serves_now(self, target: config.Target, allowed: Callable[[str], bool] | None) -> bool:
        """Allowed for this key, breaker closed (or half-open and free), and a key not resting on the model."""
        if (allowed is not None and not allowed(target.provider)) or not self._breaker(target).allow():
            return False
        provider = self.gateway.providers.get(target.provider)
        if provider is None or not provider.keys:
            return not self.breakers.rests_for(target.provider, "", target.model)
        keys = [k for k in provider.keys if not k.models or target.model in k.models]
        # A key whose env var is unset does not hide the target: choosing it reports MissingProviderKey.
        return not keys or any(not self.breakers.rests_for(target.provider, k.env, target.model) for k in keys)

    def _ready_target(self, ctx: RequestContext, route: config.Route) -> bool:
        return any(self._serves_now(t, ctx.provider_filter) for t in route.targets)

    def _unavailable(self, route: config.Route, allowed: Callable[[str], bool] | None) -> UpstreamError:
        """Why no target can serve now, with retry-after: the earliest half-open breaker or rested key."""
        targets = [t for t in route.targets if allowed is None or allowed(t.provider)]
        open_for = [self._breaker(t).half_opens_in() for t in targets if not self._breaker(t).allow()]
        if len(open_for) == len(targets):
            names = ", ".join(sorted({f"{t.provider}/{t.model}" for t in targets}))
            message = f"circuit open for every target of route '{route.name}' ({names})"
            return UpstreamError(message, status=503, retry_after=max(1.0, math.ceil(min(open_for))))
        waits = []
        for target in targets:
            provider = self.gateway.providers.get(target.provider)
            keys = [k.env for k in provider.keys] if provider and provider.keys else [""]
            waits += [self.breakers.rests_for(target.provider, key, target.model) for key in keys]
        wait = min((w for w in waits if w > 0), default=DEFAULT_RATE_COOLDOWN)
        message = f"every key of route '{route.name}' is rate limited upstream"
        return UpstreamError(message, status=429, retry_after=float(max(1, math.ceil(wait))))

    def _next_attempt(self, ctx: RequestContext, route: config.Route) -> Attempt:
        allowed = ctx.provider_filter
        if allowed is not None and not any(allowed(t.provider) for t in route.targets):
            raise PermissionDenied(f"this key may not use the providers of route '{route.name}'")
        target = self.router.choose_target(
            route,
            lambda t: self._serves_now(t, allowed),
            session=ctx.session if ctx.attempts == 0 else None,  # retries may spread to the other targets
        )
        if target is None:
            raise self._unavailable(route, allowed)
        provider = self.gateway.providers.get(target.provider)
        adapter = self.adapters.get(target.provider)
        if provider is None or adapter is None:
            raise UpstreamError(f"route '{route.name}' names unknown provider '{target.provider}'", status=502)
        api_key, key_env = None, ""
        forwarded = credentials.for_provider(provider, ctx.credential)
        if forwarded is None and provider.auth == "passthrough":
            raise credentials.NoClientCredential(provider.name, ctx.credential)
        if forwarded is None and provider.keys:
            key = self.router.choose_key(provider, target.model, self._key_ready(provider.name, target.model))
            if key is None:
                key = self.router.choose_key(provider, target.model, lambda k: k.env in self.secrets)
            if key is None:
                envs = ", ".join(k.env for k in provider.keys)
                raise MissingProviderKey(f"provider '{provider.name}' has no API key: set {envs}")
            api_key, key_env = self.secrets[key.env], key.env
        ctx.attempts += 1
        ctx.route, ctx.provider, ctx.upstream_model = route.name, provider.name, target.model
        ctx.billed_to = "client" if forwarded else None
        return Attempt(route, target, provider, adapter, api_key, ctx.attempts, key_env, credential=forwarded)

    def _backoff(self, network: config.Network, retry: int, retry_after: float | None) -> float | None:
        """Exponential backoff with jitter; a retry-after above backoff_max means: go to the fallback now."""
        if retry_after is not None:
            return retry_after if retry_after <= network.backoff_max else None
        ceiling = min(network.backoff_max, network.backoff_initial * 2.0**retry)
        return ceiling * (0.5 + self._rand() / 2)


class ShuttingDown(GatewayError):
    """The gateway stopped before the stream ended (its shutdown grace period ran out)."""

    status = 503
    anthropic_type = "overloaded_error"  # what clients retry on another connection, like a 529
    openai_type = "server_error"
    openai_code = "gateway_shutting_down"


class OpenStreams:
    """The streams still relaying, so shutdown can end each one with an error event instead of a cut."""

    def __init__(self) -> None:
        self._streams: weakref.WeakSet[PrimedStream[Any]] = weakref.WeakSet()

    def add(self, stream: PrimedStream[Any]) -> None:
        self._streams.add(stream)

    def discard(self, stream: PrimedStream[Any]) -> None:
        self._streams.discard(stream)

    def __len__(self) -> int:
        return len(self._streams)

    def abort_all(self, reason: str = "the gateway is shutting down") -> int:
        streams = list(self._streams)
        for stream in streams:
            stream.abort(ShuttingDown(reason))
        return len(streams)


OPEN_STREAMS = OpenStreams()


class PrimedStream(Generic[T]):
    """An upstream stream whose first item already arrived; later items are bounded by read/total deadlines.

    One timer per stream, not an asyncio.timeout per item (~6.5 µs each, ~15% of a 12-delta stream's CPU): the
    timer fires at the earliest moment the current wait could expire and is re-armed from there if it has not.
    """

    def __init__(self, first: T, rest: AsyncIterator[T], attempt: Attempt, deadline: float) -> None:
        self.first = first
        self._rest = rest
        self._pending_first = True
        self.attempt = attempt
        self.deadline = deadline
        self._waiting_since: float | None = None  # monotonic start of the wait in progress
        self._waiter: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._timer: asyncio.TimerHandle | None = None
        self._expired = False
        self._aborted: GatewayError | None = None
        OPEN_STREAMS.add(self)

    def __aiter__(self) -> PrimedStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._aborted is not None:
            raise self._aborted
        if self._pending_first:
            self._pending_first = False
            return _redacted(self.first)
        now = time.monotonic()
        if now >= self.deadline:
            raise self._stalled()
        task = asyncio.current_task()
        assert task is not None
        self._waiting_since, self._waiter, self._cancelling = now, task, task.cancelling()
        if self._timer is None:
            self._arm(now)
        try:
            return _redacted(await anext(self._rest))
        except asyncio.CancelledError:
            if self._aborted is not None and task.uncancel() <= self._cancelling:
                raise self._aborted from None
            if self._expired and task.uncancel() <= self._cancelling:
                raise self._stalled() from None
            raise
        except GatewayError as exc:  # its message reaches the client in an error event: upstream text
            exc.message = redact_text(exc.message)
            raise
        finally:
            self._waiting_since = None
            self._expired = False

    def _expiry(self, since: float) -> float:
        return min(since + self.attempt.network.read_timeout, self.deadline)

    def _arm(self, since: float) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._expiry(since) - time.monotonic())
        self._timer = loop.call_at(loop.time() + delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        since = self._waiting_since
        if since is None:
            return  # not waiting: the next wait arms a fresh timer
        if time.monotonic() >= self._expiry(since) and self._waiter is not None:
            self._expired = True
            self._waiter.cancel()
        else:
            self._arm(since)

    def _stalled(self) -> UpstreamError:
        network = self.attempt.network
        return UpstreamError(
            f"{self.attempt.provider.name} stream stalled (read_timeout {network.read_timeout}s"
            f" / total_timeout {network.total_timeout}s)",
            status=504,
            provider=self.attempt.provider.name,
        )

    def abort(self, error: GatewayError) -> None:
        """End the stream with `error`: at once if it is waiting for the upstream, else at its next item."""
        if self._aborted is not None:
            return
        self._aborted = error
        if self._waiting_since is not None and self._waiter is not None:
            self._waiter.cancel()

    async def aclose(self) -> None:
        OPEN_STREAMS.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await _close(self._rest)


def _redacted(item: T) -> T:
    """An upstream's in-band error reaches the client: a configured secret in it never does."""
    if isinstance(item, bytes):  # passthrough: relayed as received
        return SECRETS.sub_bytes(item)  # type: ignore[return-value]  # bytes is T here
    if isinstance(item, StreamError):
        item.message = redact_text(item.message)
    return item


def first_byte_left(attempt: Attempt) -> float:
    """Seconds left of the attempt's first-byte budget (headers and first event; never above read_timeout)."""
    network = attempt.network
    return attempt.started + min(network.first_byte_timeout, network.read_timeout) - time.monotonic()


def _no_first_byte(attempt: Attempt) -> UpstreamError:
    limit = min(attempt.network.first_byte_timeout, attempt.network.read_timeout)
    return UpstreamError(
        f"{attempt.provider.name} sent nothing within first_byte_timeout {limit}s",
        status=504,
        provider=attempt.provider.name,
    )


@contextlib.asynccontextmanager
async def first_byte(attempt: Attempt) -> AsyncIterator[None]:
    """Bound a stream's wait for response headers by the attempt's first-byte budget (a retryable 504)."""
    try:
        async with asyncio.timeout(max(0.0, first_byte_left(attempt))):
            yield
    except TimeoutError:
        raise _no_first_byte(attempt) from None


async def prime(attempt: Attempt, stream: AsyncIterator[T]) -> PrimedStream[T]:
    """Wait for the first item (within the first-byte budget) so failures before it can still retry or fall
    back."""
    deadline = attempt.started + attempt.network.total_timeout
    try:
        async with asyncio.timeout(max(0.0, first_byte_left(attempt))):
            first = await anext(stream)
    except TimeoutError:
        await _close(stream)
        raise _no_first_byte(attempt) from None
    except StopAsyncIteration:
        raise UpstreamError(
            f"{attempt.provider.name} closed the stream before any event", status=502, provider=attempt.provider.name
        ) from None
    except BaseException:
        await _close(stream)
        raise
    return PrimedStream(first, stream, attempt, deadline)


async def _close(stream: AsyncIterator[Any]) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        await closer()
