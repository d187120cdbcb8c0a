"""The template context for out/routing.py: named constants with comments a person debugging a route can read."""

from __future__ import annotations

import re

from bifrostc.compiler.pyliteral import LiteralWriter
from bifrostc.compiler.rules_cel import Compiled, compile_condition, function_source
from bifrostc.runtime import config as c
from bifrostc.runtime.providers import registry


def constant_name(prefix: str, name: str, taken: set[str]) -> str:
    """``ROUTE_`` + ``openai/gpt-5`` -> ``ROUTE_OPENAI_GPT_5``; suffixed when two names collapse to one."""
    base = prefix + (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "X")
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}_{counter}", counter + 1
    taken.add(candidate)
    return candidate


def describe_route(route: c.Route, aliases: list[str]) -> str:
    """``smart (aliases: gpt5): 3:1 openai/gpt-5, anthropic/claude-sonnet-4-5; then cheap``."""
    head = route.name + (f" (aliases: {', '.join(aliases)})" if aliases else "")
    targets = ", ".join(f"{t.provider}/{t.model}" for t in route.targets)
    if len(route.targets) > 1:
        targets = ":".join(f"{t.weight:g}" for t in route.targets) + " " + targets
    text = f"{head}: {targets}"
    if route.fallbacks:
        text += f"; then {', '.join(route.fallbacks)}"
    if not route.supports_tools:
        text += "; no tool calling"
    return text


def describe_provider(provider: c.Provider) -> str:
    keys = f"keys from {', '.join(k.env for k in provider.keys)}" if provider.keys else "no key"
    networked = registry.provider_type(provider.type).base_url != ""
    where = provider.base_url or ("(chosen at start-up)" if networked else "(built in, no network)")
    return f"{provider.name}: {provider.type} at {where}; {keys}"


def routing_context(gateway: c.Gateway) -> dict[str, object]:
    writer = LiteralWriter()
    taken: set[str] = {"GATEWAY", "FORMAT_VERSION", "SOURCE_SHA256"}
    providers = []
    for name, provider in gateway.providers.items():
        constant = constant_name("PROVIDER_", name, taken)
        providers.append({"constant": constant, "comment": describe_provider(provider), "expr": writer.write(provider)})
        writer.name(provider, constant)
    routes = []
    for route in _unique_routes(gateway):
        constant = constant_name("ROUTE_", route.name, taken)
        aliases = sorted(k for k, v in gateway.routes.items() if v is route and k != route.name)
        routes.append({"constant": constant, "comment": describe_route(route, aliases), "expr": writer.write(route)})
        writer.name(route, constant)
    tables = []
    for keyword, comment in _TABLES:
        value = getattr(gateway, keyword)
        if value:
            tables.append({"constant": keyword.upper(), "comment": comment, "expr": writer.write(value)})
            writer.name(value, keyword.upper())
    args = [(keyword, _table_or_value(writer, getattr(gateway, keyword))) for keyword in _GATEWAY_FIELDS]
    # providers and routes are required by Gateway even when empty (a providers-only spec serves provider/model).
    args = [(k, v if v is not None or k not in _REQUIRED else "{}") for k, v in args]
    args = [(k, v) for k, v in args if v is not None]
    writer.classes.add("Gateway")
    return {
        "format_version": c.FORMAT_VERSION,
        "imports": sorted(writer.classes),
        "providers": providers,
        "routes": routes,
        "tables": tables,
        "rule_functions": [_rule_function(rule) for rule in gateway.rules],
        "uses_re": any(_uses_re(compile_condition(rule.when)) for rule in gateway.rules),
        "gateway_args": args,
    }


_TABLES = (
    ("pricing", "--- Prices: USD per million tokens, 'provider/model' -> override ---"),
    ("customers", "--- Customers ---"),
    ("teams", "--- Teams ---"),
    ("virtual_keys", "--- Virtual keys: only sha256 hashes or env var names ---"),
    ("mcp_servers", "--- MCP servers: env and headers map to env var names ---"),
    ("rules", "--- Routing rules, in evaluation order: key, team, customer, then global; first match wins ---"),
)
_REQUIRED = frozenset({"providers", "routes"})
_GATEWAY_FIELDS = (
    "providers",
    "routes",
    "tiers",
    "pricing",
    "customers",
    "teams",
    "virtual_keys",
    "mcp_servers",
    "cache",
    "observability",
    "server",
    "claude_code",
    "rules",
)


def _rule_function(rule: c.Rule) -> dict[str, str]:
    where = "global" if rule.scope == "global" else f"{rule.scope} {rule.owner}"
    goes = rule.route or ", ".join(f"{t.provider}/{t.model}" for t in rule.targets)
    when = " ".join(rule.when.split())
    compiled = compile_condition(rule.when)
    source = function_source(rule.test.__name__, compiled.python, compiled.patterns)
    return {"comment": f"rule {rule.name} ({where}) -> {goes}: {when}", "source": source.rstrip("\n")}


def _uses_re(compiled: Compiled) -> bool:
    return "_re." in compiled.python or bool(compiled.patterns)


def _table_or_value(writer: LiteralWriter, value: object) -> str | None:
    """Source for one Gateway argument; None when it equals the default and can be left out."""
    if isinstance(value, dict | tuple) and not value:
        return None
    if id(value) in writer.constants:
        return writer.constants[id(value)]
    if value in (c.Cache(), c.Observability(), c.Server(), c.ClaudeGateway()):
        return None
    return writer.write(value)  # providers and routes: entries come out as the constants named above


def _unique_routes(gateway: c.Gateway) -> list[c.Route]:
    seen: dict[int, c.Route] = {}
    for route in gateway.routes.values():
        seen.setdefault(id(route), route)
    return sorted(seen.values(), key=lambda r: r.name)
