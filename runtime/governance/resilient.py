"""The shared counter store (Redis) with a configured answer for its outages: ``server.state_failure``.

``closed`` (the default): while Redis is unreachable, admission refuses with a 503 in the caller's dialect and
a ``retry-after`` (``StateUnavailable``). ``open``: admission runs on in-process counters (an in-memory
SQLite store) that start empty, so each replica enforces budgets and rate limits on what it counted during
the outage only; spend from before is not seen. Either way, settlement never fails: a request already
admitted (a stream in flight) is billed, with each settlement Redis could not take (or no replica
acknowledged) kept here whole and sent again once Redis answers: settlements are idempotent by id, so one
that did reach Redis before the connection broke (or reached a master that was then promoted away) counts
exactly once. Leases that cannot be released during an outage simply expire. Redis is
probed at most once every ``PROBE_SECONDS`` while down (the next admission after that tries it), so an
outage costs one failed connection per second rather than one per request; redis-py reconnects by itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bifrostc.runtime.governance.redis_store import NotReplicated, RedisCounterStore
from bifrostc.runtime.governance.sqlite_store import SqliteCounterStore
from bifrostc.runtime.governance.store import (
    Check,
    CounterStore,
    Hold,
    Increment,
    Lease,
    Rejection,
    StateUnavailable,
)

log = logging.getLogger("bifrostc.governance")

PROBE_SECONDS = 1.0
StateFailure = Literal["closed", "open"]


@dataclass(frozen=True, slots=True)
class Pending:
    """A settlement Redis has not confirmed, sent again under the same id until it has."""

    id: str
    hold: Hold | None
    keys: tuple[str, ...]
    increments: tuple[Increment, ...]
    tries: int = 0


class ResilientCounterStore:
    """Also a health source (``name``, ``required``, ``check``): closed mode cannot admit without Redis, so
    readiness needs it; open mode only reports it as degraded."""

    name = "governance_store"

    def __init__(
        self,
        primary: CounterStore,
        mode: StateFailure = "closed",
        *,
        errors: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.mode = mode
        self._errors: tuple[type[BaseException], ...] = (OSError, TimeoutError, *errors)  # the client's own too
        self._clock = clock
        self._local = SqliteCounterStore(":memory:")
        self._local_holds: set[str] = set()  # holds and leases placed on the local store (during an outage)
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._pending: list[Pending] = []  # settlements Redis has not confirmed, oldest first
        self._lock = asyncio.Lock()

    @property
    def down(self) -> bool:
        return self._down_since is not None

    @property
    def backlog(self) -> int:
        """Settlements waiting for Redis."""
        return len(self._pending)

    def _mark_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = self._clock()
            log.error("shared state store unreachable (%s): state_failure is %s", exc, self.mode)
        self._next_probe = self._clock() + PROBE_SECONDS

    async def _reachable(self) -> bool:
        """True when Redis may be used now; while down, probe it (and replay the spool) once per interval."""
        if self._down_since is None:
            if self._pending:  # kept by a settlement that raced the last replay, or not acknowledged
                async with self._lock:
                    try:
                        await self._replay()
                    except self._errors as exc:
                        self._mark_down(exc)
                        return False
            return True
        if self._clock() < self._next_probe:
            return False
        async with self._lock:
            if self._down_since is None:
                return True
            if self._clock() < self._next_probe:
                return False
            self._next_probe = self._clock() + PROBE_SECONDS
            try:
                await self._replay()
            except self._errors:
                return False
            log.warning("shared state store is back after %.1f s; outage spend reconciled", self._outage())
            self._down_since = None
            self._local = SqliteCounterStore(":memory:")  # its counts are in Redis now
            self._local_holds.clear()
            return True

    async def _replay(self) -> None:
        if not await self.primary.healthy():
            raise OSError("still unreachable")
        # Take the backlog before awaiting: settlements kept meanwhile wait for the next replay.
        pending, self._pending = self._pending, []
        try:
            while pending:
                item = pending[0]
                try:
                    await self._send(item)
                except NotReplicated:
                    # Redis has it; a replica did not confirm twice: keep going rather than hold it forever.
                    if item.tries >= 1:
                        log.warning("settlement %s kept by Redis without a replica's acknowledgement", item.id)
                    else:
                        self._pending.append(Pending(item.id, item.hold, item.keys, item.increments, 1))
                pending.pop(0)
        finally:
            self._pending[:0] = pending

    async def _send(self, item: Pending) -> None:
        primary = self.primary
        if isinstance(primary, RedisCounterStore):  # same id every time: counted once however often it is sent
            await primary.settle(item.hold, item.keys, item.increments, settlement=item.id)
        else:
            await primary.settle(item.hold, item.keys, item.increments)

    def _outage(self) -> float:
        return 0.0 if self._down_since is None else self._clock() - self._down_since

    def _unavailable(self) -> StateUnavailable:
        wait = max(1.0, math.ceil(self._next_probe - self._clock()))
        return StateUnavailable("the gateway's shared state (Redis) is unreachable; retry shortly", retry_after=wait)

    async def check_and_count(
        self, checks: Sequence[Check], hold: Hold | None = None, lease: Lease | None = None
    ) -> Rejection | None:
        if await self._reachable():
            try:
                return await self.primary.check_and_count(checks, hold, lease)
            except self._errors as exc:
                self._mark_down(exc)
        if self.mode == "closed":
            raise self._unavailable()
        rejection = await self._local.check_and_count(checks, hold, lease)
        if rejection is None:
            self._local_holds.update(placed.id for placed in (hold, lease) if placed is not None)
        return rejection

    async def release(self, lease: Lease, keys: Sequence[str]) -> None:
        """Best effort: a lease Redis does not hear about expires by itself."""
        if lease.id in self._local_holds:
            self._local_holds.discard(lease.id)
            await self._local.release(lease, keys)
            return
        if await self._reachable():
            try:
                await self.primary.release(lease, keys)
            except self._errors as exc:
                self._mark_down(exc)

    async def renew(self, leases: Sequence[tuple[Lease, Sequence[str]]]) -> None:
        local = [(lease, keys) for lease, keys in leases if lease.id in self._local_holds]
        await self._local.renew(local)
        remote = [(lease, keys) for lease, keys in leases if lease.id not in self._local_holds]
        if remote and await self._reachable():
            try:
                await self.primary.renew(remote)
            except self._errors as exc:
                self._mark_down(exc)

    async def settle(self, hold: Hold | None, keys: Sequence[str], increments: Sequence[Increment]) -> None:
        """Never raises for an outage: what Redis does not confirm now is kept and sent again."""
        remote_hold = hold
        if hold is not None and hold.id in self._local_holds:
            self._local_holds.discard(hold.id)
            remote_hold = None
            await self._local.settle(hold, keys, ())
        if remote_hold is None and not increments:
            return
        sid = hold.id if hold is not None else os.urandom(12).hex()
        item = Pending(sid, remote_hold, tuple(keys), tuple(increments))
        if await self._reachable():
            try:
                await self._send(item)
                return
            except NotReplicated:
                self._pending.append(item)  # Redis has it; sent again (a no-op there) until a replica confirms
                return
            except self._errors as exc:
                self._mark_down(exc)
        # Keep it before any await, so a replay running meanwhile either takes it or leaves it for the next.
        self._pending.append(item)
        if self.down:
            await self._local.add(increments)  # open mode admits on these while Redis is away
        else:
            await self._reachable()  # Redis came back while this settled: flush the backlog now

    async def add(self, increments: Sequence[Increment]) -> None:
        await self.settle(None, (), increments)

    async def read(self, keys: Sequence[str]) -> list[float]:
        """Redis's values; while it is down, the counts of the outage (reports say so through ``healthy``)."""
        if await self._reachable():
            try:
                return await self.primary.read(keys)
            except self._errors as exc:
                self._mark_down(exc)
        return await self._local.read(keys)

    @property
    def required(self) -> bool:
        return self.mode == "closed"

    async def check(self) -> bool:
        return await self.healthy()

    async def healthy(self) -> bool:
        if not await self._reachable():
            return False
        if await self.primary.healthy():
            return True
        self._mark_down(OSError("ping failed"))
        return False

    async def aclose(self) -> None:
        await self._local.aclose()
        await self.primary.aclose()
