"""Built-in price table and per-request cost in USD.

Prices are USD per million tokens ``(input, output, cache_read, cache_write)``, the vendors' public list
prices for the models named, checked on ``PRICES_AS_OF``. ``cache_write`` is Anthropic's 5-minute cache
write; vendors without a write surcharge leave it ``None`` (priced as input). Long-context tiers (Gemini
2.5 Pro above 200k prompt tokens) and batch discounts are not modelled. A spec's ``pricing:`` section
(``Gateway.pricing``, keyed ``"provider/model"`` or bare model) always wins over this table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from bifrostc.runtime.config import Price
from bifrostc.runtime.types import Usage

PRICES_AS_OF = "2026-12-03"  # gemini-3*, deepseek-v4*, nova, kimi/glm, gpt-5.5 added then

_P = Price
BUILTIN_PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-5": _P(1.25, 10.0, 0.125),
    "gpt-5.1": _P(1.25, 10.0, 0.125),
    "gpt-5-codex": _P(1.25, 10.0, 0.125),
    "gpt-5.5": _P(5.0, 30.0, 0.50),
    "gpt-5-mini": _P(0.25, 2.0, 0.025),
    "gpt-5-nano": _P(0.05, 0.40, 0.005),
    "gpt-4.1": _P(2.0, 8.0, 0.50),
    "gpt-4.1-mini": _P(0.40, 1.60, 0.10),
    "gpt-4.1-nano": _P(0.10, 0.40, 0.025),
    "gpt-4o": _P(2.50, 10.0, 1.25),
    "gpt-4o-mini": _P(0.15, 0.60, 0.075),
    "o3": _P(2.0, 8.0, 0.50),
    "o3-mini": _P(1.10, 4.40, 0.55),
    "o4-mini": _P(1.10, 4.40, 0.275),
    # Anthropic (cache_write: 5-minute write, 1.25x input)
    "claude-opus-4-5": _P(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-1": _P(15.0, 75.0, 1.50, 18.75),
    "claude-opus-4": _P(15.0, 75.0, 1.50, 18.75),
    "claude-sonnet-4-5": _P(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4": _P(3.0, 15.0, 0.30, 3.75),
    "claude-3-7-sonnet": _P(3.0, 15.0, 0.30, 3.75),
    "claude-haiku-4-5": _P(1.0, 5.0, 0.10, 1.25),
    "claude-3-5-haiku": _P(0.80, 4.0, 0.08, 1.0),
    # Google Gemini (prompts up to 200k tokens)
    "gemini-2.5-pro": _P(1.25, 10.0, 0.125),
    "gemini-2.5-flash": _P(0.30, 2.50, 0.03),
    "gemini-2.5-flash-lite": _P(0.10, 0.40, 0.01),
    "gemini-3-pro": _P(2.0, 12.0, 0.20),  # gemini-3-pro-preview ("-preview" is stripped before lookup)
    "gemini-3.1-pro": _P(2.0, 12.0, 0.20),
    "gemini-3-flash": _P(0.50, 3.0, 0.05),
    "gemini-3.5-flash": _P(1.50, 9.0, 0.15),
    "gemini-3.8-flash": _P(0.75, 3.75, 0.075),  # the list price through 2026-12-31
    # DeepSeek V4 (cache_read is the cache-hit input price, cut to a tenth on 2026-04-26); deepseek-chat and
    # deepseek-reasoner are billed as V4-Flash (non-thinking and thinking)
    "deepseek-v4-flash": _P(0.14, 0.28, 0.0028),
    "deepseek-v4-pro": _P(1.74, 3.48, 0.0145),
    "deepseek-chat": _P(0.14, 0.28, 0.0028),
    "deepseek-reasoner": _P(0.14, 0.28, 0.0028),
    # Amazon Nova on Bedrock (amazon.nova-*-v1:0, us. / eu. inference profiles; on-demand list prices)
    "nova-micro": _P(0.035, 0.14, 0.00875),
    "nova-lite": _P(0.06, 0.24, 0.015),
    "nova-pro": _P(0.80, 3.20, 0.20),
    "nova-premier": _P(2.50, 12.50, 0.625),
    # Moonshot and Z.ai, as their APIs and OpenRouter ("moonshotai/kimi-k2", "z-ai/glm-4.6") list them
    "kimi-k2": _P(0.60, 2.50, 0.15),
    "glm-4.6": _P(0.60, 2.20, 0.11),
    # Groq-hosted open models (ids as Groq serves them)
    "llama-3.3-70b-versatile": _P(0.59, 0.79),
    "llama-3.1-8b-instant": _P(0.05, 0.08),
    "openai/gpt-oss-120b": _P(0.15, 0.75, 0.075),
    "openai/gpt-oss-20b": _P(0.075, 0.30, 0.0375),
    "moonshotai/kimi-k2-instruct": _P(1.0, 3.0, 0.50),
    "qwen/qwen3-32b": _P(0.29, 0.59),
    "meta-llama/llama-4-scout-17b-16e-instruct": _P(0.11, 0.34),
    "meta-llama/llama-4-maverick-17b-128e-instruct": _P(0.20, 0.60),
    # Mistral ("-latest" and "-YYMM" suffixes are stripped before lookup)
    "mistral-large": _P(2.0, 6.0),
    "mistral-medium": _P(0.40, 2.0),
    "mistral-small": _P(0.10, 0.30),
    "codestral": _P(0.30, 0.90),
    "devstral-medium": _P(0.40, 2.0),
    "devstral-small": _P(0.10, 0.30),
    "magistral-medium": _P(2.0, 5.0),
    "magistral-small": _P(0.50, 1.50),
    # xAI
    "grok-4": _P(3.0, 15.0, 0.75),
    "grok-4-fast-reasoning": _P(0.20, 0.50, 0.05),
    "grok-4-fast-non-reasoning": _P(0.20, 0.50, 0.05),
    "grok-code-fast-1": _P(0.20, 1.50, 0.02),
    "grok-3": _P(3.0, 15.0, 0.75),
    "grok-3-mini": _P(0.30, 0.50, 0.075),
}

_REGION_PREFIX = re.compile(r"^(?:us|eu|apac|au|jp|ca|global|us-gov)\.")
_VENDOR_PREFIX = re.compile(r"^(?:anthropic|meta|mistral|amazon|cohere|deepseek|openai|qwen)\.")
_VERSION_SUFFIX = re.compile(r"(?:-v\d+(?::\d+)?|:\d+)$")
_AT_SUFFIX = re.compile(r"@.*$")
# OpenRouter routing variants of a model id, billed at its price ("z-ai/glm-4.6:exacto"); ":free" ones cost nothing
_OPENROUTER_VARIANT = re.compile(r":(?:exacto|nitro|floor|online|thinking|beta|extended)$")
FREE = Price(0.0, 0.0)
FREE_PROVIDER_TYPES = frozenset({"mock"})  # no upstream, nothing to bill: never "unpriced"
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest|preview(?:-\d{2}-\d{2})?)$")
_DOTTED_VERSION = re.compile(r"(?<=\d)\.(?=\d)")


def _normalised(model: str) -> str:
    """``us.anthropic.claude-sonnet-4-5-20250929-v1:0`` -> ``claude-sonnet-4-5``."""
    name = model.strip().lower()
    if name.startswith("models/"):  # Gemini API resource names
        name = name[len("models/") :]
    name = _REGION_PREFIX.sub("", name)
    name = _VENDOR_PREFIX.sub("", name)
    name = _AT_SUFFIX.sub("", name)  # Vertex: claude-sonnet-4-5@20250929
    name = _OPENROUTER_VARIANT.sub("", name)
    name = _VERSION_SUFFIX.sub("", name)
    previous = None
    while previous != name:  # e.g. -20250929 then -latest
        previous, name = name, _DATE_SUFFIX.sub("", name)
    return name


def _candidates(model: str) -> Iterator[str]:
    """Model names to try, most specific first."""
    seen: set[str] = set()
    normal = _normalised(model)
    tail = normal.rsplit("/", 1)[-1]  # OpenRouter-style "anthropic/claude-sonnet-4.5"
    for name in (model, model.lower(), normal, _DOTTED_VERSION.sub("-", normal), tail, _DOTTED_VERSION.sub("-", tail)):
        if name not in seen:
            seen.add(name)
            yield name


def _search(table: Mapping[str, Price], provider: str, model: str) -> Price | None:
    for name in _candidates(model):
        for key in (f"{provider}/{name}", name):
            price = table.get(key)
            if price is not None:
                return price
    return None


def find_price(provider: str, model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """Spec overrides first, then the built-in table; ``None`` when the model is unknown."""
    if overrides:
        price = _search(overrides, provider, model)
        if price is not None:
            return price
    if model.endswith(":free"):  # OpenRouter's free variants
        return FREE
    return _search(BUILTIN_PRICES, provider, model)


def price_cost(price: Price, usage: Usage) -> float:
    """USD for one response. ``usage.input_tokens`` excludes cache tokens; output includes reasoning."""
    cache_read = price.input if price.cache_read is None else price.cache_read
    cache_write = price.input if price.cache_write is None else price.cache_write
    micro = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * cache_read
        + usage.cache_write_tokens * cache_write
    )
    return micro / 1_000_000


def cost_usd(provider: str, model: str, usage: Usage, overrides: Mapping[str, Price] | None = None) -> float:
    """Cost of one response in USD; 0.0 for a model with no known price (see :func:`find_price`)."""
    price = find_price(provider, model, overrides)
    return 0.0 if price is None else price_cost(price, usage)


class PriceBook:
    """:func:`find_price` memoised per (provider, model) for one ``pricing:`` table: the governor prices the bill
    and the log hooks the row with it, once per pair rather than with ~12 dict probes per request. Bounded:
    passthrough models are client-chosen names."""

    MAX_ENTRIES = 1024

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self.overrides = overrides
        self._found: dict[tuple[str, str], Price | None] = {}

    def price(self, provider: str, model: str) -> Price | None:
        key = (provider, model)
        try:
            return self._found[key]
        except KeyError:
            price = find_price(provider, model, self.overrides)
            if len(self._found) < self.MAX_ENTRIES:
                self._found[key] = price
            return price

    def cost(self, provider: str, model: str, usage: Usage) -> float:
        """As :func:`cost_usd`."""
        price = self.price(provider, model)
        return 0.0 if price is None else price_cost(price, usage)
