"""ResponseCache behaviour, each test run against both the memory and the Redis backend."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bifrostc.runtime.cache import ResponseCache
from bifrostc.runtime.types import (
    Message,
    TextPart,
    Thinking,
    Tool,
    ToolChoice,
)

from .conftest import request, response

ROUTE = "claude-sonnet"


async def test_exact_hit_returns_the_stored_response(make_cache: Any) -> None:
    cache: ResponseCache = make_cache()
    req = request("what is 2+2?")
    assert await cache.lookup(req, route=ROUTE, scope="k1") is None
    assert await cache.store(req, response("4"), route=ROUTE, scope="k1")
    hit = await cache.lookup(request("what is 2+2?"), route=ROUTE, scope="k1")
    assert hit == response("4")


VARIANTS: dict[str, dict[str, Any]] = {
    "system": {"system": [TextPart("be terse")]},
    "temperature": {"temperature": 0.2},
    "top_p": {"top_p": 0.5},
    "max_tokens": {"max_tokens": 17},
    "stop": {"stop": ["END"]},
    "tools": {"tools": [Tool("read_file", "read a file")]},
    "tool_choice": {"tool_choice": ToolChoice("any")},
    "thinking": {"thinking": Thinking("enabled", 2048)},
    "reasoning_effort": {"reasoning_effort": "high"},
    "extra_response_format": {"extra": {"response_format": {"type": "json_object"}}},
}


@pytest.mark.parametrize("field", sorted(VARIANTS))
async def test_each_answer_changing_field_misses(make_cache: Any, field: str) -> None:
    cache: ResponseCache = make_cache()
    await cache.store(request("q"), response(), route=ROUTE, scope="k")
    assert await cache.lookup(request("q", **VARIANTS[field]), route=ROUTE, scope="k") is None
    assert await cache.lookup(request("q"), route=ROUTE, scope="k") is not None


async def test_different_message_or_route_misses(make_cache: Any) -> None:
    cache: ResponseCache = make_cache()
    await cache.store(request("q"), response(), route=ROUTE, scope="k")
    assert await cache.lookup(request("Q"), route=ROUTE, scope="k") is None
    assert await cache.lookup(request("q"), route="gpt-5", scope="k") is None
    longer = request("q")
    longer.messages.append(Message("assistant", [TextPart("a")]))
    assert await cache.lookup(longer, route=ROUTE, scope="k") is None


async def test_transport_and_attribution_fields_do_not_matter(make_cache: Any) -> None:
    cache: ResponseCache = make_cache()
    await cache.store(request("q", stream=False), response(), route=ROUTE, scope="k")
    same = request("q", stream=True, user="alice", extra={"metadata": {"user_id": "u"}, "stream_options": {}})
    same.model = "an-alias-of-the-route"
    same.messages[0].content[0] = TextPart("q", cache_control={"type": "ephemeral"})
    assert await cache.lookup(same, route=ROUTE, scope="k") == response()


async def test_scopes_are_isolated(make_cache: Any) -> None:
    cache: ResponseCache = make_cache()
    await cache.store(request("q"), response(), route=ROUTE, scope="team-a")
    assert await cache.lookup(request("q"), route=ROUTE, scope="team-b") is None
    assert await cache.lookup(request("q"), route=ROUTE, scope="team-a") is not None


@pytest.mark.parametrize("stop_reason", ["end_turn", "tool_use", "max_tokens"])
async def test_successful_stop_reasons_are_cached(make_cache: Any, stop_reason: str) -> None:
    cache: ResponseCache = make_cache()
    assert await cache.store(request(), response(stop_reason=stop_reason), route=ROUTE, scope="k")


@pytest.mark.parametrize("stop_reason", ["refusal", "pause_turn", "stop_sequence", None])
async def test_other_stop_reasons_are_not_cached(make_cache: Any, stop_reason: str | None) -> None:
    cache: ResponseCache = make_cache()
    assert not await cache.store(request(), response(stop_reason=stop_reason), route=ROUTE, scope="k")  # type: ignore[arg-type]
    assert await cache.lookup(request(), route=ROUTE, scope="k") is None


async def test_off_mode_never_hits(make_cache: Any) -> None:
    cache: ResponseCache = make_cache(mode="off")
    assert not cache.enabled
    assert not await cache.store(request(), response(), route=ROUTE, scope="k")
    assert await cache.lookup(request(), route=ROUTE, scope="k") is None


async def test_semantic_hit_above_threshold(make_cache: Any) -> None:
    cache: ResponseCache = make_cache(mode="semantic", semantic_threshold=0.9)
    await cache.store(request("how do I reverse a list in python"), response("use reversed"), route=ROUTE, scope="k")
    # 8 shared words out of 8 and 9: cosine 8 / sqrt(72) ~ 0.943
    hit = await cache.lookup(request("how do I reverse a list in python please"), route=ROUTE, scope="k")
    assert hit == response("use reversed")


async def test_semantic_miss_below_threshold(make_cache: Any) -> None:
    cache: ResponseCache = make_cache(mode="semantic", semantic_threshold=0.99)
    await cache.store(request("how do I reverse a list in python"), response(), route=ROUTE, scope="k")
    assert await cache.lookup(request("how do I reverse a list in python please"), route=ROUTE, scope="k") is None
    assert await cache.lookup(request("what is the capital of france"), route=ROUTE, scope="k") is None


async def test_semantic_match_requires_same_scope_and_settings(make_cache: Any) -> None:
    cache: ResponseCache = make_cache(mode="semantic", semantic_threshold=0.9)
    await cache.store(request("how do I reverse a list in python"), response(), route=ROUTE, scope="k")
    similar = "how do I reverse a list in python please"
    assert await cache.lookup(request(similar), route=ROUTE, scope="other") is None
    assert await cache.lookup(request(similar, temperature=0.0), route=ROUTE, scope="k") is None
    assert await cache.lookup(request(similar, system=[TextPart("x")]), route=ROUTE, scope="k") is None


async def test_semantic_match_requires_same_earlier_turns(make_cache: Any) -> None:
    cache: ResponseCache = make_cache(mode="semantic", semantic_threshold=0.9)
    first = request("context one")
    first.messages += [Message("assistant", [TextPart("ok")]), Message("user", [TextPart("reverse a list in python")])]
    await cache.store(first, response(), route=ROUTE, scope="k")
    other = request("context two")
    other.messages += [Message("assistant", [TextPart("ok")]), Message("user", [TextPart("reverse a list in python")])]
    assert await cache.lookup(other, route=ROUTE, scope="k") is None
    same_prefix = dataclasses.replace(
        first, messages=[*first.messages[:-1], Message("user", [TextPart("reverse a list in python!")])]
    )
    assert await cache.lookup(same_prefix, route=ROUTE, scope="k") == response()
