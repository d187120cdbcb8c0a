from __future__ import annotations

import pytest

from bifrostc.runtime.config import Price
from bifrostc.runtime.governance.pricing import BUILTIN_PRICES, cost_usd, find_price
from bifrostc.runtime.types import Usage


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("bedrock", "us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("bedrock", "global.anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5"),
        ("vertex", "claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("anthropic", "claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("openrouter", "anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "gpt-4.1-2025-04-14", "gpt-4.1"),
        ("openai", "o4-mini-2025-04-16", "o4-mini"),
        ("openai", "GPT-5-Mini", "gpt-5-mini"),
        ("gemini", "models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("groq", "openai/gpt-oss-120b", "openai/gpt-oss-120b"),
        ("groq", "moonshotai/kimi-k2-instruct-0905", "moonshotai/kimi-k2-instruct"),
        ("mistral", "mistral-large-latest", "mistral-large"),
        ("mistral", "devstral-medium-2507", "devstral-medium"),
        ("xai", "grok-4-0709", "grok-4"),
        ("deepseek", "deepseek-chat", "deepseek-chat"),
    ],
)
def test_lookup_normalises_dates_regions_and_vendor_prefixes(provider: str, model: str, expected: str) -> None:
    assert find_price(provider, model) == BUILTIN_PRICES[expected]


def test_unknown_model_has_no_price_and_costs_nothing() -> None:
    assert find_price("openai", "gpt-99-ultra") is None
    assert cost_usd("openai", "gpt-99-ultra", Usage(input_tokens=1000)) == 0.0


def test_cost_counts_each_token_class_at_its_rate() -> None:
    usage = Usage(
        input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=2_000_000, cache_write_tokens=400_000
    )
    # sonnet 4.5: 3 in, 15 out, 0.30 cache read, 3.75 cache write (per million)
    expected = 3.0 + 1.5 + 0.6 + 1.5
    assert cost_usd("anthropic", "claude-sonnet-4-5-20250929", usage) == pytest.approx(expected)


def test_missing_cache_rates_fall_back_to_the_input_rate() -> None:
    price = Price(input=2.0, output=4.0)
    usage = Usage(cache_read_tokens=500_000, cache_write_tokens=500_000)
    assert cost_usd("p", "m", usage, {"p/m": price}) == pytest.approx(2.0)


def test_overrides_win_over_the_builtin_table() -> None:
    usage = Usage(input_tokens=1_000_000)
    overrides = {"azure/gpt-4o": Price(input=9.0, output=9.0)}
    assert cost_usd("azure", "gpt-4o-2024-08-06", usage, overrides) == pytest.approx(9.0)
    assert cost_usd("openai", "gpt-4o", usage, overrides) == pytest.approx(2.5)


def test_bare_model_override_applies_to_every_provider() -> None:
    overrides = {"my-finetune": Price(input=1.0, output=1.0)}
    assert cost_usd("openai", "my-finetune", Usage(output_tokens=2_000_000), overrides) == pytest.approx(2.0)


def test_provider_specific_override_beats_bare_override() -> None:
    overrides = {"gpt-5": Price(1.0, 1.0), "azure/gpt-5": Price(5.0, 5.0)}
    assert find_price("azure", "gpt-5", overrides) == Price(5.0, 5.0)
    assert find_price("openai", "gpt-5", overrides) == Price(1.0, 1.0)


def test_every_builtin_price_is_sane() -> None:
    for name, price in BUILTIN_PRICES.items():
        assert 0 < price.input <= price.output, name
        assert price.cache_read is None or price.cache_read < price.input, name


async def test_governor_prices_with_the_spec_overrides() -> None:
    from bifrostc.runtime.config import Gateway
    from bifrostc.runtime.governance.governor import Governor

    gateway = Gateway(providers={}, routes={}, pricing={"azure/gpt-5": Price(input=3.0, output=3.0)})
    gov = Governor.from_gateway(gateway)
    assert gov.cost_usd("azure", "gpt-5", Usage(input_tokens=1_000_000)) == pytest.approx(3.0)
    assert gov.cost_usd("openai", "gpt-5", Usage(input_tokens=1_000_000)) == pytest.approx(1.25)
    await gov.aclose()
