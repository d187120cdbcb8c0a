"""Helpers shared by the governance tests (a uniquely named module: every test dir has a conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as redis_async

from bifrostc.runtime.config import Gateway, Server, VirtualKey

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class FakeClock:
    now: float = datetime(2026, 3, 11, 10, 30, 15, tzinfo=UTC).timestamp()  # a Wednesday

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_gateway(*keys: VirtualKey, require_key: bool = False, **tables: object) -> Gateway:
    server = Server(require_key=require_key)
    return Gateway(providers={}, routes={}, virtual_keys=keys, server=server, **tables)  # type: ignore[arg-type]


async def delete_prefix(client: redis_async.Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
