"""Cross-field rules over a shape-valid spec: providers, routes, references, fallbacks and Claude Code tiers.

Each rule returns a list of diagnostics and never raises, so one run reports every problem at once.
Governance, MCP, cache and environment rules live in ``checks_access.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bifrostc.compiler import checks_access, checks_routes, spec_claude_gateway
from bifrostc.compiler.checks_credentials import check_credentials
from bifrostc.compiler.checks_rules import check_rules
from bifrostc.compiler.diagnostics import Diagnostic, Path, did_you_mean, error, warning
from bifrostc.compiler.references import TIERS, Resolver, split_target
from bifrostc.compiler.spec import GatewaySpec, ProviderSpec, TargetSpec
from bifrostc.runtime.config import OpenAIOptions
from bifrostc.runtime.providers import registry

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # provider names prefix 'provider/model' strings
Check = Callable[[GatewaySpec, Resolver], list[Diagnostic]]


def run_all(spec: GatewaySpec, environ: dict[str, str] | None = None, *, check_env: bool = True) -> list[Diagnostic]:
    resolver = Resolver.of(spec)
    found: list[Diagnostic] = []
    for check in (check_providers, check_targets, check_names, check_fallbacks, check_tiers, check_pricing):
        found.extend(check(spec, resolver))
    found.extend(checks_access.run_all(spec, resolver, environ, check_env=check_env))
    found.extend(check_rules(spec, resolver))
    found.extend(check_credentials(spec, resolver))
    found.extend(spec_claude_gateway.check(spec.claude_code.managed_settings, set(spec.teams)))
    found.extend(spec_claude_gateway.check_oidc(spec.claude_code.sign_in, set(spec.teams)))
    if not any(d.is_error for d in found):  # the compiled routes exist: what the gateway will do with them
        found.extend(checks_routes.run_all(spec))
    return found


def unknown_ref(path: Path, ref: str, resolver: Resolver, what: str = "model") -> Diagnostic:
    """An error for a reference that names no public model, alias or known provider."""
    provider, slash, _ = ref.partition("/")
    if slash and provider not in resolver.providers:
        suggestion = did_you_mean(provider, resolver.providers)
        return error(path, f"unknown provider '{provider}' in '{ref}'.{suggestion}")
    hint = "use a public model name, an alias, or 'provider/model'"
    return error(path, f"unknown {what} '{ref}'.{did_you_mean(ref, resolver.known())}", hint)


def check_providers(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found = []
    for name, provider in spec.providers.items():
        path: Path = ("providers", name)
        if not _NAME.match(name):
            found.append(
                error(path, f"provider name '{name}' may use only letters, digits, '.', '_' and '-'", on_key=True)
            )
        if provider.api_key_env and provider.keys:
            found.append(error((*path, "api_key_env"), "give either api_key_env or keys, not both"))
        kind = registry.PROVIDERS.get(provider.type)
        if kind is None:
            hint = "one of: " + ", ".join(registry.PROVIDER_TYPES)
            found.append(error((*path, "type"), f"unknown provider type '{provider.type}'.{_dym(provider.type)}", hint))
            continue
        found.extend(_family_rules(path, provider, kind))
    if spec.server.default_provider and spec.server.default_provider not in spec.providers:
        bad = spec.server.default_provider
        found.append(error(("server", "default_provider"), f"unknown provider '{bad}'.{_prov(bad, resolver)}"))
    return found


def _family_rules(path: Path, provider: ProviderSpec, kind: registry.ProviderType) -> list[Diagnostic]:
    """What the registry says a provider type needs: a base_url, required options, a key, a pip extra."""
    found = []
    if kind.needs_base_url and not provider.base_url:
        found.append(error(path, f"{kind.name} needs base_url, e.g. {kind.needs_base_url}", on_key=True))
    for option, what in kind.required_options:
        if getattr(provider.options, option, None) is None:
            found.append(error(path, f"{kind.name} needs options.{option} ({what})", on_key=True))
    if kind.needs_key and provider.auth != "passthrough" and not provider.keys and not provider.api_key_env:
        found.append(warning(path, "no API key configured", "add `api_key_env: NAME` naming the env var"))
    extra = kind.missing_extra()
    if extra:
        message = f"provider type '{kind.name}' needs the '{extra}' extra, which is not installed here"
        found.append(warning((*path, "type"), message, f"pip install 'bifrostc[{extra}]' where the gateway runs"))
    return found


def check_targets(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found = []
    for name, model in spec.models.items():
        path: Path = ("models", name)
        if model.target and model.targets:
            found.append(error((*path, "target"), "give either target or targets, not both"))
        elif not model.target and not model.targets:
            found.append(error(path, "no target: add `target: provider/model` or a targets list", on_key=True))
        if model.target:
            parts = split_target(model.target)
            if parts is None:
                found.append(error((*path, "target"), f"'{model.target}' is not 'provider/model'"))
            elif parts[0] not in spec.providers:
                found.append(error((*path, "target"), f"unknown provider '{parts[0]}'.{_prov(parts[0], resolver)}"))
        for index, target in enumerate(model.targets):
            if target.provider not in spec.providers:
                bad = target.provider
                msg = f"unknown provider '{bad}'.{_prov(bad, resolver)}"
                found.append(error((*path, "targets", index, "provider"), msg))
            elif target.api is not None:
                found.extend(_target_api((*path, "targets", index, "api"), target, spec))
    return found


def _target_api(path: Path, target: TargetSpec, spec: GatewaySpec) -> list[Diagnostic]:
    """A target's `api:` needs an OpenAI-family provider and must agree with every other statement about it."""
    options = spec.providers[target.provider].options
    if not isinstance(options, OpenAIOptions):
        return [error(path, f"api: applies to OpenAI-family providers; '{target.provider}' is not one")]
    said = {options.api.get(target.model)} | {
        t.api
        for m in spec.models.values()
        for t in m.targets
        if (t.provider, t.model) == (target.provider, target.model)
    }
    said.discard(None)
    if len(said) > 1:
        message = f"{target.provider}/{target.model} is given both APIs ({', '.join(sorted(map(str, said)))})"
        return [error(path, message, f"say it once, in providers.{target.provider}.options.api")]
    return []


def check_names(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    """Public names and aliases form one namespace; a name must not look like ``provider/model``."""
    found = []
    owner: dict[str, str] = {name: name for name in spec.models}
    for name, model in spec.models.items():
        if split_target(name) and name.partition("/")[0] in spec.providers:
            found.append(error(("models", name), f"public name '{name}' reads as provider/model", on_key=True))
        for index, alias in enumerate(model.aliases):
            path: Path = ("models", name, "aliases", index)
            if alias in owner:
                other = owner[alias]
                what = "its own model name" if other == name else f"already used by models.{other}"
                found.append(error(path, f"alias '{alias}' is {what}", "every public name and alias must be unique"))
            else:
                owner[alias] = name
    return found


def check_fallbacks(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found = []
    edges: dict[str, list[str]] = {}
    for name, model in spec.models.items():
        for index, ref in enumerate(model.fallbacks):
            resolved = resolver.resolve(ref)
            if resolved is None:
                found.append(unknown_ref(("models", name, "fallbacks", index), ref, resolver))
            elif resolved in spec.models:
                edges.setdefault(name, []).append(resolved)
        for field in ("context_fallbacks", "content_policy_fallbacks"):
            for index, ref in enumerate(getattr(model, field)):
                if resolver.resolve(ref) is None:
                    found.append(unknown_ref(("models", name, field, index), ref, resolver))
    for cycle in _cycles(edges):
        chain = " -> ".join([*cycle, cycle[0]])
        hint = "a fallback chain must end; remove one of these fallbacks"
        found.append(error(("models", cycle[0], "fallbacks"), f"fallback cycle: {chain}", hint))
    return found


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Each elementary cycle once, rotated to start at its smallest name."""
    cycles: set[tuple[str, ...]] = set()

    def visit(node: str, stack: list[str]) -> None:
        for nxt in edges.get(node, []):
            if nxt in stack:
                cycle = stack[stack.index(nxt) :]
                start = cycle.index(min(cycle))
                cycles.add(tuple(cycle[start:] + cycle[:start]))
            else:
                visit(nxt, [*stack, nxt])

    for root in sorted(edges):
        visit(root, [root])
    return [list(c) for c in sorted(cycles)]


def check_tiers(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found = []
    for tier in TIERS:
        ref = getattr(spec.claude_code, tier)
        if ref is None:
            continue
        path: Path = ("claude_code", tier)
        resolved = resolver.resolve(ref)
        if resolved is None:
            found.append(unknown_ref(path, ref, resolver))
        elif resolved in spec.models and not spec.models[resolved].tools:
            hint = "Claude Code always sends tools; point the tier at a model with `tools: true`"
            found.append(error(path, f"model '{resolved}' does not support tool calling", hint))
    return found


def check_pricing(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found = []
    for key in spec.pricing:
        parts = split_target(key)
        if parts is None:
            found.append(error(("pricing", key), f"'{key}' is not 'provider/model'", on_key=True))
        elif parts[0] not in spec.providers:
            found.append(
                error(("pricing", key), f"unknown provider '{parts[0]}'.{_prov(parts[0], resolver)}", on_key=True)
            )
    return found


def _dym(provider_type: str) -> str:
    return did_you_mean(provider_type, registry.PROVIDER_TYPES)


def _prov(name: str, resolver: Resolver) -> str:
    return did_you_mean(name, resolver.providers)
