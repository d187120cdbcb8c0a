"""The counter store Protocol shared by the embedded (SQLite) and Redis back-ends.

Stores know nothing about budgets or periods: the Governor turns scopes and windows into named counters
(``key:alice:usd:1d:1764028800``) and asks the store for two things only: an atomic check-and-count at
admission, and plain additions at settlement. Keeping the stores this dumb is what lets one behaviour suite
run against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

CheckKind = Literal["spend", "requests", "tokens"]


@dataclass(frozen=True, slots=True)
class Check:
    """One admission condition on a counter.

    ``spend`` and ``tokens`` pass while ``value < limit``; ``requests`` passes while ``value + 1 <= limit``
    and, when every check passes, its counter is incremented by one in the same atomic step.

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
class Rejection:
    index: int  # position of the first failing check
    value: float  # the value it was checked with (sliding checks: the weighted sum)
    current: float = 0.0  # sliding checks: the two counters behind ``value``
    previous: float = 0.0


@dataclass(frozen=True, slots=True)
class Increment:
    key: str
    amount: float
    ttl: int | None


def checked_value(check: Check, current: float, previous: float) -> float:
    """The value a check compares with its limit, from its counter and the previous window's."""
    return current + check.previous_weight * previous if check.previous_key is not None else current


def check_passes(check: Check, value: float) -> bool:
    if check.kind == "requests":
        return value + 1 <= check.limit
    return value < check.limit


class CounterStore(Protocol):
    async def check_and_count(self, checks: Sequence[Check]) -> Rejection | None:
        """Atomically: if every check passes, count the request and return None; else count nothing."""
        ...

    async def add(self, increments: Sequence[Increment]) -> None: ...

    async def read(self, keys: Sequence[str]) -> list[float]:
        """Current values (0.0 for a missing or expired counter), in ``keys`` order."""
        ...

    async def aclose(self) -> None: ...
