"""OpenRouter's ``reasoning_details``: kept whole on the way out, sent back unmodified on later turns.

OpenRouter normalizes every upstream's reasoning (Anthropic signatures, Gemini thought signatures, OpenAI
encrypted reasoning) into a list of detail objects and asks that the list come back unchanged on the assistant
message (https://openrouter.ai/docs/use-cases/reasoning-tokens#preserving-reasoning-blocks): Gemini 3 behind
OpenRouter refuses a tool turn without it. The list travels in the thinking block's signature, marked as
OpenRouter's (``signatures.mark``), so clients hand it back and no other family is sent it.
"""

from __future__ import annotations

from typing import Any

import orjson

from bifrostc.runtime.translate.signatures import mark, native


def merge(details: list[dict[str, Any]], fragments: Any) -> None:
    """Add streamed fragments in place: a fragment of the same ``index`` and ``type`` continues the last
    detail (text and summary are concatenated, other fields replaced); anything else starts a new one."""
    if not isinstance(fragments, list):
        return
    for fragment in fragments:
        if not isinstance(fragment, dict):
            continue
        last = details[-1] if details else None
        same = last is not None and (last.get("index"), last.get("type")) == (
            fragment.get("index"),
            fragment.get("type"),
        )
        if not same:
            details.append(dict(fragment))
            continue
        assert last is not None
        for key, value in fragment.items():
            if key in ("text", "summary") and isinstance(value, str) and isinstance(last.get(key), str):
                last[key] += value
            elif value is not None:
                last[key] = value


def to_signature(details: list[dict[str, Any]]) -> str:
    return mark("openrouter", orjson.dumps(details).decode())


def from_signature(signature: str | None) -> list[Any] | None:
    """The details a thinking block carried, if OpenRouter issued them; else None."""
    raw = native("openrouter", signature)
    if raw is None:
        return None
    try:
        details = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return details if isinstance(details, list) else None


def text_of(details: list[dict[str, Any]]) -> str:
    return "".join(str(d.get("text") or d.get("summary") or "") for d in details if isinstance(d, dict))
