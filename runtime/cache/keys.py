"""Cache keys: a canonical, order-stable serialisation of what decides a model's answer.

Only fields that change the answer go in. ``stream`` (a transport choice), ``user``/``metadata``
(attribution) and ``cache_control`` markers (provider prompt-cache hints) are left out, so an
Anthropic client streaming and an OpenAI client not streaming the same conversation share an entry.
The route name stands in for ``req.model`` so aliases of one route share entries too.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import orjson

from bifrostc.runtime.types import ChatRequest, Message, TextPart

# Request fields left out of the key, and dialect passthrough fields (``extra``) that don't change the answer.
_IGNORED_FIELDS = frozenset({"model", "stream", "user", "extra", "messages"})
_IGNORED_EXTRA = frozenset(
    {
        "metadata",
        "user",
        "stream_options",
        "store",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",  # a provider prompt-cache routing hint
        "client_metadata",  # Codex: per-turn ids (Responses API)
        "include",  # Responses API: extra output fields asked for, same answer
    }
)


def _plain(value: Any) -> Any:
    """Dataclasses to tagged dicts without cache_control; lists and dicts recursed, scalars kept."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"_t": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.name != "cache_control":
                out[f.name] = _plain(getattr(value, f.name))
        return out
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _settings(req: ChatRequest) -> dict[str, Any]:
    """Everything but the messages: system, tools, sampling and reasoning settings, relevant extras."""
    out = {f.name: _plain(getattr(req, f.name)) for f in dataclasses.fields(req) if f.name not in _IGNORED_FIELDS}
    out["extra"] = {k: _plain(v) for k, v in req.extra.items() if k not in _IGNORED_EXTRA}
    return out


def _digest(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)).hexdigest()


def exact_key(req: ChatRequest, *, route: str, scope: str) -> str:
    """sha256 over scope, route, settings and the whole conversation."""
    return _digest(scope, route, _settings(req), _plain(req.messages))


def semantic_text(req: ChatRequest) -> str | None:
    """The last user turn's text, when it is plain text only (tool results and images are matched exactly)."""
    if not req.messages:
        return None
    last: Message = req.messages[-1]
    if last.role != "user" or not last.content or not all(isinstance(p, TextPart) for p in last.content):
        return None
    text = "\n".join(p.text for p in last.content if isinstance(p, TextPart)).strip()
    return text or None


def semantic_bucket(req: ChatRequest, *, route: str, scope: str) -> str:
    """Hard filter for semantic matches: same scope, route, settings and every turn before the last."""
    return _digest("semantic", scope, route, _settings(req), _plain(req.messages[:-1]))
