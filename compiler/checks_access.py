"""Cross-field rules for governance (budgets, teams, virtual keys), MCP servers, cache, state and env vars."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator

from bifrostc.compiler.diagnostics import Diagnostic, Path, did_you_mean, error, warning
from bifrostc.compiler.references import Resolver
from bifrostc.compiler.spec import BUDGET_PERIODS, BudgetSpec, GatewaySpec

_GLOB_CHARS = frozenset("*?[")


def run_all(
    spec: GatewaySpec, resolver: Resolver, environ: dict[str, str] | None, *, check_env: bool = True
) -> list[Diagnostic]:
    """``check_env=False`` (``validate --no-env``): skip the checks of this machine's environment (CI without
    the secrets)."""
    env = dict(os.environ) if environ is None else environ
    return [
        *check_budgets(spec),
        *check_teams(spec),
        *check_virtual_keys(spec, resolver),
        *check_mcp(spec),
        *check_infrastructure(spec, resolver),
        *check_client_env(spec),
        *(check_env_vars(spec, env) if check_env else []),
    ]


def _budgets(spec: GatewaySpec) -> Iterator[tuple[Path, BudgetSpec]]:
    for name, customer in spec.customers.items():
        if customer.budget:
            yield ("customers", name, "budget"), customer.budget
    for name, team in spec.teams.items():
        if team.budget:
            yield ("teams", name, "budget"), team.budget
    for index, key in enumerate(spec.virtual_keys):
        if key.budget:
            yield ("virtual_keys", index, "budget"), key.budget


def check_budgets(spec: GatewaySpec) -> list[Diagnostic]:
    found = []
    for path, budget in _budgets(spec):
        if budget.period not in BUDGET_PERIODS:
            hint = "periods: never, 1h, 1d, 1w, 1M (calendar month)"
            msg = f"unknown budget period '{budget.period}'.{did_you_mean(budget.period, BUDGET_PERIODS)}"
            found.append(error((*path, "period"), msg, hint))
    return found


def check_teams(spec: GatewaySpec) -> list[Diagnostic]:
    found = []
    for name, team in spec.teams.items():
        if team.customer and team.customer not in spec.customers:
            msg = f"unknown customer '{team.customer}'.{did_you_mean(team.customer, spec.customers)}"
            found.append(error(("teams", name, "customer"), msg))
    return found


def check_virtual_keys(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found = []
    seen_names: set[str] = set()
    seen_hashes: set[str] = set()
    for index, key in enumerate(spec.virtual_keys):
        path: Path = ("virtual_keys", index)
        if key.name in seen_names:
            found.append(error((*path, "name"), f"duplicate virtual key name '{key.name}'"))
        seen_names.add(key.name)
        if (key.key_sha256 is None) == (key.key_env is None):
            found.append(error(path, "give exactly one of key_sha256 or key_env", on_key=True))
        if key.key_sha256 and key.key_sha256 in seen_hashes:
            found.append(error((*path, "key_sha256"), "the same key hash is used by two virtual keys"))
        seen_hashes.add(key.key_sha256 or "")
        if key.team and key.team not in spec.teams:
            found.append(error((*path, "team"), f"unknown team '{key.team}'.{did_you_mean(key.team, spec.teams)}"))
        for i, provider in enumerate(key.allowed_providers):
            if provider not in spec.providers:
                msg = f"unknown provider '{provider}'.{did_you_mean(provider, spec.providers)}"
                found.append(error((*path, "allowed_providers", i), msg))
        for i, pattern in enumerate(key.allowed_models):
            if not _GLOB_CHARS & set(pattern) and resolver.resolve_request(pattern) is None:
                msg = f"unknown model '{pattern}'.{did_you_mean(pattern, resolver.known())}"
                found.append(
                    error((*path, "allowed_models", i), msg, "use a public name, alias or a glob like 'gpt-*'")
                )
        found.extend(_check_tool_grants(spec, path, key.allowed_mcp_tools))
    return found


def _check_tool_grants(spec: GatewaySpec, path: Path, patterns: list[str]) -> list[Diagnostic]:
    """A tool grant 'server__tool' must name a configured MCP server (globs over the server part are fine)."""
    found = []
    for i, pattern in enumerate(patterns):
        server = pattern.partition("__")[0]
        if _GLOB_CHARS & set(server):
            if not fnmatch.filter(spec.mcp_servers, server):
                found.append(warning((*path, "allowed_mcp_tools", i), f"'{pattern}' matches no MCP server"))
        elif server not in spec.mcp_servers:
            msg = f"unknown MCP server '{server}' in '{pattern}'.{did_you_mean(server, spec.mcp_servers)}"
            found.append(error((*path, "allowed_mcp_tools", i), msg, "tool names are 'server__tool'"))
    return found


def check_mcp(spec: GatewaySpec) -> list[Diagnostic]:
    found = []
    for name, server in spec.mcp_servers.items():
        path: Path = ("mcp_servers", name)
        if "__" in name:
            found.append(
                error(path, "MCP server names must not contain '__' (it separates server and tool)", on_key=True)
            )
        if server.transport == "stdio" and not server.command:
            found.append(error(path, "a stdio MCP server needs command: [program, args...]", on_key=True))
        if server.transport == "stdio" and server.url:
            found.append(error((*path, "url"), "a stdio MCP server takes command, not url"))
        if server.transport != "stdio" and not server.url:
            found.append(error(path, f"an {server.transport} MCP server needs url", on_key=True))
        if server.transport != "stdio" and server.command:
            found.append(error((*path, "command"), f"an {server.transport} MCP server takes url, not command"))
        for i, tool in enumerate(server.deny_tools):
            if tool in server.allow_tools:
                found.append(warning((*path, "deny_tools", i), f"'{tool}' is both allowed and denied; deny wins"))
    return found


def check_infrastructure(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found = []
    cache = spec.cache
    if cache.mode == "semantic" and not cache.embedding_model:
        found.append(error(("cache",), "semantic cache needs embedding_model (a route for embeddings)", on_key=True))
    if cache.embedding_model and resolver.resolve(cache.embedding_model) is None:
        bad = cache.embedding_model
        found.append(
            error(("cache", "embedding_model"), f"unknown model '{bad}'.{did_you_mean(bad, resolver.known())}")
        )
    found += _redis_checks(spec)
    if spec.observability.log_store == "postgres" and not spec.observability.postgres_dsn_env:
        msg = "log_store postgres needs postgres_dsn_env"
        found.append(error(("observability", "log_store"), msg, "name the env var holding the PostgreSQL DSN"))
    if spec.server.require_key and not spec.virtual_keys:
        found.append(warning(("server", "require_key"), "require_key is true but no virtual_keys are defined"))
    return found


def _redis_checks(spec: GatewaySpec) -> list[Diagnostic]:
    server, redis = spec.server, spec.server.redis
    if redis is None:
        if (server.state == "redis" or spec.cache.backend == "redis") and not server.redis_url_env:
            hint = "set server.redis_url_env (or server.redis) to the env var holding the Redis URL"
            return [error(("server",), "redis state or cache backend needs server.redis_url_env", hint, on_key=True)]
        return []
    found: list[Diagnostic] = []
    if server.redis_url_env:
        msg = "give the Redis URL once: server.redis.url_env or server.redis_url_env, not both"
        found.append(error(("server", "redis_url_env"), msg, on_key=True))
    if redis.mode == "sentinel" and not redis.sentinels_env:
        msg = "redis mode sentinel needs sentinels_env (comma-separated host:port of the sentinels)"
        found.append(error(("server", "redis", "mode"), msg))
    if redis.mode != "sentinel" and not redis.url_env:
        found.append(error(("server", "redis", "mode"), f"redis mode {redis.mode} needs url_env"))
    return found


def _redis_env_refs(spec: GatewaySpec) -> Iterator[tuple[Path, str]]:
    if spec.server.redis is not None:
        for field in ("url_env", "sentinels_env", "username_env", "password_env", "sentinel_password_env"):
            if value := getattr(spec.server.redis, field):
                yield ("server", "redis", field), value


def _claude_code_env_refs(spec: GatewaySpec) -> Iterator[tuple[Path, str]]:
    if spec.claude_code.key_env:
        yield ("claude_code", "key_env"), spec.claude_code.key_env
    sign_in = spec.claude_code.sign_in
    if sign_in and sign_in.secret_env:
        yield ("claude_code", "sign_in", "secret_env"), sign_in.secret_env
    if sign_in and sign_in.oidc is not None:
        yield ("claude_code", "sign_in", "oidc", "client_id_env"), sign_in.oidc.client_id_env
        if sign_in.oidc.client_secret_env:
            yield ("claude_code", "sign_in", "oidc", "client_secret_env"), sign_in.oidc.client_secret_env
    for header, env in spec.observability.claude_code_telemetry.headers_env.items():
        yield ("observability", "claude_code_telemetry", "headers_env", header), env


def _env_refs(spec: GatewaySpec) -> Iterator[tuple[Path, str]]:
    for name, provider in spec.providers.items():
        if provider.api_key_env:
            yield ("providers", name, "api_key_env"), provider.api_key_env
        for index, key in enumerate(provider.keys):
            yield ("providers", name, "keys", index, "env"), key.env
    for field in ("admin_key_env", "redis_url_env"):
        if value := getattr(spec.server, field):
            yield ("server", field), value
    yield from _redis_env_refs(spec)
    yield from _claude_code_env_refs(spec)
    if spec.observability.postgres_dsn_env:
        yield ("observability", "postgres_dsn_env"), spec.observability.postgres_dsn_env
    for index, virtual_key in enumerate(spec.virtual_keys):
        if virtual_key.key_env:
            yield ("virtual_keys", index, "key_env"), virtual_key.key_env
    for name, server in spec.mcp_servers.items():
        for section in ("env", "headers"):
            for child, env in getattr(server, section).items():
                yield ("mcp_servers", name, section, child), env
    if spec.observability.metrics_token_env:
        yield ("observability", "metrics_token_env"), spec.observability.metrics_token_env


# What out/env.sh exports for clients (templates/env.sh.jinja); tests/compiler pins the two together.
CLIENT_ENV_VARS = frozenset({"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY"})
_CLIENT_SIDE = {"claude_code", "virtual_keys"}  # refs that name the client's own key, not the gateway's secrets


def check_client_env(spec: GatewaySpec) -> list[Diagnostic]:
    """`source out/env.sh` then `bifrostc serve` in one shell must not hand the gateway its client's key."""
    return [
        error(
            path,
            f"{env} is what out/env.sh gives clients (the gateway's key), so it cannot also hold this provider secret",
            f"read it from another variable, e.g. UPSTREAM_{env}",
        )
        for path, env in _env_refs(spec)
        if env in CLIENT_ENV_VARS and path[0] not in _CLIENT_SIDE
    ]


def check_env_vars(spec: GatewaySpec, environ: dict[str, str]) -> list[Diagnostic]:
    """Env vars referenced but not set here: a warning, since the gateway may run elsewhere."""
    return [
        warning(path, f"environment variable {env} is not set", "export it before `bifrostc serve`")
        for path, env in _env_refs(spec)
        if env not in environ
    ]
