"""Model resolution and weighted choice."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from rt_fakes import gateway, provider

from bifrostc.runtime import config
from bifrostc.runtime.errors import NotFound
from bifrostc.runtime.router import Router


@pytest.fixture
def router() -> Router:
    gw = gateway(
        [provider("oai", "openai"), provider("groq", "groq")],
        {"fast": [("groq", "llama")], "smart": [("oai", "gpt-a"), ("oai", "gpt-b")]},
        tiers={"sonnet": "smart", "haiku": "fast"},
        default_provider="oai",
    )
    return Router(gw, rng=random.Random(1))


def test_resolution_order(router):
    assert router.resolve("fast").name == "fast"
    assert router.resolve("haiku").name == "fast"
    assert router.resolve("claude-3-5-haiku-20241022").name == "fast"
    assert router.resolve("claude-sonnet-4-5").name == "smart"
    adhoc = router.resolve("groq/llama-3.3-70b")
    assert adhoc.targets == (config.Target(provider="groq", model="llama-3.3-70b"),)
    default = router.resolve("gpt-4o-mini")
    assert default.targets == (config.Target(provider="oai", model="gpt-4o-mini"),)


def test_unconfigured_tier_and_unknown_prefix_are_not_found():
    gw = gateway([provider("oai", "openai")], {"smart": [("oai", "m")]}, tiers={"sonnet": "smart"})
    router = Router(gw)
    with pytest.raises(NotFound, match="Did you mean 'smart'"):
        router.resolve("smrt")
    with pytest.raises(NotFound):
        router.resolve("claude-opus-4")
    with pytest.raises(NotFound):
        router.resolve("nope/model")


def test_weighted_choice_follows_weights():
    targets = (config.Target("a", "m", weight=3.0), config.Target("b", "m", weight=1.0))
    gw = config.Gateway(providers={}, routes={"r": config.Route("r", targets)})
    router = Router(gw, rng=random.Random(3))
    counts = Counter(router.choose_target(gw.routes["r"]).provider for _ in range(4000))
    assert 0.7 < counts["a"] / 4000 < 0.8
    only_b = router.choose_target(gw.routes["r"], lambda t: t.provider == "b")
    assert only_b.provider == "b"
    assert router.choose_target(gw.routes["r"], lambda t: False) is None


def test_a_session_stays_on_one_target_and_sessions_split_by_weight():
    targets = (config.Target("a", "m", weight=3.0), config.Target("b", "m", weight=1.0))
    gw = config.Gateway(providers={}, routes={"r": config.Route("r", targets)})
    router = Router(gw, rng=random.Random(3))
    route = gw.routes["r"]
    for session in ("s1", "s2", "s3"):
        assert len({router.choose_target(route, session=session).provider for _ in range(50)}) == 1
    counts = Counter(router.choose_target(route, session=f"session-{n}").provider for n in range(4000))
    assert 0.7 < counts["a"] / 4000 < 0.8
    # A session whose target is unavailable moves to what is left, and stays there too.
    stuck_on_a = next(f"s{n}" for n in range(100) if router.choose_target(route, session=f"s{n}").provider == "a")
    assert router.choose_target(route, lambda t: t.provider == "b", session=stuck_on_a).provider == "b"


def test_affinity_none_draws_per_request():
    targets = (config.Target("a", "m"), config.Target("b", "m"))
    gw = config.Gateway(providers={}, routes={"r": config.Route("r", targets, affinity="none")})
    router = Router(gw, rng=random.Random(5))
    assert {router.choose_target(gw.routes["r"], session="same").provider for _ in range(50)} == {"a", "b"}


def test_keys_restricted_by_models():
    keys = (config.KeyRef("K_ALL"), config.KeyRef("K_MINI", weight=5, models=("mini",)))
    prov = config.Provider(name="p", type="openai", base_url="", keys=keys)
    router = Router(config.Gateway(providers={"p": prov}, routes={}))
    assert {router.choose_key(prov, "big").env for _ in range(50)} == {"K_ALL"}
    assert {router.choose_key(prov, "mini").env for _ in range(200)} == {"K_ALL", "K_MINI"}
    assert router.choose_key(prov, "mini", lambda k: k.env == "K_MINI").env == "K_MINI"
