"""Every provider type, declared once: its adapter, default upstream, options class, needs and capabilities.

The compiler builds the spec's provider models (and so the JSON schema), its checks and the default base URLs
from this table; the runtime builds adapters from it. Adapters are named as ``"module:Class"`` and imported
only when a configured provider uses them, so start-up never pays for (or needs the extras of) unused ones.

To add a provider type: one entry below (and, for a new wire format, one adapter module); see docs/CONTRACTS.md.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bifrostc.runtime import config
from bifrostc.runtime.providers import rules as r

if TYPE_CHECKING:
    from bifrostc.runtime.providers.base import ProviderAdapter

_ADAPTERS = "bifrostc.runtime.providers."


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider type's upstream does, for the code paths that depend on it."""

    passthrough_dialect: str | None = None  # client dialect sent as it is (openai, anthropic, gemini, bedrock)
    streams_tool_arguments: bool = True  # tool-call arguments arrive as deltas (False: each call arrives whole)
    reasoning: bool = False  # carries reasoning (thinking blocks, reasoning_content, reasoning_effort)
    counts_tokens: bool = False  # answers /anthropic/v1/messages/count_tokens upstream
    stream_usage: bool = False  # accepts stream_options.include_usage (OpenAI family)
    max_tokens_field: str = "max_tokens"  # the completion-budget field of the OpenAI family's body
    responses: bool = False  # OpenAI's own API: Responses-only model families go to /responses by default


@dataclass(frozen=True, slots=True)
class ProviderType:
    name: str
    adapter: str  # "module:Class", imported lazily
    options: type[config.ProviderOptions] = config.NoOptions
    # "": no network (mock) or the user's own host (azure); a function: the host depends on the options.
    base_url: str | Callable[[config.ProviderOptions], str] = ""
    needs_key: bool = True  # False: local servers, cloud SDK credentials, or no upstream at all
    needs_base_url: str | None = None  # an example URL, for types whose host is the user's own resource
    required_options: tuple[tuple[str, str], ...] = ()  # (option, what it is)
    extra: str | None = None  # the pip extra holding the adapter's dependencies: bifrostc[<extra>]
    extra_modules: tuple[str, ...] = ()  # what that extra installs, to tell whether it is there
    caps: Capabilities = field(default_factory=Capabilities)
    rules: r.Rules = r.NATIVE  # what its API accepts and refuses (providers/rules.py, from its API reference)
    # The client headers that carry a caller's own credential to this family (`auth: passthrough`), forwarded
    # unchanged; empty: the type cannot pass a client's credential through (signed or cloud-SDK auth).
    credentials: tuple[str, ...] = ()

    @property
    def credential_family(self) -> str | None:
        """Whose credentials the type takes: its wire family (a token is only ever forwarded within one)."""
        return self.caps.passthrough_dialect if self.credentials else None

    def default_base_url(self, options: config.ProviderOptions | None = None) -> str:
        if callable(self.base_url):
            return self.base_url(options if options is not None else self.options())
        return self.base_url

    def missing_extra(self) -> str | None:
        """The extra this type needs when one of its modules cannot be found, else None."""
        for module in self.extra_modules:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):  # a missing parent package, or a module stubbed out with None
                found = False
            if not found:
                return self.extra
        return None


def _bedrock_url(options: config.ProviderOptions) -> str:
    """Without a region option the adapter picks AWS_REGION (then us-east-1) at start-up: no URL is baked in."""
    region = options.region if isinstance(options, config.BedrockOptions) else None
    return f"https://bedrock-runtime.{region}.amazonaws.com" if region else ""


def _vertex_url(options: config.ProviderOptions) -> str:
    location = options.location if isinstance(options, config.VertexOptions) else "us-central1"
    return (
        "https://aiplatform.googleapis.com" if location == "global" else f"https://{location}-aiplatform.googleapis.com"
    )


ANTHROPIC_CREDENTIALS = ("authorization", "x-api-key")  # a /login OAuth token (Bearer) or an API key
OPENAI_CREDENTIALS = ("authorization",)  # Bearer
GEMINI_CREDENTIALS = ("x-goog-api-key",)

_OPENAI_CAPS = Capabilities(
    passthrough_dialect="openai",
    reasoning=True,
    stream_usage=True,
    max_tokens_field="max_completion_tokens",
    responses=True,
)


def _compat(
    name: str,
    base_url: str,
    *,
    needs_key: bool = True,
    stream_usage: bool = True,
    max_tokens_field: str = "max_tokens",
    needs_base_url: str | None = None,
    rules: r.Rules = r.COMPAT,
) -> ProviderType:
    """An OpenAI-compatible server: OpenAI's wire format and adapter, its own host and quirks."""
    caps = Capabilities("openai", reasoning=True, stream_usage=stream_usage, max_tokens_field=max_tokens_field)
    adapter = _ADAPTERS + "openai:OpenAIAdapter"
    return ProviderType(
        name,
        adapter,
        config.OpenAIOptions,
        base_url,
        needs_key=needs_key,
        needs_base_url=needs_base_url,
        caps=caps,
        rules=rules,
        credentials=OPENAI_CREDENTIALS,
    )


# Local servers listen on 127.0.0.1: "localhost" may resolve to ::1 first, where ollama and vllm do not listen.
_TYPES = (
    ProviderType(
        "anthropic",
        _ADAPTERS + "anthropic:AnthropicAdapter",
        base_url="https://api.anthropic.com",
        caps=Capabilities("anthropic", reasoning=True, counts_tokens=True),
        rules=r.ANTHROPIC,
        credentials=ANTHROPIC_CREDENTIALS,
    ),
    ProviderType(
        "openai",
        _ADAPTERS + "openai:OpenAIAdapter",
        config.OpenAIOptions,
        "https://api.openai.com/v1",
        caps=_OPENAI_CAPS,
        rules=r.OPENAI,
        credentials=OPENAI_CREDENTIALS,
    ),
    ProviderType(
        "azure",
        _ADAPTERS + "azure:AzureOpenAIAdapter",
        config.AzureOptions,
        needs_base_url="https://RESOURCE.openai.azure.com",
        caps=_OPENAI_CAPS,
        rules=r.OPENAI,
    ),
    ProviderType(
        "bedrock",
        _ADAPTERS + "bedrock:BedrockAdapter",
        config.BedrockOptions,
        _bedrock_url,
        needs_key=False,
        extra="aws",
        extra_modules=("botocore",),
        caps=Capabilities("bedrock", reasoning=True, counts_tokens=True),
        rules=r.BEDROCK,
    ),
    ProviderType(
        "vertex",
        _ADAPTERS + "vertex:VertexAdapter",
        config.VertexOptions,
        _vertex_url,
        needs_key=False,
        required_options=(("project", "the Google Cloud project id"),),
        extra="gcp",
        extra_modules=("google.auth",),
        caps=Capabilities(streams_tool_arguments=False, reasoning=True, counts_tokens=True),  # whole calls
        rules=r.VERTEX,
    ),
    ProviderType(
        "gemini",
        _ADAPTERS + "gemini:GeminiAdapter",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        caps=Capabilities("gemini", streams_tool_arguments=False, reasoning=True, counts_tokens=True),
        credentials=GEMINI_CREDENTIALS,
    ),
    ProviderType(
        "cohere",
        _ADAPTERS + "cohere:CohereAdapter",
        base_url="https://api.cohere.com/v2",
        caps=Capabilities(reasoning=True),
    ),
    ProviderType(
        "mock", _ADAPTERS + "mock:MockAdapter", needs_key=False, caps=Capabilities(streams_tool_arguments=False)
    ),
    _compat("groq", "https://api.groq.com/openai/v1", rules=r.GROQ),
    _compat("mistral", "https://api.mistral.ai/v1", stream_usage=False, rules=r.MISTRAL),
    _compat("ollama", "http://127.0.0.1:11434/v1", needs_key=False),
    _compat("openrouter", "https://openrouter.ai/api/v1", rules=r.OPENROUTER),
    _compat("deepseek", "https://api.deepseek.com/v1", rules=r.DEEPSEEK),
    _compat("xai", "https://api.x.ai/v1", rules=r.XAI),
    _compat("together", "https://api.together.xyz/v1"),
    _compat("fireworks", "https://api.fireworks.ai/inference/v1"),
    _compat("cerebras", "https://api.cerebras.ai/v1", max_tokens_field="max_completion_tokens", rules=r.CEREBRAS),
    _compat("perplexity", "https://api.perplexity.ai", stream_usage=False),
    _compat("vllm", "http://127.0.0.1:8000/v1", needs_key=False),
    _compat("lmstudio", "http://127.0.0.1:1234/v1", needs_key=False),
    _compat("nebius", "https://api.studio.nebius.com/v1"),
    _compat("sambanova", "https://api.sambanova.ai/v1"),
    _compat("huggingface", "https://router.huggingface.co/v1"),
    # Any other OpenAI-compatible server: the same adapter at the spec's own base_url.
    _compat("openai_compat", "", needs_key=False, needs_base_url="http://127.0.0.1:8000/v1"),
)

PROVIDERS: dict[str, ProviderType] = {kind.name: kind for kind in _TYPES}
PROVIDER_TYPES: tuple[str, ...] = tuple(sorted(PROVIDERS))


class UnknownProviderType(LookupError):
    """A config names a provider type this gateway does not know, or whose adapter cannot be imported."""


def provider_type(name: str) -> ProviderType:
    kind = PROVIDERS.get(name)
    if kind is None:
        raise UnknownProviderType(f"unknown provider type {name!r}; known: {', '.join(PROVIDER_TYPES)}")
    return kind


def default_base_url(name: str, options: config.ProviderOptions | None = None) -> str:
    """The upstream URL of a type when the spec gives none, filled from region/location where the host uses them."""
    return provider_type(name).default_base_url(options)


def adapter_class(name: str) -> type[ProviderAdapter]:
    """Import and return the adapter class for a provider type, with a one-line error when that fails."""
    kind = provider_type(name)
    module_name, _, class_name = kind.adapter.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if kind.extra:
            raise UnknownProviderType(
                f"provider type {name!r} needs the {kind.extra!r} extra ({exc}): pip install 'bifrostc[{kind.extra}]'"
            ) from exc
        raise UnknownProviderType(f"provider type {name!r} needs {module_name}, which failed to import: {exc}") from exc
    try:
        cls: type[ProviderAdapter] = getattr(module, class_name)
    except AttributeError as exc:
        raise UnknownProviderType(f"{module_name} defines no {class_name}") from exc
    return cls
