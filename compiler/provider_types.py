"""Provider families the gateway knows, with the upstream base URL each one uses when the spec gives none."""

from __future__ import annotations

# Native adapter families. An empty default means the URL depends on options (bedrock, vertex) or on the
# user's own resource (azure), or that there is no network at all (mock).
NATIVE_BASE_URLS: dict[str, str] = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
    "azure": "",
    "bedrock": "",
    "vertex": "",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
    "cohere": "https://api.cohere.com/v2",
    "mock": "",
}

# The OpenAI-compatible family: same wire format as OpenAI Chat Completions, different host.
OPENAI_COMPATIBLE_BASE_URLS: dict[str, str] = {
    "groq": "https://api.groq.com/openai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "xai": "https://api.x.ai/v1",
    "together": "https://api.together.xyz/v1",
    "fireworks": "https://api.fireworks.ai/inference/v1",
    "cerebras": "https://api.cerebras.ai/v1",
    "perplexity": "https://api.perplexity.ai",
    "vllm": "http://127.0.0.1:8000/v1",
    "lmstudio": "http://127.0.0.1:1234/v1",
    "nebius": "https://api.studio.nebius.com/v1",
    "sambanova": "https://api.sambanova.ai/v1",
    "huggingface": "https://router.huggingface.co/v1",
}

PROVIDER_TYPES: tuple[str, ...] = tuple(sorted({**NATIVE_BASE_URLS, **OPENAI_COMPATIBLE_BASE_URLS}))

# Families that work without an API key: local servers, cloud SDK credentials, or no upstream at all.
KEYLESS_TYPES = frozenset({"mock", "ollama", "vllm", "lmstudio", "bedrock", "vertex"})


def default_base_url(provider_type: str, options: dict[str, str]) -> str:
    """The upstream URL for a family, filled from region/location options where the host depends on them."""
    if provider_type == "bedrock":
        return f"https://bedrock-runtime.{options.get('region', 'us-east-1')}.amazonaws.com"
    if provider_type == "vertex":
        location = options.get("location", "us-central1")
        host = "aiplatform.googleapis.com" if location == "global" else f"{location}-aiplatform.googleapis.com"
        return f"https://{host}"
    return NATIVE_BASE_URLS.get(provider_type) or OPENAI_COMPATIBLE_BASE_URLS.get(provider_type, "")
