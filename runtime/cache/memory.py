"""In-process cache store: TTL per entry, LRU eviction beyond ``max_entries``."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class MemoryStore:
    errors: tuple[type[BaseException], ...] = ()  # in-process: nothing to fail but bugs

    def __init__(self, *, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_entries = max(1, max_entries)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # key -> (expires_at, value)
        self._buckets: dict[str, dict[str, list[float]]] = {}  # bucket -> entry key -> vector
        self._bucket_of: dict[str, str] = {}  # entry key -> bucket, to drop vectors with their entry

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        item = self._entries.get(key)
        if item is None:
            return None
        expires_at, value = item
        if expires_at <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def put(self, key: str, value: bytes, *, ttl: int) -> None:
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    async def add_vector(self, bucket: str, key: str, vector: list[float], *, ttl: int) -> None:
        # The vector lives exactly as long as its entry, so ttl is already enforced by get().
        if key not in self._entries:
            return
        self._buckets.setdefault(bucket, {})[key] = vector
        self._bucket_of[key] = bucket

    async def vectors(self, bucket: str) -> list[tuple[str, list[float]]]:
        return list(self._buckets.get(bucket, {}).items())

    async def close(self) -> None:
        self._entries.clear()
        self._buckets.clear()
        self._bucket_of.clear()

    def _drop(self, key: str) -> None:
        self._entries.pop(key, None)
        bucket = self._bucket_of.pop(key, None)
        if bucket is None:
            return
        members = self._buckets.get(bucket)
        if members is not None:
            members.pop(key, None)
            if not members:
                del self._buckets[bucket]
