"""Rules for providers that take the client's own credential (``auth: passthrough``, docs: README "Your own
Claude subscription or key"): the type must be able to carry one, and no fallback may hand it to another family."""

from __future__ import annotations

from bifrostc.compiler.diagnostics import Diagnostic, Path, error, warning
from bifrostc.compiler.references import Resolver, split_target
from bifrostc.compiler.spec import GatewaySpec, ModelSpec
from bifrostc.runtime.providers import registry

_FALLBACK_FIELDS = ("fallbacks", "context_fallbacks", "content_policy_fallbacks")


def check_credentials(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for name, provider in spec.providers.items():
        kind = registry.PROVIDERS.get(provider.type)
        if provider.auth == "configured" or kind is None:
            continue
        path: Path = ("providers", name, "auth")
        if not kind.credentials:
            hint = "types that can: " + ", ".join(sorted(n for n, k in registry.PROVIDERS.items() if k.credentials))
            found.append(error(path, f"provider type '{kind.name}' cannot pass the client's credential through", hint))
        elif provider.auth == "passthrough" and (provider.keys or provider.api_key_env):
            hint = "use auth: passthrough_or_configured to fall back on them when the client sends no credential"
            found.append(warning(path, "keys are never used with auth: passthrough", hint))
    claude = spec.claude_code
    if claude.credentials != "gateway" and spec.server.require_key and not claude.key_env:
        hint = "name the env var holding the virtual key in claude_code.key_env: env.sh sends it in x-bifrostc-key"
        found.append(warning(("claude_code", "credentials"), "keys are required but Claude Code is given none", hint))
    for name, model in spec.models.items():
        families = _passthrough_families(spec, model)
        if not families:
            continue
        for field in _FALLBACK_FIELDS:
            for index, ref in enumerate(getattr(model, field)):
                target = spec.models.get(resolver.resolve(ref) or "")
                if target is None:
                    continue
                for served_by, family in _strict_passthrough(spec, target):
                    if family not in families:
                        found.append(_cross_family(("models", name, field, index), ref, served_by, family, families))
    return found


def _provider_names(model: ModelSpec) -> list[str]:
    if model.target:
        parts = split_target(model.target)
        return [parts[0]] if parts else []
    return [t.provider for t in model.targets]


def _passthrough_families(spec: GatewaySpec, model: ModelSpec) -> set[str]:
    """The credential families a route forwards (any target whose provider passes the client's through)."""
    families = set()
    for name in _provider_names(model):
        provider = spec.providers.get(name)
        kind = registry.PROVIDERS.get(provider.type) if provider else None
        if provider and kind and provider.auth != "configured" and kind.credential_family:
            families.add(kind.credential_family)
    return families


def _strict_passthrough(spec: GatewaySpec, model: ModelSpec) -> list[tuple[str, str]]:
    """(provider, family) of the targets that only ever use the client's credential (auth: passthrough)."""
    out = []
    for name in _provider_names(model):
        provider = spec.providers.get(name)
        kind = registry.PROVIDERS.get(provider.type) if provider else None
        if provider and kind and provider.auth == "passthrough" and kind.credential_family:
            out.append((name, kind.credential_family))
    return out


def _cross_family(path: Path, ref: str, provider: str, family: str, families: set[str]) -> Diagnostic:
    theirs = ", ".join(sorted(families))
    message = (
        f"fallback '{ref}' is served by '{provider}' (auth: passthrough, {family} credentials), but this route"
        f" forwards the client's {theirs} credential, which is never sent to another family"
    )
    hint = f"give '{provider}' auth: passthrough_or_configured (its own key), or fall back within the {theirs} family"
    return error(path, message, hint)
