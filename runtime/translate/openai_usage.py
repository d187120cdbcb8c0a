"""OpenAI usage objects <-> canonical Usage.

OpenAI's prompt_tokens include cached tokens; canonical (Anthropic) input_tokens exclude cache reads and writes.
DeepSeek reports prompt_cache_hit_tokens instead of prompt_tokens_details.cached_tokens; Groq streams may carry
usage only in ``x_groq.usage`` (``chunk_usage``).
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.types import Usage


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def usage_from_openai(raw: object) -> Usage:
    """OpenAI usage; a usage or details value that is not an object (a compatible server's odd reply) is absent."""
    raw = _object(raw)
    prompt_details = _object(raw.get("prompt_tokens_details"))
    completion_details = _object(raw.get("completion_tokens_details"))
    cache_read = _int(prompt_details.get("cached_tokens")) or _int(raw.get("prompt_cache_hit_tokens"))
    cache_write = _int(prompt_details.get("cache_write_tokens")) or _int(prompt_details.get("cache_creation_tokens"))
    prompt = _int(raw.get("prompt_tokens"))
    return Usage(
        input_tokens=max(prompt - cache_read - cache_write, 0),
        output_tokens=_int(raw.get("completion_tokens")),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=_int(completion_details.get("reasoning_tokens")),
    )


def chunk_usage(chunk: dict[str, Any]) -> dict[str, Any] | None:
    """A response's or chunk's usage object: ``usage``, or Groq's ``x_groq.usage`` (its streams carry it there)."""
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        return usage
    groq = chunk.get("x_groq")
    found = groq.get("usage") if isinstance(groq, dict) else None
    return found if isinstance(found, dict) else None


def usage_to_openai(usage: Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.cache_write_tokens:
        out["prompt_tokens_details"]["cache_write_tokens"] = usage.cache_write_tokens
    return out
