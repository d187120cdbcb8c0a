"""The OpenAI-compatible family: one adapter, per-provider defaults (base URL, auth, quirks)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.providers.openai import OpenAIAdapter


@dataclass(frozen=True, slots=True)
class CompatDefaults:
    base_url: str
    needs_key: bool = True
    max_tokens_field: str = "max_tokens"
    stream_usage: bool = True  # whether the server accepts stream_options.include_usage


COMPAT_DEFAULTS: dict[str, CompatDefaults] = {
    "groq": CompatDefaults("https://api.groq.com/openai/v1"),
    "mistral": CompatDefaults("https://api.mistral.ai/v1", stream_usage=False),
    "ollama": CompatDefaults("http://localhost:11434/v1", needs_key=False),
    "openrouter": CompatDefaults("https://openrouter.ai/api/v1"),
    "deepseek": CompatDefaults("https://api.deepseek.com/v1"),
    "xai": CompatDefaults("https://api.x.ai/v1"),
    "together": CompatDefaults("https://api.together.xyz/v1"),
    "fireworks": CompatDefaults("https://api.fireworks.ai/inference/v1"),
    "cerebras": CompatDefaults("https://api.cerebras.ai/v1", max_tokens_field="max_completion_tokens"),
    "perplexity": CompatDefaults("https://api.perplexity.ai", stream_usage=False),
    "vllm": CompatDefaults("http://localhost:8000/v1", needs_key=False),
    "lmstudio": CompatDefaults("http://localhost:1234/v1", needs_key=False),
    "nebius": CompatDefaults("https://api.studio.nebius.com/v1"),
    "sambanova": CompatDefaults("https://api.sambanova.ai/v1"),
    "huggingface": CompatDefaults("https://router.huggingface.co/v1"),
    "openai_compat": CompatDefaults("http://localhost:8000/v1", needs_key=False),
}


class OpenAICompatAdapter(OpenAIAdapter):
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        defaults = COMPAT_DEFAULTS.get(provider.type, COMPAT_DEFAULTS["openai_compat"])
        self.default_base_url = defaults.base_url
        super().__init__(provider, client)
        self.max_tokens_field = provider.option("max_tokens_field", defaults.max_tokens_field) or "max_tokens"
        self.stream_usage = (provider.option("stream_usage") or str(defaults.stream_usage)).lower() == "true"
