"""``bifrostc explain``: what the gateway would do with a request for one model string, in words.

It asks the runtime's own routing and policy core (``Router.resolution``, ``Router.chain``,
``governance.keys.authorize`` and ``key_context``), so it cannot disagree with the served gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

from bifrostc.compiler.diagnostics import did_you_mean
from bifrostc.runtime import config as c
from bifrostc.runtime.errors import NotFound, PermissionDenied
from bifrostc.runtime.governance.keys import KeyContext, Scope, authorize, key_context, provider_allowed
from bifrostc.runtime.providers.notes import target_notes
from bifrostc.runtime.router import Resolution, Router


class ExplainError(LookupError):
    """The key named on the command line does not exist (a usage problem, not an answer)."""


@dataclass(frozen=True, slots=True)
class Explanation:
    text: str
    served: bool  # False: the gateway would refuse the request (400, 401 or 404)
    route: str | None = None  # the route it resolves to, when it resolves


def explain(gateway: c.Gateway, model: str, key_name: str | None = None, *, asked: str | None = None) -> Explanation:
    """``asked``: the model string the client sent when a routing rule sent it to ``model`` (grants match it)."""
    router = Router(gateway)
    key = key_of(gateway, key_name)
    try:
        resolution = router.resolution(model)
    except NotFound as exc:
        return Explanation(f"{model}: refused with 404: {exc.message}\n", served=False)
    route = resolution.route
    lines = [f"{model} -> route {route.name}{_how(router, resolution, model)}"]
    lines.append(f"  tool calling: {'yes' if route.supports_tools else 'no'}")
    lines += _targets(gateway, route, key)
    chain = list(router.chain(route))[1:]
    lines.append("  fallbacks: " + (" -> ".join(_route_label(r, key) for r in chain) if chain else "none"))
    if key is None:
        served = not gateway.server.require_key
        if not served:
            lines.append("without a key: refused with 401 (server.require_key); pass --key NAME")
        return Explanation("\n".join(lines) + "\n", served, route.name)
    try:
        authorize(key, router, asked or model, route)
    except PermissionDenied as exc:
        lines.append(f"key {key.key_name}: DENIED with {exc.status}: {exc.message}{_grants(key)}")
        return Explanation("\n".join(lines) + "\n", served=False, route=route.name)
    lines.append(f"key {key.key_name}: allowed{_grants(key)}")
    lines.append("  budgets (every one must have room): " + "; ".join(_scope(s) for s in key.scopes))
    return Explanation("\n".join(lines) + "\n", served=True, route=route.name)


def key_of(gateway: c.Gateway, key_name: str | None) -> KeyContext | None:
    if key_name is None:
        return None
    key = next((k for k in gateway.virtual_keys if k.name == key_name), None)
    if key is None:
        names = [k.name for k in gateway.virtual_keys]
        raise ExplainError(f"no virtual key named '{key_name}'.{did_you_mean(key_name, names)}")
    return key_context(key, gateway)


def _how(router: Router, resolution: Resolution, asked: str) -> str:
    route = resolution.route
    if resolution.via == "provider/model":
        return " (provider/model: straight to that provider, no route of the spec)"
    if resolution.via == "default_provider":
        return f" (no route of that name: server.default_provider {route.targets[0].provider} serves it)"
    tiers = sorted(tier for tier, name in router.gateway.tiers.items() if name == route.name)
    others = [name for name in router.names_of(route) if name not in (route.name, asked, *tiers)]
    parts = [f"also: {', '.join(others)}"] if others else []
    parts += [f"Claude Code {', '.join(tiers)}"] if tiers else []
    if resolution.via == "discovery":
        parts.append("the id the model lists offer Claude Code for this route")
    if resolution.tier:
        parts.append(f"a Claude model id: '{resolution.tier}' in the name picks that tier")
    return f" ({'; '.join(parts)})" if parts else ""


def _targets(gateway: c.Gateway, route: c.Route, key: KeyContext | None) -> list[str]:
    total = sum(t.weight for t in route.targets) or 1.0
    if len(route.targets) < 2:
        lines = ["  targets:"]
    elif route.affinity == "session":
        lines = ["  targets (by weight over conversations; each conversation stays on one):"]
    else:
        lines = ["  targets (by weight, drawn per request):"]
    for target in route.targets:
        share = f"{100 * target.weight / total:5.1f}%"
        barred = "" if provider_allowed(key, target.provider) else f"  (not for key {key.key_name if key else ''})"
        lines.append(f"    {share}  {target.provider}/{target.model}  keys: {_keys(gateway, target)}{barred}")
        provider = gateway.providers.get(target.provider)
        if provider is not None:
            lines += [f"            {note}" for note in target_notes(provider, target.model)]
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


def _route_label(route: c.Route, key: KeyContext | None) -> str:
    if key is None or any(provider_allowed(key, t.provider) for t in route.targets):
        return route.name
    return f"{route.name} (skipped for key {key.key_name}: no allowed provider)"


def _grants(key: KeyContext) -> str:
    models = ", ".join(key.allowed_models) or "all"
    providers = ", ".join(key.allowed_providers) or "all"
    return f" (allowed_models: {models}; allowed_providers: {providers})"


def _scope(scope: Scope) -> str:
    budget = f"${scope.budget.max_usd:g} per {scope.budget.period}" if scope.budget else "no budget"
    rate = scope.rate_limit
    limits = [f"{rate.requests_per_minute} req/min"] if rate and rate.requests_per_minute else []
    limits += [f"{rate.tokens_per_minute} tok/min"] if rate and rate.tokens_per_minute else []
    limits += [f"{scope.max_concurrent} in flight"] if scope.max_concurrent else []
    return f"{scope.kind} {scope.name} {budget}" + (f", {', '.join(limits)}" if limits else "")
