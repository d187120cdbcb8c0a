from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bifrostc.runtime.governance.periods import budget_window, rate_window


def ts(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("1h", ts(2026, 3, 11, 10, 30), ts(2026, 3, 11, 10), ts(2026, 3, 11, 11)),
        ("1d", ts(2026, 3, 11, 23, 59, 59), ts(2026, 3, 11), ts(2026, 3, 12)),
        ("1w", ts(2026, 3, 11, 10), ts(2026, 3, 9), ts(2026, 3, 16)),  # Wednesday -> Monday..Monday
        ("1w", ts(2026, 3, 9), ts(2026, 3, 9), ts(2026, 3, 16)),
        ("1w", ts(2026, 3, 8, 23, 59), ts(2026, 3, 2), ts(2026, 3, 9)),  # Sunday belongs to the week before
        ("1M", ts(2026, 2, 28, 12), ts(2026, 2, 1), ts(2026, 3, 1)),
        ("1M", ts(2026, 12, 31, 23), ts(2026, 12, 1), ts(2027, 1, 1)),
    ],
)
def test_budget_windows_follow_utc_calendar(period: str, now: float, start: float, end: float) -> None:
    window = budget_window(period, now)
    assert (window.start, window.end) == (start, end)


def test_never_window_is_open_ended() -> None:
    window = budget_window("never", ts(2026, 1, 1))
    assert window.end is None and window.id == "all" and window.ttl(0) is None


def test_unknown_period_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown budget period"):
        budget_window("2d", 0)


def test_rate_window_is_the_current_minute() -> None:
    window = rate_window(ts(2026, 3, 11, 10, 30, 15))
    assert (window.start, window.end) == (ts(2026, 3, 11, 10, 30), ts(2026, 3, 11, 10, 31))
    assert window.seconds_left(ts(2026, 3, 11, 10, 30, 15)) == 45
