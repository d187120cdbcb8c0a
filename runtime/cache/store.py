"""The storage contract behind ResponseCache: bytes by key with a TTL, plus per-bucket embedding vectors."""

from __future__ import annotations

from typing import Protocol


class CacheStore(Protocol):
    # Exceptions the backend raises when it fails (beyond OSError/ValueError); the cache treats them as a miss.
    errors: tuple[type[BaseException], ...]

    async def get(self, key: str) -> bytes | None:
        """The stored value, or None when absent or expired."""
        ...

    async def put(self, key: str, value: bytes, *, ttl: int) -> None: ...

    async def add_vector(self, bucket: str, key: str, vector: list[float], *, ttl: int) -> None:
        """Remember ``vector`` (unit length) for the entry ``key`` inside ``bucket``."""
        ...

    async def vectors(self, bucket: str) -> list[tuple[str, list[float]]]:
        """(entry key, vector) pairs of a bucket; entries may have expired since (``get`` then misses)."""
        ...

    async def close(self) -> None: ...
