"""CacheHooks: scope from the key context, entries keyed on the route the request was given, opt-out keys,
delegation of the other hooks."""

from __future__ import annotations

from typing import Any

from bifrostc.runtime import config
from bifrostc.runtime.cache import ResponseCache
from bifrostc.runtime.cache.hooks import CacheHooks, cache_scope
from bifrostc.runtime.cache.memory import MemoryStore
from bifrostc.runtime.context import Hooks, RequestContext
from bifrostc.runtime.governance.keys import KeyContext
from bifrostc.runtime.router import Router

from .conftest import request, response

ROUTE = config.Route("sonnet", (config.Target("p", "m"),))
GATEWAY = config.Gateway(providers={}, routes={"sonnet": ROUTE, "claude-sonnet-alias": ROUTE})


class RecordingHooks(Hooks):
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def authenticate(self, headers: Any, ctx: RequestContext) -> Any:
        self.calls.append("authenticate")
        return KeyContext("k1", team="red")


def make_hooks() -> tuple[CacheHooks, RecordingHooks]:
    inner = RecordingHooks()
    return CacheHooks(inner, ResponseCache(MemoryStore(max_entries=10))), inner


def ctx(model: str, key: Any) -> RequestContext:
    context = RequestContext(dialect="anthropic", endpoint="messages", requested_model=model)
    context.routed = Router(GATEWAY).resolve(model).name  # what handle_chat sets before the cache is asked
    context.key = key
    return context


def test_scope_is_team_then_key_and_none_when_opted_out() -> None:
    assert cache_scope(KeyContext("k1", team="red")) == "team:red"
    assert cache_scope(KeyContext("k1")) == "key:k1"
    assert cache_scope(KeyContext("k1", cache=False)) is None
    assert cache_scope(None) == "anonymous"


async def test_aliases_share_and_teams_are_isolated() -> None:
    hooks, _ = make_hooks()
    await hooks.cache_store(ctx("claude-sonnet-alias", KeyContext("k1", team="red")), request(), response())
    assert await hooks.cache_lookup(ctx("sonnet", KeyContext("k2", team="red")), request()) == response()
    assert await hooks.cache_lookup(ctx("sonnet", KeyContext("k3", team="blue")), request()) is None


async def test_opted_out_key_neither_reads_nor_writes() -> None:
    hooks, _ = make_hooks()
    await hooks.cache_store(ctx("sonnet", KeyContext("k1", cache=False)), request(), response())
    assert await hooks.cache_lookup(ctx("sonnet", KeyContext("k1")), request()) is None
    await hooks.cache_store(ctx("sonnet", KeyContext("k1")), request(), response())
    assert await hooks.cache_lookup(ctx("sonnet", KeyContext("k1", cache=False)), request()) is None


async def test_other_hooks_are_delegated() -> None:
    hooks, inner = make_hooks()
    key = await hooks.authenticate({}, ctx("sonnet", None))
    assert inner.calls == ["authenticate"] and key.team == "red"
