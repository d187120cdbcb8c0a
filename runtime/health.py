"""Health sources: the seam through which a subsystem reports whether it can do its job right now.

``/health/live`` answers 200 while the process serves; ``/health/ready`` runs every *required* source and the
routing-module check and answers 503 while any fails; ``/health`` runs them all (optional ones too, e.g. MCP
servers) and answers 503 when anything is degraded. A subsystem plugs in by putting an object with a ``name``,
a ``required`` flag and an ``async check() -> bool`` into ``Parts.health_sources`` (runtime/assembly.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, runtime_checkable

log = logging.getLogger("bifrostc.health")

CHECK_TIMEOUT_S = 2.5  # a check that cannot answer in time counts as failing: probes must answer promptly


@runtime_checkable
class HealthSource(Protocol):
    name: str  # the key in the health body, e.g. "log_store", "governance_store"
    required: bool  # readiness fails while a required source fails; an optional one only degrades /health

    async def check(self) -> bool:
        """True while the subsystem works; must not raise for an outage (an exception counts as False)."""
        ...


async def _one(source: HealthSource, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            return bool(await source.check())
    except Exception as exc:  # a check that raises is a failing check, never a 500 from the probe
        log.warning("health check %s failed: %s: %s", source.name, type(exc).__name__, exc)
        return False


async def run_checks(
    sources: list[HealthSource], *, required_only: bool, timeout: float = CHECK_TIMEOUT_S
) -> dict[str, bool]:
    """Each source's verdict, checked concurrently."""
    chosen = [s for s in sources if s.required or not required_only]
    results = await asyncio.gather(*(_one(s, timeout) for s in chosen))
    return {s.name: ok for s, ok in zip(chosen, results, strict=True)}
