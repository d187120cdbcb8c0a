"""Response caching: exact and semantic, in memory or Redis. The app uses :class:`ResponseCache`."""

from bifrostc.runtime.cache.response_cache import CACHEABLE_STOP_REASONS, Embedder, ResponseCache

__all__ = ["CACHEABLE_STOP_REASONS", "Embedder", "ResponseCache"]
