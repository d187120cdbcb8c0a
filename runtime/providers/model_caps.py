"""What OpenAI-style models accept, where a request that is valid for Claude would be refused.

Claude Code asks for large `max_tokens` (32k) and sends thinking/effort on most turns. A reasoning model takes
`reasoning_effort`; a chat model (gpt-4o, gpt-4.1, most open models) rejects the field, and every model
rejects a completion budget above its own limit. Provider options override the heuristics:
`reasoning_effort: true | false` and `max_output_tokens: <int>` (``config.OpenAIOptions``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bifrostc.runtime import config
from bifrostc.runtime.providers import registry

MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")  # the two names of the OpenAI completion budget

# Model families that accept `reasoning_effort` (OpenAI o-series and gpt-5, open reasoning models served
# through OpenAI-compatible APIs).
_REASONING = re.compile(r"(^|/)(o\d|gpt-5(?!-chat)|gpt-oss|grok-3-mini|grok-4|qwen3|deepseek-r1|magistral)", re.I)

# Largest completion budget by model-name prefix (longest prefix wins), from the providers' model pages.
_MAX_OUTPUT = {
    "gpt-3.5": 4_096,
    "gpt-4o": 16_384,
    "chatgpt-4o": 16_384,
    "gpt-4.1": 32_768,
    "gpt-4-turbo": 4_096,
    "o1": 100_000,
    "o3": 100_000,
    "o4-mini": 100_000,
    "gpt-5": 128_000,
    "deepseek-chat": 8_192,
    "deepseek-reasoner": 64_000,
}


# Input tokens a model accepts, by a name fragment (the longest fragment found in the model id wins, so Bedrock's
# `anthropic.claude-sonnet-4-5-...-v1:0` and Vertex's `claude-sonnet-4-5@2025...` match too), from the providers'
# model pages. A route with context_fallbacks and no context_window of its own takes the smallest of its targets'.
_CONTEXT_WINDOW = {
    "claude": 200_000,  # Claude 3, 3.5, 3.7, 4, 4.1, 4.5 (1M for Sonnet 4/4.5 only behind a beta header)
    "gpt-3.5-turbo": 16_385,
    "gpt-4-turbo": 128_000,
    "gpt-4o": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-5": 272_000,  # 400k context of which 128k output: 272k input
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "gpt-oss": 131_072,
    "gemini-1.5-pro": 2_097_152,
    "gemini-2.0-flash": 1_048_576,
    "gemini-2.5": 1_048_576,
    "deepseek-chat": 128_000,
    "deepseek-reasoner": 128_000,
    "mistral-large": 131_072,
    "codestral": 256_000,
    "command-a": 256_000,
    "qwen3-coder": 262_144,
    "grok-4": 256_000,
}


def _bare(model: str) -> str:
    return model.rsplit("/", 1)[-1].lower()


def reasoning_class(provider: config.Provider, model: str) -> bool:
    """Whether the model is of its type's reasoning class (providers.rules `reasoning_models`), else the name
    heuristic for servers that host many families."""
    pattern = registry.provider_type(provider.type).rules.reasoning_models
    if pattern:
        return re.search(pattern, _bare(model)) is not None
    return bool(_REASONING.search(model))


def accepts_reasoning_effort(provider: config.Provider, model: str) -> bool:
    option = provider.options_as(config.OpenAIOptions).reasoning_effort
    if option is not None:
        return option
    return reasoning_class(provider, model)


def refused_for_model(provider: config.Provider, model: str) -> frozenset[str]:
    """The body fields this model's class refuses (sampling parameters of OpenAI reasoning models)."""
    rules = registry.provider_type(provider.type).rules
    if rules.strict_models and re.search(rules.strict_models, _bare(model)):
        return rules.strict_refuses
    return frozenset()


def max_output_tokens(provider: config.Provider, model: str) -> int | None:
    option = provider.options_as(config.OpenAIOptions).max_output_tokens
    if option is not None:
        return option
    bare = _bare(model)
    matches = [prefix for prefix in _MAX_OUTPUT if bare.startswith(prefix)]
    return _MAX_OUTPUT[max(matches, key=len)] if matches else None


def context_window(model: str) -> int | None:
    """The input tokens ``model`` accepts (the built-in table), None when the model is not in it."""
    name = model.lower()
    found = [fragment for fragment in _CONTEXT_WINDOW if fragment in name]
    return _CONTEXT_WINDOW[max(found, key=len)] if found else None


def smallest_window(models: Iterable[str]) -> int | None:
    """The smallest known window of ``models``; None when any of them is not in the table."""
    windows = [context_window(model) for model in models]
    known = [w for w in windows if w is not None]
    return min(known) if known and len(known) == len(windows) else None


def fit_to_model(body: dict[str, object], provider: config.Provider, model: str, max_tokens_field: str) -> None:
    """Drop what the model would refuse and clamp the completion budget, in place."""
    if "reasoning_effort" in body and not accepts_reasoning_effort(provider, model):
        del body["reasoning_effort"]
    for name in refused_for_model(provider, model) & body.keys():
        del body[name]
    limit = max_output_tokens(provider, model)
    requested = body.get(max_tokens_field)
    if limit is not None and isinstance(requested, int) and requested > limit:
        body[max_tokens_field] = limit


def fit_model_class(body: dict[str, object], provider: config.Provider, model: str) -> dict[str, object]:
    """A passthrough body without what the model's class refuses (providers/rules.py `strict_models`: OpenAI
    reasoning models take max_completion_tokens and no sampling parameters); ``body`` itself when it fits."""
    refused = refused_for_model(provider, model)
    if not refused or not (refused & body.keys() or "max_tokens" in body):
        return body
    fitted = {k: v for k, v in body.items() if k not in refused}
    if "max_tokens" in fitted:
        fitted.setdefault("max_completion_tokens", fitted["max_tokens"])
        del fitted["max_tokens"]
    return fitted


def fit_declared(body: dict[str, object], provider: config.Provider) -> dict[str, object]:
    """A passthrough body fitted to what the provider's options declare, and only that: the client chose its
    fields for its model, so the name heuristics stay out; the spec's own statements about the model still hold."""
    options = provider.options_as(config.OpenAIOptions)
    if options.max_tokens_field is None and options.max_output_tokens is None and options.reasoning_effort is not False:
        return body
    fitted = dict(body)
    field = options.max_tokens_field
    if field is not None:
        for name in MAX_TOKENS_FIELDS:
            if name in fitted and name != field:
                fitted[field] = fitted.pop(name)
    if options.reasoning_effort is False:
        fitted.pop("reasoning_effort", None)
    limit = options.max_output_tokens
    for name in MAX_TOKENS_FIELDS:
        requested = fitted.get(name)
        if limit is not None and isinstance(requested, int) and requested > limit:
            fitted[name] = limit
    return fitted


# Model families OpenAI serves only on /v1/responses (404 "only supported in v1/responses" on chat/completions):
# the SDK's `ResponsesOnlyModel` list (openai.types.shared.responses_model) and the codex models' pages.
RESPONSES_ONLY = re.compile(
    r"^(o\d+(-mini)?-(pro|deep-research)|computer-use-preview|codex-mini|gpt-5(\.\d+)?-(pro|codex))", re.I
)


RESPONSES_MIN_OUTPUT = 16  # the API refuses a smaller max_output_tokens ("Expected a value >= 16")


def upstream_api(provider: config.Provider, model: str) -> str:
    """The API a model is called on: "responses" or "chat" (options `api`, else the Responses-only families on
    the types that serve the Responses API)."""
    declared = provider.options_as(config.OpenAIOptions).api.get(model)
    if declared is not None:
        return declared
    caps = registry.provider_type(provider.type).caps
    return "responses" if caps.responses and RESPONSES_ONLY.search(_bare(model)) else "chat"


def fit_responses(body: dict[str, Any], provider: config.Provider, model: str) -> dict[str, Any]:
    """A Responses body fitted like a Chat Completions one: reasoning only where the model takes it, no sampling
    parameters a reasoning model refuses, the output budget clamped (and raised to the API's floor of 16).
    ``body`` itself when it fits (a relayed body is then sent as the client's bytes), else a fitted copy."""
    dropped = refused_for_model(provider, model) & body.keys()
    if "reasoning" in body and not accepts_reasoning_effort(provider, model):
        dropped = dropped | {"reasoning"}
    limit = max_output_tokens(provider, model)
    requested = body.get("max_output_tokens")
    output: int | None = None  # the budget to send instead of the requested one
    if limit is not None and isinstance(requested, int) and requested > limit:
        output = limit
    elif isinstance(requested, int) and 0 < requested < RESPONSES_MIN_OUTPUT:  # a probe's max_tokens: 1
        output = RESPONSES_MIN_OUTPUT
    if not dropped and output is None:
        return body
    fitted = {name: value for name, value in body.items() if name not in dropped}
    if output is not None:
        fitted["max_output_tokens"] = output
    return fitted
