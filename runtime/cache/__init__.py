"""Response caching: exact and semantic, in memory or Redis. The app uses :class:`ResponseCache`.

Public names load lazily (module ``__getattr__``): importing a light submodule (``keys``, ``codec``) does not
load the cache and its Redis client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bifrostc.runtime.lazy import lazy_exports

if TYPE_CHECKING:
    from bifrostc.runtime.cache.response_cache import CACHEABLE_STOP_REASONS, Embedder, ResponseCache

_EXPORTS: dict[str, str] = {
    "CACHEABLE_STOP_REASONS": "bifrostc.runtime.cache.response_cache",
    "Embedder": "bifrostc.runtime.cache.response_cache",
    "ResponseCache": "bifrostc.runtime.cache.response_cache",
}

__all__ = [
    "CACHEABLE_STOP_REASONS",
    "Embedder",
    "ResponseCache",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
