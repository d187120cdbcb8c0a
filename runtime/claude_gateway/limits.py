"""Per-client-IP request limits for the unauthenticated sign-in endpoints (RFC 8628 §5.1, §5.2)."""

from __future__ import annotations

from collections import OrderedDict, deque

_MAX_TRACKED = 10_000  # addresses remembered; the least recently seen are forgotten first
_WINDOW_S = 60.0


class IpLimiter:
    """At most ``per_minute`` requests per address over a sliding minute (in memory, per process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, address: str, now: float) -> bool:
        times = self._seen.pop(address, None) or deque()
        while times and times[0] <= now - _WINDOW_S:
            times.popleft()
        allowed = len(times) < self.per_minute
        if allowed:
            times.append(now)
        self._seen[address] = times
        while len(self._seen) > _MAX_TRACKED:
            self._seen.popitem(last=False)
        return allowed
