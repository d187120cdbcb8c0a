"""Response caching: exact and semantic, in memory or Redis. The app uses :class:`ResponseCache`.

Public names load lazily (module ``__getattr__``): importing a light submodule (``keys``, ``codec``) does not
load the cache and its Redis client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use, so importing one submodule does not import them all."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
