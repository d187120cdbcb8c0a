"""The shared counter store (Redis) with a configured answer for its outages: ``server.state_failure``.

``closed`` (the default): while Redis is unreachable, admission refuses with a 503 in the caller's dialect and
a ``retry-after`` (``StateUnavailable``). ``open``: admission runs on in-process counters (an in-memory
SQLite store) that start empty, so each replica enforces budgets and rate limits on what it counted during
the outage only; spend from before is not seen. Either way, settlement never fails: a request already
admitted (a stream in flight) is billed, with what it could not write to Redis kept here and added to Redis
in one atomic step once it answers again, along with the release of the holds it could not release. Redis is
probed at most once every ``PROBE_SECONDS`` while down (the next admission after that tries it), so an
outage costs one failed connection per second rather than one per request; redis-py reconnects by itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Literal

from bifrostc.runtime.governance.sqlite_store import SqliteCounterStore
from bifrostc.runtime.governance.store import (
    Check,
    CounterStore,
    Hold,
    Increment,
    Rejection,
    StateUnavailable,
)

log = logging.getLogger("bifrostc.governance")

PROBE_SECONDS = 1.0
StateFailure = Literal["closed", "open"]


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
        self._local_holds: set[str] = set()  # holds placed on the local store (admitted during an outage)
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._releases: list[tuple[Hold, tuple[str, ...]]] = []  # Redis holds to release once it answers
        self._spool: dict[str, Increment] = {}  # additions Redis has not had yet, merged per counter
        self._lock = asyncio.Lock()

    @property
    def down(self) -> bool:
        return self._down_since is not None

    @property
    def backlog(self) -> int:
        """Settlements waiting for Redis (counters to add to, holds to release)."""
        return len(self._spool) + len(self._releases)

    def _mark_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = self._clock()
            log.error("shared state store unreachable (%s): state_failure is %s", exc, self.mode)
        self._next_probe = self._clock() + PROBE_SECONDS

    async def _reachable(self) -> bool:
        """True when Redis may be used now; while down, probe it (and replay the spool) once per interval."""
        if self._down_since is None:
            if self._spool or self._releases:  # spooled by a settlement that raced the last replay
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
        # Take the backlog before awaiting: settlements spooled meanwhile wait for the next replay.
        releases, self._releases = self._releases, []
        spool, self._spool = self._spool, {}
        try:
            while releases:
                hold, keys = releases[0]
                await self.primary.settle(hold, keys, ())  # idempotent: a hold is released once however often
                releases.pop(0)
            if spool:
                await self.primary.settle(None, (), list(spool.values()))  # atomic: added once or not at all
                spool = {}
        finally:
            self._releases[:0] = releases
            for increment in spool.values():
                self._spool_add(increment)

    def _spool_add(self, increment: Increment) -> None:
        spooled = self._spool.get(increment.key)
        amount = increment.amount + (spooled.amount if spooled else 0.0)
        self._spool[increment.key] = Increment(increment.key, amount, increment.ttl)

    def _outage(self) -> float:
        return 0.0 if self._down_since is None else self._clock() - self._down_since

    def _unavailable(self) -> StateUnavailable:
        wait = max(1.0, math.ceil(self._next_probe - self._clock()))
        return StateUnavailable("the gateway's shared state (Redis) is unreachable; retry shortly", retry_after=wait)

    async def check_and_count(self, checks: Sequence[Check], hold: Hold | None = None) -> Rejection | None:
        if await self._reachable():
            try:
                return await self.primary.check_and_count(checks, hold)
            except self._errors as exc:
                self._mark_down(exc)
        if self.mode == "closed":
            raise self._unavailable()
        rejection = await self._local.check_and_count(checks, hold)
        if rejection is None and hold is not None:
            self._local_holds.add(hold.id)
        return rejection

    async def settle(self, hold: Hold | None, keys: Sequence[str], increments: Sequence[Increment]) -> None:
        """Never raises for an outage: what Redis cannot take now is spooled for when it answers."""
        remote_hold = hold
        if hold is not None and hold.id in self._local_holds:
            self._local_holds.discard(hold.id)
            remote_hold = None
            await self._local.settle(hold, keys, ())
        if await self._reachable():
            try:
                await self.primary.settle(remote_hold, keys, increments)
                return
            except self._errors as exc:
                self._mark_down(exc)
        # Spool before any await, so a replay running meanwhile either takes it or leaves it for the next.
        if remote_hold is not None:
            self._releases.append((remote_hold, tuple(keys)))
        for increment in increments:
            self._spool_add(increment)
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
