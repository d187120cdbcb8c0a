"""Response cache for chat requests: exact (sha256 key) or semantic (embedding similarity) lookups.

The app calls ``lookup`` before routing and ``store`` after a successful upstream answer; a hit is a
canonical ChatResponse, replayed as a stream by ``translate.replay.response_to_events`` when the client
streams. Cache failures never fail a request: store errors are logged and a failed lookup is a miss.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

from bifrostc.runtime import config
from bifrostc.runtime.cache import keys
from bifrostc.runtime.cache.codec import decode_response, encode_response
from bifrostc.runtime.cache.memory import MemoryStore
from bifrostc.runtime.cache.similarity import cosine_unit, normalise
from bifrostc.runtime.cache.store import CacheStore
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.types import ChatRequest, ChatResponse

Embedder = Callable[[str], Awaitable[list[float]]]

log = logging.getLogger(__name__)

CACHEABLE_STOP_REASONS = frozenset({"end_turn", "tool_use", "max_tokens"})
# What any store may raise when its backend fails; a store adds its client's errors (``CacheStore.errors``).
_BASE_STORE_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError)
_EMBED_MEMO_SIZE = 256  # lookup then store embed the same text; remember recent vectors


class ResponseCache:
    def __init__(
        self,
        store: CacheStore | None,
        *,
        mode: str = "exact",
        ttl_seconds: int = 3600,
        threshold: float = 0.95,
        embed: Embedder | None = None,
    ) -> None:
        if mode not in ("off", "exact", "semantic"):
            raise ValueError(f"unknown cache mode {mode!r}")
        if mode == "semantic" and embed is None:
            raise ValueError("semantic cache mode needs an embed function")
        self.mode = mode if store is not None else "off"
        self._store = store
        self._ttl = ttl_seconds
        self._threshold = threshold
        self._embed = embed
        self._memo: OrderedDict[str, list[float]] = OrderedDict()
        self._errors = (*_BASE_STORE_ERRORS, *getattr(store, "errors", ()))

    @classmethod
    def from_config(
        cls,
        cfg: config.Cache,
        *,
        redis_url: str | None = None,
        redis_state: config.RedisState | None = None,
        environ: Mapping[str, str] | None = None,
        embed: Embedder | None = None,
        redis_prefix: str = "bifrostc:cache:",
        clock: Callable[[], float] = time.monotonic,
    ) -> ResponseCache:
        """Build from the generated config; mode "off" gives a cache whose lookups always miss."""
        store: CacheStore | None = None
        if cfg.mode != "off":
            redis = (redis_state, environ if environ is not None else {}) if redis_state is not None else None
            store = _make_store(cfg, redis_url=redis_url, redis=redis, prefix=redis_prefix, clock=clock)
        return cls(store, mode=cfg.mode, ttl_seconds=cfg.ttl_seconds, threshold=cfg.semantic_threshold, embed=embed)

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    async def lookup(self, req: ChatRequest, *, route: str, scope: str) -> ChatResponse | None:
        if self._store is None:
            return None
        try:
            raw = await self._store.get(keys.exact_key(req, route=route, scope=scope))
            if raw is None and self.mode == "semantic":
                raw = await self._semantic_lookup(req, route=route, scope=scope)
            return decode_response(raw) if raw is not None else None
        except (*self._errors, KeyError, TypeError) as exc:
            log.warning("response cache lookup failed, treating as a miss: %s", exc)
            return None

    async def store(self, req: ChatRequest, resp: ChatResponse, *, route: str, scope: str) -> bool:
        """Cache a successful answer; returns whether it was stored."""
        if self._store is None or resp.stop_reason not in CACHEABLE_STOP_REASONS:
            return False
        key = keys.exact_key(req, route=route, scope=scope)
        try:
            await self._store.put(key, encode_response(resp), ttl=self._ttl)
            if self.mode == "semantic":
                await self._remember_vector(req, key, route=route, scope=scope)
        except self._errors as exc:
            log.warning("response cache store failed: %s", exc)
            return False
        return True

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()

    async def _semantic_lookup(self, req: ChatRequest, *, route: str, scope: str) -> bytes | None:
        text = keys.semantic_text(req)
        if text is None:
            return None
        vector = await self._vector(text)
        if vector is None:
            return None
        bucket = keys.semantic_bucket(req, route=route, scope=scope)
        scored = sorted(
            ((cosine_unit(vector, stored), key) for key, stored in await self._store_or_fail().vectors(bucket)),
            reverse=True,
        )
        for score, key in scored:
            if score < self._threshold:
                break
            raw = await self._store_or_fail().get(key)
            if raw is not None:  # the best vector's entry may have expired; try the next one
                return raw
        return None

    async def _remember_vector(self, req: ChatRequest, key: str, *, route: str, scope: str) -> None:
        text = keys.semantic_text(req)
        if text is None:
            return
        vector = await self._vector(text)
        if vector is not None:
            bucket = keys.semantic_bucket(req, route=route, scope=scope)
            await self._store_or_fail().add_vector(bucket, key, vector, ttl=self._ttl)

    async def _vector(self, text: str) -> list[float] | None:
        """Unit-length embedding of ``text``; None when the embedding call fails (the lookup then misses)."""
        digest = hashlib.sha256(text.encode()).hexdigest()
        cached = self._memo.get(digest)
        if cached is not None:
            self._memo.move_to_end(digest)
            return cached
        assert self._embed is not None  # guaranteed by __init__ for semantic mode
        try:
            vector = normalise(await self._embed(text))
        except GatewayError as exc:
            log.warning("embedding for the semantic cache failed: %s", exc)
            return None
        self._memo[digest] = vector
        if len(self._memo) > _EMBED_MEMO_SIZE:
            self._memo.popitem(last=False)
        return vector

    def _store_or_fail(self) -> CacheStore:
        assert self._store is not None  # only called from paths that checked it
        return self._store


def _make_store(
    cfg: config.Cache,
    *,
    redis_url: str | None,
    redis: tuple[config.RedisState, Mapping[str, str]] | None,
    prefix: str,
    clock: Callable[[], float],
) -> CacheStore:
    if cfg.backend == "memory":
        return MemoryStore(max_entries=cfg.max_entries, clock=clock)
    if cfg.backend == "redis":
        if not redis_url and redis is None:
            raise ValueError("cache backend 'redis' needs a Redis (server.redis or server.redis_url_env)")
        from bifrostc.runtime import redis_client  # redis loads only when configured
        from bifrostc.runtime.cache.redis_store import RedisStore

        handle = redis_client.from_url(redis_url, decode=False) if redis_url else None
        if handle is None and redis is not None:
            handle = redis_client.connect(redis[0], redis[1], decode=False)
        assert handle is not None
        return RedisStore(handle.client, prefix=prefix, max_bucket=cfg.max_entries)
    raise ValueError(f"unknown cache backend {cfg.backend!r}")
