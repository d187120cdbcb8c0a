"""Normalise a validated spec into the runtime's ``Gateway`` object: sorted, defaulted, shorthand expanded.

Templates never see raw YAML; everything they print comes from here.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from bifrostc.compiler.plan_rules import build_rules
from bifrostc.compiler.references import TIERS, Resolver, split_target
from bifrostc.compiler.spec import (
    BudgetSpec,
    GatewaySpec,
    ModelSpec,
    PriceSpec,
    ProviderSpec,
    RateLimitSpec,
    VirtualKeySpec,
)
from bifrostc.compiler.spec_claude_gateway import managed_defaults, runtime_settings
from bifrostc.runtime import config as c
from bifrostc.runtime.providers import registry
from bifrostc.runtime.providers.model_caps import smallest_window


def build_gateway(spec: GatewaySpec) -> c.Gateway:
    """The runtime configuration for a spec that passed validation."""
    resolver = Resolver.of(spec)
    routes = _routes(spec, resolver)
    tiers = {tier: resolver.resolve(ref) or ref for tier in TIERS if (ref := getattr(spec.claude_code, tier))}
    for tier, route in tiers.items():
        routes.setdefault(tier, routes[route])  # lets clients ask for "sonnet" directly
    gateway = c.Gateway(
        providers={
            name: _provider(name, spec.providers[name], _target_apis(spec, name)) for name in sorted(spec.providers)
        },
        routes=dict(sorted(routes.items())),
        tiers=tiers,
        pricing=_pricing(spec),
        customers={
            name: c.Customer(name, _budget(cust.budget), _rate(cust.rate_limit))
            for name, cust in sorted(spec.customers.items())
        },
        teams={
            name: c.Team(
                name,
                team.customer,
                _budget(team.budget),
                _rate(team.rate_limit),
                max_concurrent_requests=team.max_concurrent_requests,
            )
            for name, team in sorted(spec.teams.items())
        },
        virtual_keys=tuple(_virtual_key(key) for key in sorted(spec.virtual_keys, key=lambda k: k.name)),
        mcp_servers=tuple(_mcp_server(name, spec) for name in sorted(spec.mcp_servers)),
        cache=_cache(spec, resolver),
        observability=_observability(spec),
        server=_server(spec),
        claude_code=c.ClaudeGateway(_sign_in(spec)),
        rules=build_rules(spec, resolver),
    )
    # the managed settings' defaults price the routes just built (modelPricing)
    managed = runtime_settings(spec.claude_code.managed_settings, managed_defaults(gateway))
    return dataclasses.replace(gateway, claude_code=dataclasses.replace(gateway.claude_code, managed_settings=managed))


def _observability(spec: GatewaySpec) -> c.Observability:
    relay = spec.observability.claude_code_telemetry
    return c.Observability(
        **spec.observability.model_dump(exclude={"claude_code_telemetry"}),
        claude_code_telemetry=c.ClaudeCodeTelemetry(
            tuple(relay.forward_to), dict(sorted(relay.headers_env.items())), relay.max_in_flight
        ),
    )


def _server(spec: GatewaySpec) -> c.Server:
    fields = spec.server.model_dump(exclude={"redis", "responses_store", "tls"})
    redis, tls = spec.server.redis, spec.server.tls
    stored = c.ResponsesStore(**spec.server.responses_store.model_dump())
    return c.Server(
        **fields,
        redis=c.RedisState(**redis.model_dump()) if redis else None,
        responses_store=stored,
        tls=c.Tls(tls.cert_file, tls.key_file) if tls else None,
    )


def _sign_in(spec: GatewaySpec) -> c.SignIn | None:
    sign_in = spec.claude_code.sign_in
    if sign_in is None:
        return None
    oidc = sign_in.oidc
    runtime_oidc = (
        c.Oidc(**{**oidc.model_dump(exclude={"scopes"}), "scopes": tuple(oidc.scopes)}) if oidc is not None else None
    )
    return c.SignIn(**sign_in.model_dump(exclude={"oidc"}), oidc=runtime_oidc)


def _target_apis(spec: GatewaySpec, provider: str) -> dict[str, Literal["chat", "responses"]]:
    """The `api:` route targets of this provider give (checks refuse conflicting ones)."""
    return {t.model: t.api for m in spec.models.values() for t in m.targets if t.provider == provider and t.api}


def _provider(
    name: str, spec: ProviderSpec, target_apis: dict[str, Literal["chat", "responses"]] | None = None
) -> c.Provider:
    kind = registry.provider_type(spec.type)
    # The spec validated straight into the family's runtime options class; defaults are left out of routing.py.
    options = spec.options if isinstance(spec.options, kind.options) else kind.options()
    if isinstance(options, c.OpenAIOptions) and (target_apis or options.api):  # one table, in a stable order
        options = dataclasses.replace(options, api=dict(sorted({**options.api, **(target_apis or {})}.items())))
    if isinstance(options, c.AzureOptions):  # same deployments, same bytes, whatever order the spec lists them in
        options = dataclasses.replace(options, deployments=dict(sorted(options.deployments.items())))
    keys = [c.KeyRef(spec.api_key_env)] if spec.api_key_env else []
    keys += [c.KeyRef(k.env, k.weight, tuple(k.models)) for k in spec.keys]
    return c.Provider(
        name=name,
        type=spec.type,
        base_url=(spec.base_url or kind.default_base_url(options)).rstrip("/"),
        keys=tuple(keys),
        network=c.Network(**spec.network.model_dump()),
        headers=tuple(sorted(spec.headers.items())),
        options=None if options == kind.options() else options,
        auth=spec.auth,
        count_client_spend=spec.count_client_spend,
    )


def _targets(model: ModelSpec) -> tuple[c.Target, ...]:
    if model.target:
        provider, upstream = split_target(model.target) or ("", "")
        return (c.Target(provider, upstream),)
    return tuple(c.Target(t.provider, t.model, t.weight) for t in model.targets)


def _routes(spec: GatewaySpec, resolver: Resolver) -> dict[str, c.Route]:
    """Every public name and alias, plus each ``provider/model`` string used as a fallback or tier."""
    routes: dict[str, c.Route] = {}
    direct: set[str] = set()
    for name, model in spec.models.items():
        fallbacks = tuple(resolver.resolve(ref) or ref for ref in model.fallbacks)
        direct.update(f for f in fallbacks if f not in spec.models)
        extra = (*model.context_fallbacks, *model.content_policy_fallbacks)
        direct.update(r for ref in extra if (r := resolver.resolve(ref) or ref) not in spec.models)
        route = c.Route(
            name,
            _targets(model),
            fallbacks,
            model.tools,
            model.affinity,
            _context_window(model),
            tuple(resolver.resolve(ref) or ref for ref in model.context_fallbacks),
            tuple(resolver.resolve(ref) or ref for ref in model.content_policy_fallbacks),
        )
        for public in (name, *model.aliases):
            routes[public] = route
    direct.update(ref for tier in TIERS if (ref := getattr(spec.claude_code, tier)) and ref not in resolver.canonical)
    if spec.cache.embedding_model and spec.cache.embedding_model not in resolver.canonical:
        direct.add(spec.cache.embedding_model)
    for ref in direct:
        provider, upstream = split_target(ref) or ("", "")
        routes.setdefault(ref, c.Route(ref, (c.Target(provider, upstream),)))
    return routes


def _context_window(model: ModelSpec) -> int | None:
    """The model's own ``context_window``, else (for a route with context_fallbacks, which need it to move a
    prompt before any upstream call) the smallest window of its targets from the built-in table."""
    if model.context_window is not None or not model.context_fallbacks:
        return model.context_window
    return smallest_window(t.model for t in _targets(model))


def _pricing(spec: GatewaySpec) -> dict[str, c.Price]:
    prices: dict[str, PriceSpec] = {}
    for model in spec.models.values():
        if model.pricing:
            for target in _targets(model):
                prices[f"{target.provider}/{target.model}"] = model.pricing
    prices.update(spec.pricing)  # the top-level table is the more specific statement
    return {key: c.Price(**price.model_dump()) for key, price in sorted(prices.items())}


def _budget(budget: BudgetSpec | None) -> c.Budget | None:
    return c.Budget(budget.max_usd, budget.period) if budget else None


def _rate(rate: RateLimitSpec | None) -> c.RateLimit | None:
    return c.RateLimit(rate.requests_per_minute, rate.tokens_per_minute) if rate else None


def _virtual_key(key: VirtualKeySpec) -> c.VirtualKey:
    return c.VirtualKey(
        name=key.name,
        sha256=key.key_sha256,
        env=key.key_env,
        team=key.team,
        budget=_budget(key.budget),
        rate_limit=_rate(key.rate_limit),
        allowed_models=tuple(key.allowed_models),
        allowed_providers=tuple(key.allowed_providers),
        allowed_mcp_tools=tuple(key.allowed_mcp_tools),
        cache=key.cache,
        max_concurrent_requests=key.max_concurrent_requests,
    )


def _mcp_server(name: str, spec: GatewaySpec) -> c.McpServer:
    server = spec.mcp_servers[name]
    return c.McpServer(
        name=name,
        transport=server.transport,
        command=tuple(server.command),
        url=server.url,
        env=tuple(sorted(server.env.items())),
        headers=tuple(sorted(server.headers.items())),
        allow_tools=tuple(server.allow_tools),
        deny_tools=tuple(server.deny_tools),
        timeout=server.timeout,
    )


def _cache(spec: GatewaySpec, resolver: Resolver) -> c.Cache:
    cache = spec.cache
    embedding = resolver.resolve(cache.embedding_model) if cache.embedding_model else None
    return c.Cache(
        mode=cache.mode,
        backend=cache.backend,
        ttl_seconds=cache.ttl_seconds,
        semantic_threshold=cache.semantic_threshold,
        embedding_route=embedding,
        max_entries=cache.max_entries,
        passthrough=cache.passthrough,
    )
