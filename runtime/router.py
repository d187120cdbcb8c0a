"""Model-name resolution, fallback chains and weighted choice of targets and keys: the routing core that the
gateway, count_tokens, the grant rule (``governance.keys.authorize``) and ``bifrostc explain`` all use.

Resolution order: exact public name/alias; a generated ``claude-<route>`` id (``discovery_aliases``: what the
model lists offer Claude Code for a route it would otherwise hide); `provider/model` with a configured provider
(an ad-hoc single-target route); Claude Code tier names and Claude model ids (anything containing sonnet/opus/haiku)
via GATEWAY.tiers; a bare name on server.default_provider; otherwise NotFound with close matches.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import itertools
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from bifrostc.runtime import config
from bifrostc.runtime.errors import NotFound

T = TypeVar("T")

TIERS = ("opus", "sonnet", "haiku")

ResolvedBy = Literal["name", "discovery", "provider/model", "tier", "default_provider"]
# Claude Code's model discovery keeps only the listed ids this matches (its filter, case-insensitive).
CLAUDE_CODE_KEEPS = re.compile("claude|anthropic", re.IGNORECASE)
DISCOVERY_PREFIX = "claude-"


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a model string became a route: ``explain`` prints it, the gateway uses ``route``."""

    route: config.Route
    via: ResolvedBy
    tier: str | None = None  # the Claude Code tier, when ``via`` is "tier"


@dataclass(frozen=True, slots=True)
class WeightedTable(Generic[T]):
    """Items with precomputed cumulative weights: one bisect per choice."""

    items: tuple[T, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def build(cls, items: Sequence[T], weights: Sequence[float]) -> WeightedTable[T]:
        positive = [(item, w) for item, w in zip(items, weights, strict=True) if w > 0] or [
            (item, 1.0) for item in items
        ]
        return cls(tuple(i for i, _ in positive), tuple(itertools.accumulate(w for _, w in positive)))

    def choose(self, rand: Callable[[], float], allowed: Callable[[T], bool] | None = None) -> T | None:
        if len(self.items) == 1:  # most routes: nothing to weigh
            only = self.items[0]
            return only if allowed is None or allowed(only) else None
        if allowed is None:
            if not self.items:
                return None
            index = bisect.bisect_right(self.cumulative, rand() * self.cumulative[-1])
            return self.items[min(index, len(self.items) - 1)]
        subset = [i for i, item in enumerate(self.items) if allowed(item)]
        if not subset:
            return None
        if len(subset) == len(self.items):
            return self.choose(rand)
        weights = [self.cumulative[i] - (self.cumulative[i - 1] if i else 0.0) for i in subset]
        return WeightedTable.build([self.items[i] for i in subset], weights).choose(rand)


def _public_names(gateway: config.Gateway) -> dict[str, tuple[str, ...]]:
    names: dict[str, set[str]] = {}
    for public, route in gateway.routes.items():
        names.setdefault(route.name, {route.name}).add(public)
    for tier, route_name in gateway.tiers.items():
        if route_name in names:
            names[route_name].add(tier)
    return {name: tuple(sorted(group)) for name, group in names.items()}


def discovery_aliases(gateway: config.Gateway) -> dict[str, str]:
    """``claude-<route>`` -> route name for every route none of whose public names Claude Code's model discovery
    keeps (it drops ids without "claude" or "anthropic"); a generated id that is already a public name is not
    made (the compiler warns that Claude Code's picker hides that route)."""
    taken = set(gateway.routes) | set(gateway.tiers)
    aliases: dict[str, str] = {}
    for route_name, names in sorted(_public_names(gateway).items()):
        if any(CLAUDE_CODE_KEEPS.search(name) for name in names):
            continue
        alias = DISCOVERY_PREFIX + re.sub(r"[^a-z0-9._-]+", "-", route_name.lower()).strip("-")
        if alias not in taken and alias not in aliases:
            aliases[alias] = route_name
    return aliases


def session_point(session: str, route: str) -> float:
    """A stable point in [0, 1) for one conversation on one route (blake2b: fast and evenly spread)."""
    digest = hashlib.blake2b(f"{route}\0{session}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Router:
    """Immutable view of one Gateway's routes; built once per (re)load."""

    def __init__(self, gateway: config.Gateway, *, rng: random.Random | None = None) -> None:
        self.gateway = gateway
        self._rand = (rng or random.Random()).random
        self._targets = {
            name: WeightedTable.build(route.targets, [t.weight for t in route.targets])
            for name, route in gateway.routes.items()
        }
        self._keys: dict[tuple[str, str], WeightedTable[config.KeyRef]] = {}
        self._names = _public_names(gateway)
        self.discovery = discovery_aliases(gateway)  # ids Claude Code's /model picker keeps -> route name
        # runtime.rules: a key's (key, team, customer) -> its routing rules in order and the costly variables read
        # and the chain as one function (runtime.rules.chain)
        self.rule_cache: dict[
            tuple[str | None, str | None, str | None],
            tuple[tuple[config.Rule, ...], frozenset[str], frozenset[str], Callable[..., Any]],
        ] = {}

    # --- resolution ---------------------------------------------------------------------------
    def resolve(self, model: str) -> config.Route:
        route = self.gateway.routes.get(model)  # the common case, without building a Resolution
        return route if route is not None else self.resolution(model).route

    def resolution(self, model: str) -> Resolution:
        """The route serving ``model`` and how it was found; NotFound (404) with close matches otherwise."""
        routes = self.gateway.routes
        if model in routes:
            return Resolution(routes[model], "name")
        if model in self.discovery:
            return Resolution(routes[self.discovery[model]], "discovery")
        provider, slash, upstream = model.partition("/")
        if slash and provider in self.gateway.providers and upstream:
            route = config.Route(name=model, targets=(config.Target(provider=provider, model=upstream),))
            return Resolution(route, "provider/model")
        tier = self.tier_of(model)
        if tier is not None:
            return Resolution(routes[self.gateway.tiers[tier]], "tier", tier)
        default = self.gateway.server.default_provider
        if default and not slash and default in self.gateway.providers:
            route = config.Route(name=model, targets=(config.Target(provider=default, model=model),))
            return Resolution(route, "default_provider")
        raise NotFound(self._not_found_message(model))

    def names_of(self, route: config.Route) -> tuple[str, ...]:
        """Every public name of ``route``: its name, its aliases and the Claude Code tiers set to it (sorted);
        an ad-hoc route (``provider/model``, default provider) has only its own name."""
        return self._names.get(route.name, (route.name,))

    def chain(self, route: config.Route) -> Iterator[config.Route]:
        """The route, then its fallbacks in order (each once, transitively, cycles ignored)."""
        seen = {route.name}
        queue = [route]
        while queue:
            current = queue.pop(0)
            yield current
            for name in current.fallbacks:
                fallback = self._fallback(name)
                if fallback is not None and name not in seen:
                    seen.add(name)
                    queue.append(fallback)

    def _fallback(self, name: str) -> config.Route | None:
        """A fallback is a public name or a 'provider/model' target."""
        try:
            return self.resolve(name)
        except NotFound:
            return None

    def tier_of(self, model: str) -> str | None:
        lowered = model.lower()
        for tier in TIERS:
            if tier in lowered and self.gateway.tiers.get(tier) in self.gateway.routes:
                return tier
        return None

    def route(self, name: str) -> config.Route | None:
        return self.gateway.routes.get(name)

    def _not_found_message(self, model: str) -> str:
        names = sorted(set(self.gateway.routes) | set(self.gateway.tiers))
        close = difflib.get_close_matches(model, names, n=3, cutoff=0.5)
        message = f"model '{model}' is not served by this gateway"
        if close:
            return message + ". Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        if names:
            return message + f"; available: {', '.join(names[:20])}"
        return message

    # --- weighted choice ----------------------------------------------------------------------
    def choose_target(
        self,
        route: config.Route,
        allowed: Callable[[config.Target], bool] | None = None,
        *,
        session: str | None = None,
    ) -> config.Target | None:
        """A target by weight; with a ``session`` on a route with session affinity, the same one every time
        (while it is allowed), so weights split conversations rather than the turns of one conversation."""
        table = self._targets.get(route.name)
        if table is None or table.items != route.targets:
            table = WeightedTable.build(route.targets, [t.weight for t in route.targets])
        if session and route.affinity == "session" and len(route.targets) > 1:
            point = session_point(session, route.name)
            return table.choose(lambda: point, allowed)
        return table.choose(self._rand, allowed)

    def choose_key(
        self, provider: config.Provider, model: str, available: Callable[[config.KeyRef], bool] | None = None
    ) -> config.KeyRef | None:
        """A key serving `model` (keys restricted by `models`); None when the provider has no keys."""
        table = self._keys.get((provider.name, model))
        if table is None:
            keys = [k for k in provider.keys if not k.models or model in k.models]
            table = WeightedTable.build(keys, [k.weight for k in keys])
            self._keys[(provider.name, model)] = table
        return table.choose(self._rand, available)
