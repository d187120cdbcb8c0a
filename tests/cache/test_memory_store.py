"""Memory-backend specifics: TTL with an injected clock and LRU eviction."""

from __future__ import annotations

from typing import Any

import pytest

from bifrostc.runtime.cache import ResponseCache

from .conftest import FakeClock, request, response

pytestmark = pytest.mark.parametrize("backend", ["memory"])
ROUTE = "r"


async def test_entries_expire_after_ttl(make_cache: Any, clock: FakeClock) -> None:
    cache: ResponseCache = make_cache(ttl_seconds=60)
    await cache.store(request(), response(), route=ROUTE, scope="k")
    clock.now += 59
    assert await cache.lookup(request(), route=ROUTE, scope="k") is not None
    clock.now += 1
    assert await cache.lookup(request(), route=ROUTE, scope="k") is None


async def test_semantic_vectors_expire_with_their_entry(make_cache: Any, clock: FakeClock) -> None:
    cache: ResponseCache = make_cache(mode="semantic", ttl_seconds=60, semantic_threshold=0.5)
    await cache.store(request("reverse a list"), response(), route=ROUTE, scope="k")
    clock.now += 61
    assert await cache.lookup(request("reverse a list please"), route=ROUTE, scope="k") is None


async def test_least_recently_used_entry_is_evicted(make_cache: Any) -> None:
    cache: ResponseCache = make_cache(max_entries=2)
    await cache.store(request("a"), response("A"), route=ROUTE, scope="k")
    await cache.store(request("b"), response("B"), route=ROUTE, scope="k")
    assert await cache.lookup(request("a"), route=ROUTE, scope="k") is not None  # a is now the most recent
    await cache.store(request("c"), response("C"), route=ROUTE, scope="k")
    assert await cache.lookup(request("b"), route=ROUTE, scope="k") is None
    assert await cache.lookup(request("a"), route=ROUTE, scope="k") == response("A")
    assert await cache.lookup(request("c"), route=ROUTE, scope="k") == response("C")
