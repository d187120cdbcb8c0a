"""Request-log retention: delete rows older than ``observability.retention_days``, at start-up and then hourly.

Every replica schedules it; on a shared PostgreSQL log one pass runs at a time (the store takes an advisory
lock, and a replica that finds it taken skips its pass: ``skipped``).
Budgets and rate limits live in the governance counters, not the log, so pruning never resets a budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bifrostc.runtime.observability.sink import store_errors
from bifrostc.runtime.observability.store import LogStore

logger = logging.getLogger(__name__)

DAY_S = 86_400.0
PRUNE_EVERY_S = 3_600.0


class LogRetention:
    def __init__(
        self,
        store: LogStore,
        *,
        days: int,
        every_s: float = PRUNE_EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.days = days
        self.every_s = every_s
        self.removed = 0  # rows deleted since start, for tests and the curious
        self.skipped = 0  # passes skipped because another replica was pruning
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def prune_once(self) -> int:
        """Delete what is past retention now; a failing store is logged and retried at the next pass."""
        try:
            count = await self.store.prune(self._clock() - self.days * DAY_S)
        except store_errors() as exc:
            logger.warning("request log retention: prune failed, will retry: %s", exc)
            return 0
        if count is None:
            self.skipped += 1
            logger.debug("request log retention: another replica is pruning; skipped this pass")
            return 0
        self.removed += count
        if count:
            logger.info("request log retention: deleted %d rows older than %d days", count, self.days)
        return count

    def start(self) -> None:
        """Start pruning in the background (the store must be open)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bifrostc-log-retention")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            await self.prune_once()
            await asyncio.sleep(self.every_s)
