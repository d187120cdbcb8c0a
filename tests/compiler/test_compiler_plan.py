from __future__ import annotations

from bifrostc.compiler.plan import build_gateway
from bifrostc.compiler.validate import validate_text
from bifrostc.runtime import config as c

SPEC = """
version: 1
providers:
  openai: {type: openai, api_key_env: UPSTREAM_OPENAI_API_KEY}
  groq: {type: groq, keys: [{env: GROQ_A, weight: 2}, {env: GROQ_B, models: [llama]}]}
  azure:
    type: azure
    base_url: https://x.openai.azure.com/
    options: {api_version: "2024-10-21", deployments: {gpt-5: dep5}}
models:
  smart:
    targets: [{provider: openai, model: gpt-5, weight: 3}, {provider: groq, model: llama}]
    fallbacks: [mini, azure/gpt-5]
    aliases: [best]
    pricing: {input: 1, output: 2}
  cheap: {target: openai/gpt-5-mini, aliases: [mini], tools: false}
claude_code: {sonnet: best, opus: groq/kimi}
pricing:
  openai/gpt-5: {input: 1.25, output: 10}
"""


def gateway() -> c.Gateway:
    result = validate_text(SPEC, {})
    assert result.spec is not None, result.diagnostics
    return build_gateway(result.spec)


def test_every_public_name_and_alias_maps_to_one_shared_route() -> None:
    routes = gateway().routes
    assert routes["best"] is routes["smart"]
    assert routes["mini"] is routes["cheap"] and routes["cheap"].supports_tools is False
    assert routes["smart"].targets == (c.Target("openai", "gpt-5", 3.0), c.Target("groq", "llama", 1.0))


def test_fallbacks_resolve_aliases_and_provider_model_strings_become_routes() -> None:
    routes = gateway().routes
    assert routes["smart"].fallbacks == ("cheap", "azure/gpt-5")
    assert routes["azure/gpt-5"] == c.Route("azure/gpt-5", (c.Target("azure", "gpt-5"),))
    assert routes["groq/kimi"].targets == (c.Target("groq", "kimi"),)


def test_tiers_resolve_to_canonical_names_and_are_routable_by_tier_name() -> None:
    gw = gateway()
    assert gw.tiers == {"sonnet": "smart", "opus": "groq/kimi"}
    assert gw.routes["sonnet"] is gw.routes["smart"]
    assert "haiku" not in gw.routes


def test_provider_defaults_keys_and_options_are_normalised() -> None:
    providers = gateway().providers
    assert list(providers) == ["azure", "groq", "openai"]
    assert providers["groq"].base_url == "https://api.groq.com/openai/v1"
    assert providers["groq"].keys == (c.KeyRef("GROQ_A", 2.0), c.KeyRef("GROQ_B", 1.0, ("llama",)))
    assert providers["azure"].base_url == "https://x.openai.azure.com"
    assert providers["azure"].options_as(c.AzureOptions).deployments == {"gpt-5": "dep5"}
    assert providers["azure"].options_as(c.AzureOptions).api_version == "2024-10-21"


def test_top_level_pricing_overrides_route_pricing() -> None:
    pricing = gateway().pricing
    assert pricing["openai/gpt-5"] == c.Price(1.25, 10.0)
    assert pricing["groq/llama"] == c.Price(1.0, 2.0)
