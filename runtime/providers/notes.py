"""What a route's target loses to its provider's rules (providers/rules.py), in words: logged once per route at
start-up and shown by ``bifrostc explain``, so no feature is dropped silently."""

from __future__ import annotations

import logging

from bifrostc.runtime import config
from bifrostc.runtime.providers import registry, rules
from bifrostc.runtime.providers.model_caps import accepts_reasoning_effort, refused_for_model, upstream_api

log = logging.getLogger("bifrostc.providers")

_ANTHROPIC_ONLY = ("service_tier", "container", "mcp_servers", "tags", "metadata")


def target_notes(provider: config.Provider, model: str) -> list[str]:
    """One line per rule that changes what this target is sent."""
    kind = registry.provider_type(provider.type)
    table = kind.rules
    notes: list[str] = []
    if kind.caps.passthrough_dialect == "openai":
        notes += _openai_family(provider, model, table)
    own = kind.default_base_url()
    if provider.type == "anthropic" and provider.base_url and not provider.base_url.startswith(own or "-"):
        notes.append("third-party Anthropic-compatible host: mid-conversation system turns folded into system")
    claude_host = provider.type == "vertex" and model.startswith("claude")
    claude_host |= provider.type == "bedrock" and provider.options_as(config.BedrockOptions).api == "invoke"
    if claude_host and table.anthropic_fields is not None:
        refused = [name for name in _ANTHROPIC_ONLY if name not in table.anthropic_fields]
        notes.append(f"Anthropic fields {provider.type} refuses are not sent: {', '.join(refused)}")
        notes.append(
            f"anthropic-beta values outside {provider.type}'s list are dropped; context_management needs its beta"
        )
    return notes  # tool-call ids are mapped without loss (rules.fit_tool_id): not a dropped feature


def _openai_family(provider: config.Provider, model: str, table: rules.Rules) -> list[str]:
    options = provider.options_as(config.OpenAIOptions)
    notes: list[str] = []
    if table.fields is not None:
        notes.append(
            f"{provider.type} refuses unknown fields: only its documented ones are sent (no user, stream_options)"
        )
    if table.refused:
        notes.append(f"not sent ({provider.type} refuses them): {', '.join(sorted(table.refused))}")
    kind = registry.provider_type(provider.type)
    usage = kind.caps.stream_usage if options.stream_usage is None else options.stream_usage
    if not usage and table.fields is None:
        notes.append("stream_options.include_usage not sent (stream_usage is off)")
    strict = refused_for_model(provider, model)
    if strict:
        notes.append(f"not sent to {model} (its model class refuses them): {', '.join(sorted(strict))}")
    if not accepts_reasoning_effort(provider, model):
        notes.append(f"reasoning_effort (thinking) not sent to {model}")
    if (options.system_turns or table.system_turns) == "fold":
        notes.append("mid-conversation system messages folded into the system prompt (options.system_turns: keep)")
    if upstream_api(provider, model) == "responses":
        notes.append(
            f"{model} is called on the Responses API (stateless): only its own encrypted reasoning goes back, "
            "thinking from other families is not sent"
        )
    elif table.reasoning_back != "none":
        notes.append(f"reasoning sent back on assistant turns as {table.reasoning_back}")
    if isinstance(options, config.AzureOptions):
        needed = rules.api_version_too_old(options.api_version, options.deployments.get(model, model))
        if needed:
            notes.append(
                f"api-version {options.api_version} is older than {needed}, which {model} needs: Azure refuses it"
            )
    return notes


def log_route_notes(gateway: config.Gateway) -> None:
    """Once per route at start-up: what each target loses to its provider's rules."""
    for route in gateway.routes.values():
        for target in route.targets:
            provider = gateway.providers.get(target.provider)
            if provider is None:
                continue
            for note in target_notes(provider, target.model):
                log.info("route %s -> %s/%s: %s", route.name, target.provider, target.model, note)
