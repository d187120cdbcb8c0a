"""Counting windows: budget periods (never, 1h, 1d, 1w, 1M) and the one-minute rate-limit window, in UTC.

A window is identified by its start (epoch seconds), so counters for a new period start from zero simply
because their key changes; nothing has to be reset. Weeks start on Monday 00:00 UTC, months on the 1st.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

PERIODS = ("never", "1h", "1d", "1w", "1M")
_FIXED_SECONDS = {"1h": 3600, "1d": 86_400, "1w": 604_800}
_MONDAY_OFFSET = 4 * 86_400  # 1970-01-01 was a Thursday; the first Monday is 4 days later
RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float | None  # None: the window never ends (period "never")

    @property
    def id(self) -> str:
        return "all" if self.end is None else str(int(self.start))

    def ttl(self, now: float, margin: int = 3600) -> int | None:
        """Seconds a counter for this window must live; the margin lets late settlements land."""
        return None if self.end is None else max(1, int(self.end - now) + margin)

    def seconds_left(self, now: float) -> float | None:
        return None if self.end is None else max(0.0, self.end - now)


def _month_window(now: float) -> Window:
    moment = datetime.fromtimestamp(now, UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return Window(start.timestamp(), end.timestamp())


def budget_window(period: str, now: float) -> Window:
    """The budget window of ``period`` containing ``now``; raises ValueError for an unknown period."""
    if period == "never":
        return Window(0.0, None)
    if period == "1M":
        return _month_window(now)
    length = _FIXED_SECONDS.get(period)
    if length is None:
        raise ValueError(f"unknown budget period {period!r}; expected one of {', '.join(PERIODS)}")
    offset = _MONDAY_OFFSET if period == "1w" else 0
    start = (now - offset) // length * length + offset
    return Window(start, start + length)


def rate_window(now: float) -> Window:
    start = now // RATE_WINDOW_SECONDS * RATE_WINDOW_SECONDS
    return Window(start, start + RATE_WINDOW_SECONDS)
