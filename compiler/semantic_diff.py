"""``bifrostc diff``: what changes between two specs in routes, tiers, budgets and tool grants."""

from __future__ import annotations

from collections.abc import Mapping

from bifrostc.compiler.routing_context import describe_route
from bifrostc.runtime import config as c


def diff_gateways(old: c.Gateway, new: c.Gateway) -> list[str]:
    """Lines ``+ added``, ``- removed``, ``~ changed: before -> after``; empty when equivalent."""
    lines: list[str] = []
    lines += _compare("route", _routes(old), _routes(new))
    lines += _compare("tier", old.tiers, new.tiers)
    lines += _compare("budget", _budgets(old), _budgets(new))
    lines += _compare("key", _grants(old), _grants(new))
    lines += _compare("mcp server", _servers(old), _servers(new))
    lines += _compare("provider", _providers(old), _providers(new))
    return lines


def _compare(kind: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    lines = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            lines.append(f"- {kind} {name}: {old[name]}")
        elif name not in old:
            lines.append(f"+ {kind} {name}: {new[name]}")
        elif old[name] != new[name]:
            lines.append(f"~ {kind} {name}: {old[name]}  =>  {new[name]}")
    return lines


def _routes(gateway: c.Gateway) -> dict[str, str]:
    return {name: describe_route(route, []).partition(": ")[2] for name, route in gateway.routes.items()}


def _money(budget: c.Budget | None) -> str:
    return f"${budget.max_usd:g} per {budget.period}" if budget else "none"


def _rate(rate: c.RateLimit | None) -> str:
    if rate is None:
        return ""
    return f"; {rate.requests_per_minute or '-'} req/min, {rate.tokens_per_minute or '-'} tok/min"


def _budgets(gateway: c.Gateway) -> dict[str, str]:
    table = {f"customer {n}": _money(x.budget) + _rate(x.rate_limit) for n, x in gateway.customers.items()}
    table |= {f"team {n}": _money(x.budget) + _rate(x.rate_limit) for n, x in gateway.teams.items()}
    table |= {f"key {k.name}": _money(k.budget) + _rate(k.rate_limit) for k in gateway.virtual_keys}
    return table


def _grants(gateway: c.Gateway) -> dict[str, str]:
    def joined(values: tuple[str, ...]) -> str:
        return ", ".join(values) or "all"

    return {
        k.name: (
            f"models {joined(k.allowed_models)}; providers {joined(k.allowed_providers)}; "
            f"mcp tools {joined(k.allowed_mcp_tools)}; team {k.team or '-'}; cache {'on' if k.cache else 'off'}"
        )
        for k in gateway.virtual_keys
    }


def _servers(gateway: c.Gateway) -> dict[str, str]:
    return {
        s.name: f"{s.transport}; allow {', '.join(s.allow_tools) or 'all'}; deny {', '.join(s.deny_tools) or 'none'}"
        for s in gateway.mcp_servers
    }


def _providers(gateway: c.Gateway) -> dict[str, str]:
    return {
        name: f"{p.type} at {p.base_url or '(built in)'}; keys {', '.join(k.env for k in p.keys) or 'none'}"
        for name, p in gateway.providers.items()
    }
