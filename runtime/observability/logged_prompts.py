"""System prompts the request log already holds: a row whose long system prompt a recent row of the same caller
logged in full names that row instead of repeating it (issue 15).

Claude Code sends the same ~28 KB system prompt with every session's first turn, every subagent's first turn and
many side requests. Logged each time, it was most of such a row (40 KB) and of the row's write (SQLite: ~120 of
~160 µs, on the answer's path, since answers wait for their row). Later turns already leave it out
(`records.apply_request`: "logged with earlier turns"). A row is named only when this process logged it within
`TTL_SECONDS` for the same caller (virtual key or client label): a row that caller may read, and that retention
(whole days) has not pruned. A hot reload starts a new memo: the next such row holds the prompt in full again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import orjson

from bifrostc.runtime.observability.text_keys import text_key
from bifrostc.runtime.types import TextPart

MIN_CHARS = 2048  # a shorter prompt is logged as it is: naming a row would save little
TTL_SECONDS = 3600.0
MAX_ENTRIES = 64
MAX_CHARS = 4_000_000  # the prompts the memo keeps alive, all together

_Key = tuple[str | None, tuple[tuple[tuple[int, str, str], bytes | None], ...]]


class LoggedPrompts:
    """Which row holds each long system prompt, per caller, for the last `ttl` seconds."""

    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._rows: dict[_Key, tuple[str, float, tuple[str, ...]]] = {}
        self._chars = 0

    def logged_in(self, caller: str | None, system: Sequence[TextPart], request_id: str) -> str | None:
        """The id of a recent row of ``caller`` that logged this very prompt in full; None when there is none,
        and then the row ``request_id`` is taken to log it (the next such request names it)."""
        chars = sum(len(part.text) for part in system)
        if chars < MIN_CHARS:
            return None
        key = (caller, tuple((text_key(part.text), _mark(part.cache_control)) for part in system))
        texts = tuple(part.text for part in system)
        now = self._clock()
        found = self._rows.get(key)
        if found is not None and found[2] != texts:
            found = None  # another prompt with the same ends and length: this one is logged (and kept) instead
        elif found is not None and now - found[1] < self._ttl:
            return found[0]
        if found is None:
            if len(self._rows) >= MAX_ENTRIES or self._chars + chars > MAX_CHARS:
                self._rows.clear()  # many distinct long prompts at once: start over, never grow past the bound
                self._chars = 0
            self._chars += chars
        self._rows[key] = (request_id, now, texts)
        return None


def _mark(cache_control: dict[str, object] | None) -> bytes | None:
    """A part's cache_control as a hashable value (the logged prompt includes it)."""
    return None if cache_control is None else orjson.dumps(cache_control, option=orjson.OPT_SORT_KEYS)
