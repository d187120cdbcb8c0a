"""Claude Code's OTLP exports relayed verbatim to the spec's collectors
(``observability.claude_code_telemetry.forward_to``).

``send`` never waits: each collector gets the payload in a background task, at most ``max_in_flight`` at a time
(beyond that an export is not relayed and counted as dropped), and a collector that keeps failing has its own
circuit breaker open (``dispatch.CircuitBreaker``), so a dead collector costs one check per export, never a
slower answer to Claude Code or to inference.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from bifrostc.runtime.config import ClaudeCodeTelemetry
from bifrostc.runtime.dispatch import CircuitBreaker

log = logging.getLogger("bifrostc.claude_gateway")
RELAY_TIMEOUT_S = 10.0


@dataclass
class Destination:
    url: str  # the collector's OTLP/HTTP base; exports go to <url>/v1/<signal>
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    in_flight: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0  # not relayed: too many under way, or the breaker open


class TelemetryRelay:
    def __init__(self, config: ClaudeCodeTelemetry, environ: Mapping[str, str]) -> None:
        self.max_in_flight = config.max_in_flight
        self.destinations = [Destination(url.rstrip("/")) for url in config.forward_to]
        self._headers = {name: environ.get(env, "") for name, env in config.headers_env.items()}
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, signal: str, payload: bytes, content_type: str | None) -> None:
        for destination in self.destinations:
            if destination.in_flight >= self.max_in_flight or not destination.breaker.allow():
                destination.dropped += 1
                continue
            destination.breaker.on_attempt()
            destination.in_flight += 1
            task = asyncio.get_running_loop().create_task(self._post(destination, signal, payload, content_type))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, destination: Destination, signal: str, payload: bytes, content_type: str | None) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=RELAY_TIMEOUT_S)
        headers = {**self._headers, "content-type": content_type or "application/x-protobuf"}
        try:
            answer = await self._client.post(f"{destination.url}/v1/{signal}", content=payload, headers=headers)
            ok = answer.status_code < 500 and answer.status_code != 429
        except httpx.HTTPError as exc:
            log.warning("telemetry relay to %s failed: %s", destination.url, type(exc).__name__)
            ok = False
        finally:
            destination.in_flight -= 1
        if ok:
            destination.sent += 1
            destination.breaker.on_success()
        else:
            destination.failed += 1
            destination.breaker.on_failure()

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=RELAY_TIMEOUT_S)
        if self._client is not None:
            await self._client.aclose()
