"""The counter store Protocol shared by the embedded (SQLite) and Redis back-ends.

Stores know nothing about budgets or periods: the Governor turns scopes and windows into named counters
(``key:alice:usd:1d:1764028800``) and asks the store for two things only: an atomic check-and-count at
admission (which may also place a :class:`Hold` on the budget counters), and an atomic settlement (release
the hold, add the real amounts). Keeping the stores this dumb is what lets one behaviour suite run against both.

A hold is what makes budgets exact across replicas: the request's largest possible cost is counted against
the budget in the same atomic step as the check, so requests in flight can never add up past the limit.
Holds expire ``ttl`` seconds after admission, so a replica that died mid-request frees its holds by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bifrostc.runtime.errors import GatewayError

CheckKind = Literal["spend", "requests", "tokens", "concurrent"]


@dataclass(frozen=True, slots=True)
class Check:
    """One admission condition on a counter.

    ``spend`` and ``tokens`` pass while ``value < limit``; ``requests`` passes while ``value + 1 <= limit``
    and, when every check passes, its counter is incremented by one in the same atomic step. ``concurrent``
    counts the unexpired leases on ``key`` (requests in flight) and passes while ``value + 1 <= limit``; when
    every check passes the admission's :class:`Lease` is placed on it. A ``spend``
    check's value is the counter plus the unexpired holds on it, and with a hold it also needs
    ``value + hold.amount <= limit``.

    Rate limits slide: ``value`` is ``counter + previous_weight * previous_key's counter`` (the previous
    window's count, weighted by how much of it still overlaps the last minute), so a burst at a window edge
    cannot pass twice the limit. Budgets leave ``previous_key`` unset.
    """

    key: str
    kind: CheckKind
    limit: float
    ttl: int | None  # seconds the counter must live; None: forever
    previous_key: str | None = None
    previous_weight: float = 0.0


@dataclass(frozen=True, slots=True)
class Hold:
    """Spend held on every ``spend`` check's counter from admission until settlement (or ``ttl`` seconds)."""

    id: str
    amount: float
    ttl: int

    @property
    def member(self) -> str:
        """How the hold is named inside a counter's set of holds (Redis stores its amount in the name)."""
        return f"{self.id}|{self.amount!r}"


@dataclass(frozen=True, slots=True)
class Lease:
    """One request in flight on every ``concurrent`` check's key, from admission until released; a lease
    nobody renews (its replica died) stops counting ``ttl`` seconds after its last renewal."""

    id: str
    ttl: int


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int  # position of the first failing check
    value: float  # the value it was checked with (sliding checks: the weighted sum; spend: spent + held)
    current: float = 0.0  # sliding checks: the two counters behind ``value``; spend: spent
    previous: float = 0.0  # spend: held by requests in flight


@dataclass(frozen=True, slots=True)
class Increment:
    key: str
    amount: float
    ttl: int | None


def checked_value(check: Check, current: float, previous: float) -> float:
    """The value a check compares with its limit, from its counter and the previous window's."""
    return current + check.previous_weight * previous if check.previous_key is not None else current


def check_passes(check: Check, value: float, hold: Hold | None = None) -> bool:
    if check.kind in ("requests", "concurrent"):
        return value + 1 <= check.limit
    if check.kind == "spend" and hold is not None:
        return value < check.limit and value + hold.amount <= check.limit
    return value < check.limit


class StateUnavailable(GatewayError):
    """The shared counter store (Redis) cannot be reached and ``server.state_failure`` is ``closed``."""

    status = 503
    anthropic_type = "api_error"
    openai_type = "server_error"
    openai_code = "state_unavailable"


class CounterStore(Protocol):
    async def check_and_count(
        self, checks: Sequence[Check], hold: Hold | None = None, lease: Lease | None = None
    ) -> Rejection | None:
        """Atomically: if every check passes, count the request (place ``hold`` on every spend check's counter
        and ``lease`` on every concurrent check's key) and return None; else count nothing."""
        ...

    async def release(self, lease: Lease, keys: Sequence[str]) -> None:
        """Drop ``lease`` from the concurrent keys ``keys`` (if still there)."""
        ...

    async def renew(self, leases: Sequence[tuple[Lease, Sequence[str]]]) -> None:
        """Push the expiry of each live lease ``ttl`` seconds ahead (a released or expired one stays gone)."""
        ...

    async def settle(self, hold: Hold | None, keys: Sequence[str], increments: Sequence[Increment]) -> None:
        """Atomically drop ``hold`` from the counters ``keys`` (if still there) and add ``increments``."""
        ...

    async def add(self, increments: Sequence[Increment]) -> None: ...

    async def read(self, keys: Sequence[str]) -> list[float]:
        """Current values (0.0 for a missing or expired counter), in ``keys`` order."""
        ...

    async def healthy(self) -> bool:
        """Whether the store answers now (readiness; the embedded store always does)."""
        ...

    async def aclose(self) -> None: ...
