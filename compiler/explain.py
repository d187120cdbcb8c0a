"""``bifrostc explain``: what a request for one model name would do, in words."""

from __future__ import annotations

import fnmatch

from bifrostc.compiler.diagnostics import did_you_mean
from bifrostc.runtime import config as c


class ExplainError(LookupError):
    """The model or key named on the command line does not exist."""


def explain(gateway: c.Gateway, model: str, key_name: str | None = None) -> str:
    route = gateway.routes.get(model)
    if route is None:
        raise ExplainError(f"no route named '{model}'.{did_you_mean(model, gateway.routes)}")
    lines = [f"{model} -> route {route.name}{_also_known_as(gateway, route, model)}"]
    lines.append(f"  tool calling: {'yes' if route.supports_tools else 'no'}")
    lines += _targets(gateway, route)
    chain = _fallback_chain(gateway, route)
    lines.append("  fallbacks: " + (" -> ".join(chain) if chain else "none"))
    if key_name is not None:
        lines.append(_access(gateway, model, route, key_name))
    return "\n".join(lines) + "\n"


def _also_known_as(gateway: c.Gateway, route: c.Route, asked: str) -> str:
    names = sorted(name for name, r in gateway.routes.items() if r is route and name not in (route.name, asked))
    tiers = sorted(tier for tier, name in gateway.tiers.items() if name == route.name)
    parts = ([f"also: {', '.join(names)}"] if names else []) + ([f"Claude Code {', '.join(tiers)}"] if tiers else [])
    return f" ({'; '.join(parts)})" if parts else ""


def _targets(gateway: c.Gateway, route: c.Route) -> list[str]:
    total = sum(t.weight for t in route.targets) or 1.0
    if len(route.targets) < 2:
        lines = ["  targets:"]
    elif route.affinity == "session":
        lines = ["  targets (by weight over conversations; each conversation stays on one):"]
    else:
        lines = ["  targets (by weight, drawn per request):"]
    for target in route.targets:
        share = f"{100 * target.weight / total:5.1f}%"
        lines.append(f"    {share}  {target.provider}/{target.model}  keys: {_keys(gateway, target)}")
        price = gateway.pricing.get(f"{target.provider}/{target.model}")
        if price:
            lines.append(f"            price: ${price.input:g} in, ${price.output:g} out per million tokens")
    return lines


def _keys(gateway: c.Gateway, target: c.Target) -> str:
    provider = gateway.providers.get(target.provider)
    if provider is None:
        return "(unknown provider)"
    keys = [k for k in provider.keys if not k.models or target.model in k.models]
    if not keys:
        return "none"
    if len(keys) == 1:
        return keys[0].env
    return ", ".join(f"{k.env} (weight {k.weight:g})" for k in keys)


def _fallback_chain(gateway: c.Gateway, route: c.Route) -> list[str]:
    """Fallback routes in the order they would be tried, each listed once."""
    order: list[str] = []
    queue = list(route.fallbacks)
    while queue:
        name = queue.pop(0)
        if name in order or name == route.name:
            continue
        order.append(name)
        nxt = gateway.routes.get(name)
        queue += list(nxt.fallbacks) if nxt else []
    return order


def _access(gateway: c.Gateway, asked: str, route: c.Route, key_name: str) -> str:
    key = next((k for k in gateway.virtual_keys if k.name == key_name), None)
    if key is None:
        names = [k.name for k in gateway.virtual_keys]
        raise ExplainError(f"no virtual key named '{key_name}'.{did_you_mean(key_name, names)}")
    if key.allowed_models and not any(
        fnmatch.fnmatchcase(name, pattern) for pattern in key.allowed_models for name in (asked, route.name)
    ):
        return f"key {key.name}: DENIED (allowed_models: {', '.join(key.allowed_models)})"
    if key.allowed_providers:
        usable = [t for t in route.targets if t.provider in key.allowed_providers]
        if not usable:
            return f"key {key.name}: DENIED (allowed_providers: {', '.join(key.allowed_providers)})"
    details = [f"team {key.team}"] if key.team else []
    if key.budget:
        details.append(f"budget ${key.budget.max_usd:g} per {key.budget.period}")
    return f"key {key.name}: allowed" + (f" ({'; '.join(details)})" if details else "")
