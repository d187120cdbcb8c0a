"""Provider adapters, looked up lazily by provider type so start-up imports only what the config uses."""

from __future__ import annotations

import importlib
from typing import Any

_COMPAT = "bifrostc.runtime.providers.openai_compat:OpenAICompatAdapter"

# Provider type -> "module:Class". The OpenAI-compatible family shares one adapter with per-type defaults.
REGISTRY: dict[str, str] = {
    "anthropic": "bifrostc.runtime.providers.anthropic:AnthropicAdapter",
    "openai": "bifrostc.runtime.providers.openai:OpenAIAdapter",
    "azure": "bifrostc.runtime.providers.azure:AzureOpenAIAdapter",
    "mock": "bifrostc.runtime.providers.mock:MockAdapter",
    "bedrock": "bifrostc.runtime.providers.bedrock:BedrockAdapter",
    "vertex": "bifrostc.runtime.providers.vertex:VertexAdapter",
    "gemini": "bifrostc.runtime.providers.gemini:GeminiAdapter",
    "cohere": "bifrostc.runtime.providers.cohere:CohereAdapter",
    **{
        name: _COMPAT
        for name in (
            "groq mistral ollama openrouter deepseek xai together fireworks cerebras perplexity "
            "vllm lmstudio nebius sambanova huggingface openai_compat"
        ).split()
    },
}


class UnknownProviderType(LookupError):
    pass


def adapter_class(provider_type: str) -> Any:
    """Import and return the adapter class for a provider type, with a precise error when that fails."""
    target = REGISTRY.get(provider_type)
    if target is None:
        raise UnknownProviderType(f"unknown provider type {provider_type!r}; known: {', '.join(sorted(REGISTRY))}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownProviderType(
            f"provider type {provider_type!r} needs {module_name}, which failed to import: {exc} "
            "(for bedrock run `pip install 'bifrostc[aws]'`, for vertex `pip install 'bifrostc[gcp]'`)"
        ) from exc
    try:
        return getattr(module, class_name)
    except AttributeError as exc:
        raise UnknownProviderType(f"{module_name} defines no {class_name}") from exc
