"""Runtime configuration: the contract between the compiler and the gateway.

The generated ``out/routing.py`` builds one :class:`Gateway` from these frozen dataclasses as plain
literals, so a person debugging a route reads the exact tables the runtime uses. Secrets never appear
here: keys are referenced by environment-variable *name* and virtual keys by their sha256 hash.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from annotated_types import Gt

FORMAT_VERSION = 1

# Provider options: one frozen dataclass per provider family, named in the registry
# (``bifrostc.runtime.providers.registry``). The compiler validates the spec's ``options:`` straight into these
# classes (pydantic reads the annotations, ``__pydantic_config__`` and the attribute docstrings, which become the
# JSON schema's descriptions), so the schema, the compiler's checks and the adapters read the same fields.
_STRICT = {"extra": "forbid", "use_attribute_docstrings": True}


@dataclass(frozen=True, slots=True)
class NoOptions:
    """Families without options (anthropic, gemini, cohere, mock)."""

    __pydantic_config__ = _STRICT


@dataclass(frozen=True, slots=True)
class OpenAIOptions:
    """The OpenAI Chat Completions family: openai and every OpenAI-compatible type."""

    __pydantic_config__ = _STRICT

    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    """Which field carries the completion budget; default: the provider type's own."""
    stream_usage: bool | None = None
    """Ask for the final usage chunk (stream_options.include_usage); default: whether the type accepts it."""
    reasoning_effort: bool | None = None
    """Whether the model takes reasoning_effort; default: only models known to reason."""
    max_output_tokens: Annotated[int, Gt(0)] | None = None
    """Largest completion budget the model accepts; larger requests are clamped. Default: the model's known limit."""
    system_turns: Literal["fold", "keep"] | None = None
    """Mid-conversation system messages: fold them into the leading system prompt, or keep them in place.
    Default: the provider type's rule (fold everywhere but OpenAI and Azure, which accept them)."""
    api: dict[str, Literal["chat", "responses"]] = field(default_factory=dict)
    """Model id -> the API that serves it: chat (Chat Completions) or responses (the Responses API). Default:
    responses for the model families OpenAI serves only there (gpt-5-codex, gpt-5-pro, o1-pro, o3-pro, ...) on
    openai and azure, chat for every other model."""


@dataclass(frozen=True, slots=True)
class AzureOptions(OpenAIOptions):
    __pydantic_config__ = _STRICT

    api_version: str = "2025-04-01-preview"
    """The api-version query parameter (the default serves o-series and gpt-5 deployments: providers/rules.py)."""
    deployments: dict[str, str] = field(default_factory=dict)
    """Model id -> deployment name; a model without an entry is its own deployment name."""


@dataclass(frozen=True, slots=True)
class BedrockOptions:
    __pydantic_config__ = _STRICT

    region: str | None = None
    """AWS region of the endpoint and of inference profiles; default AWS_REGION, then us-east-1."""
    api: Literal["converse", "invoke"] = "converse"
    """invoke: Claude models go through InvokeModel with Anthropic Messages bodies; others always use Converse."""


@dataclass(frozen=True, slots=True)
class VertexOptions:
    __pydantic_config__ = _STRICT

    project: str | None = None
    """The Google Cloud project id (required)."""
    location: str = "us-central1"
    """The Vertex AI region, or global."""
    credentials_file: str | None = None
    """A service-account JSON key file; default: Application Default Credentials."""


ProviderOptions = NoOptions | OpenAIOptions | AzureOptions | BedrockOptions | VertexOptions
OptionsT = TypeVar("OptionsT", bound=ProviderOptions)


@dataclass(frozen=True, slots=True)
class KeyRef:
    """One upstream credential, read from ``os.environ[env]`` at start-up."""

    env: str
    weight: float = 1.0
    models: tuple[str, ...] = ()  # empty: the key serves every model of its provider


@dataclass(frozen=True, slots=True)
class Network:
    connect_timeout: float = 10.0
    read_timeout: float = 300.0  # longest silence allowed between two bytes of a response
    total_timeout: float = 600.0  # hard ceiling for one attempt, streams included
    # Longest wait for response headers and the first event: a hung upstream costs this, not read_timeout,
    # before the retry/fallback (3 x 60 s < Claude Code's 600 s client timeout). The transport applies it to
    # the header wait, `dispatch.prime` to the first event.
    first_byte_timeout: float = 60.0
    max_retries: int = 2
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    breaker_threshold: int = 5  # consecutive failures (5xx, timeouts; not 429s) that open a target's breaker
    breaker_cooldown_seconds: float = 30.0  # open breaker: seconds before one trial request goes through
    max_connections: int = 4096  # upstream connections open at once to this provider, per worker process


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    type: str  # adapter family: anthropic, openai, azure, bedrock, vertex, gemini, cohere, or an OpenAI-compatible name
    base_url: str
    keys: tuple[KeyRef, ...] = ()
    network: Network = field(default_factory=Network)
    headers: tuple[tuple[str, str], ...] = ()  # static, non-secret extra headers
    options: ProviderOptions | None = None  # None: the family's defaults
    # Who authenticates upstream: configured (the provider's keys) | passthrough (the client's own credential,
    # never a configured one) | passthrough_or_configured (the client's when it sent one, else the keys).
    auth: str = "configured"
    count_client_spend: bool = False  # spend billed to the client's own account counts towards budgets

    def options_as(self, cls: builtins.type[OptionsT]) -> OptionsT:  # `type` here is the field
        """This provider's options as the class its adapter reads; a config naming another family's is refused."""
        if self.options is None:
            return cls()
        if not isinstance(self.options, cls):
            raise TypeError(f"provider {self.name!r} ({self.type}) takes {cls.__name__}, not {self.options!r}")
        return self.options


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str  # the upstream model id sent to the provider
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Route:
    """A public model name: a weighted group of targets, then fallback routes tried in order."""

    name: str
    targets: tuple[Target, ...]
    fallbacks: tuple[str, ...] = ()
    supports_tools: bool = True
    affinity: str = "session"  # session: one conversation, one target (by weight over sessions) | none: per request
    context_window: int | None = None  # input tokens the targets take; a larger request goes to context_fallbacks
    context_fallbacks: tuple[str, ...] = ()  # tried (with their own fallbacks) when the prompt does not fit
    content_policy_fallbacks: tuple[str, ...] = ()  # tried when the upstream refuses on content policy


@dataclass(frozen=True, slots=True)
class Rule:
    """A routing rule: when ``test`` (the compiled CEL condition ``when``) holds, serve ``route`` or ``targets``.

    ``scope`` is global | key | team | customer (``owner`` names which); the generated module lists rules in
    evaluation order within each scope (priority, then file order)."""

    name: str
    when: str
    test: Callable[[Any], bool]  # a function over runtime.rules.RuleVars, defined in out/routing.py
    route: str = ""  # a public model name or 'provider/model'
    targets: tuple[Target, ...] = ()
    fallbacks: tuple[str, ...] = ()
    scope: str = "global"
    owner: str = ""
    priority: int = 0
    reads: tuple[str, ...] = ()  # the costly variables ``test`` reads (input_tokens, budget_used, tokens_used, request)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    max_usd: float
    period: str = "never"  # never | 1h | 1d | 1w | 1M (calendar month)


@dataclass(frozen=True, slots=True)
class RateLimit:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    budget: Budget | None = None
    rate_limit: RateLimit | None = None


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    customer: str | None = None
    budget: Budget | None = None
    rate_limit: RateLimit | None = None
    max_concurrent_requests: int | None = None  # requests in flight at once, across every replica


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """A gateway key handed to a client. Only the sha256 of its value is stored (or the env var holding it)."""

    name: str
    sha256: str | None = None
    env: str | None = None
    team: str | None = None
    budget: Budget | None = None
    rate_limit: RateLimit | None = None
    allowed_models: tuple[str, ...] = ()  # glob patterns over public model names; empty: all
    allowed_providers: tuple[str, ...] = ()  # empty: all
    allowed_mcp_tools: tuple[str, ...] = ()  # glob patterns over gateway tool names; empty: all
    cache: bool = True
    max_concurrent_requests: int | None = None  # requests in flight at once, across every replica


@dataclass(frozen=True, slots=True)
class McpServer:
    name: str
    transport: str  # stdio | http | sse
    command: tuple[str, ...] = ()
    url: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # child env var -> env var name it is copied from
    headers: tuple[tuple[str, str], ...] = ()  # header -> env var name holding its value
    allow_tools: tuple[str, ...] = ()
    deny_tools: tuple[str, ...] = ()
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Cache:
    mode: str = "off"  # off | exact | semantic
    backend: str = "memory"  # memory | redis
    ttl_seconds: int = 3600
    semantic_threshold: float = 0.95
    embedding_route: str | None = None  # route name used for /v1/embeddings when mode is semantic
    max_entries: int = 10_000
    # Requests carrying a client's own credential: per_credential (entries keyed on its salted hash) | off
    passthrough: str = "per_credential"


@dataclass(frozen=True, slots=True)
class ClaudeCodeTelemetry:
    forward_to: tuple[str, ...] = ()  # OTLP/HTTP collector base URLs (runtime.claude_gateway.relay)
    headers_env: dict[str, str] = field(default_factory=dict)  # header -> env var holding its value
    max_in_flight: int = 64  # per collector


@dataclass(frozen=True, slots=True)
class Observability:
    log_store: str = "sqlite"  # sqlite | postgres | none
    sqlite_path: str = "bifrostc.db"
    postgres_dsn_env: str | None = None
    postgres_pool_size: int = 4  # connections each replica keeps to PostgreSQL (writer + dashboard readers)
    log_bodies: bool = True
    log_full_history: bool = False  # log each request's whole conversation, not just what the turn adds
    retention_days: int | None = 30  # request-log rows older than this are deleted; None keeps them
    metrics: bool = True
    otlp_endpoint: str | None = None
    service_name: str = "bifrostc"
    spool_dir: str | None = None  # where unwritable log records wait for the store; None: beside sqlite_path
    metrics_token_env: str | None = None  # env var holding the bearer token /metrics takes when require_key is on
    claude_code_telemetry: ClaudeCodeTelemetry = field(default_factory=ClaudeCodeTelemetry)


@dataclass(frozen=True, slots=True)
class RedisState:
    """How the replicas reach Redis (``server.redis``); every secret is the name of an env var."""

    mode: str = "single"  # single | sentinel | cluster
    url_env: str | None = None  # single: redis[s]:// URL; cluster: comma-separated startup node URLs
    sentinels_env: str | None = None  # sentinel: comma-separated host:port of the sentinels
    service_name: str = "mymaster"  # sentinel: the monitored master's name
    username_env: str | None = None
    password_env: str | None = None
    sentinel_password_env: str | None = None
    tls: bool = False  # also implied by a rediss:// URL
    tls_ca_file: str | None = None
    replica_acks: int | None = None  # replicas that must acknowledge each write; None: 1 (sentinel, cluster), 0
    ack_timeout_ms: int = 500


@dataclass(frozen=True, slots=True)
class Tls:
    cert_file: str
    key_file: str


@dataclass(frozen=True, slots=True)
class ResponsesStore:
    """Stored Responses (``server.responses_store``): what a `store: true` response leaves for its key."""

    enabled: bool = True  # false: stateless, previous_response_id and item_reference are refused
    ttl_seconds: int = 2_592_000  # 30 days, OpenAI's retention of stored responses
    max_bytes: int = 268_435_456  # all stored responses together; the oldest go first past it


@dataclass(frozen=True, slots=True)
class Server:
    host: str = "127.0.0.1"
    port: int = 8080
    require_key: bool = False  # when true every request needs a virtual key
    admin_key_env: str | None = None  # env var holding the dashboard/admin key
    state: str = "embedded"  # embedded (in-process + SQLite) | redis
    redis_url_env: str | None = None  # shorthand for redis: {mode: single, url_env: ...}
    redis: RedisState | None = None
    responses_store: ResponsesStore = ResponsesStore()
    # state redis, Redis unreachable: closed refuses with a 503 + retry-after; open admits on local counters
    state_failure: str = "closed"
    # output tokens a budget holds for a request without max_tokens on a model with no documented maximum
    budget_default_max_tokens: int = 32_000
    budgets_refuse_unpriced: bool = False  # a budgeted key is refused a route with an unpriced target (403)
    default_provider: str | None = None
    max_request_mb: float = 32  # larger request bodies get a 413 before they are read into memory
    allowed_hosts: tuple[str, ...] = ()  # Host names accepted; empty: loopback names + host ("*": any)
    shutdown_grace_seconds: float = 20.0  # SIGTERM: then open streams get their dialect's error event
    header_timeout_seconds: float = 10.0  # a request's headers must arrive within this (slowloris)
    stream_ping_seconds: float = 15.0  # a client stream gets its dialect's keep-alive after this long without bytes
    workers: int | str = "auto"  # worker processes of `bifrostc serve` (runtime/supervisor.py); auto: one per core
    mcp_default: str = "allow"  # allow: a key without allowed_mcp_tools sees every tool | deny: sees none
    tls: Tls | None = None  # a native https listener (uvicorn's ssl options, in every worker)


# --- Claude Code's gateway protocol under /claude-code (bifrostc.runtime.claude_gateway) ---
JsonValue = str | int | float | bool | None | tuple["JsonValue", ...] | dict[str, "JsonValue"]


@dataclass(frozen=True, slots=True)
class Oidc:
    issuer: str
    client_id_env: str
    client_secret_env: str | None = None
    groups_claim: str = "groups"
    teams: dict[str, str] = field(default_factory=dict)  # IdP group -> team; empty: same-named teams
    scopes: tuple[str, ...] = ("openid", "email", "profile", "offline_access")
    recheck_seconds: int = 300


@dataclass(frozen=True, slots=True)
class SignIn:
    """Device sign-in: access tokens are HMAC-signed, bound to a virtual key's name."""

    token_ttl_seconds: int = 3600
    refresh_ttl_seconds: int = 30 * 86400
    secret_env: str | None = None  # env var holding the signing secret; unset: one generated per process
    login_notice: str | None = None  # shown next to the user code on Claude Code's sign-in screen
    oidc: Oidc | None = None  # the verification page also signs people in through this IdP


@dataclass(frozen=True, slots=True)
class ManagedSettings:
    """GET /claude-code/managed/settings: a base document, then per-team overrides (lists as tuples)."""

    settings: dict[str, JsonValue] = field(default_factory=dict)
    teams: dict[str, dict[str, JsonValue]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClaudeGateway:
    sign_in: SignIn | None = None  # None: no /claude-code routes
    managed_settings: ManagedSettings | None = None  # None: /managed/settings answers 404


@dataclass(frozen=True, slots=True)
class Gateway:
    providers: dict[str, Provider]
    routes: dict[str, Route]  # public name (incl. aliases) -> route
    tiers: dict[str, str] = field(default_factory=dict)  # sonnet/opus/haiku -> public route name
    pricing: dict[str, Price] = field(default_factory=dict)  # "provider/model" -> price override
    customers: dict[str, Customer] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    virtual_keys: tuple[VirtualKey, ...] = ()
    mcp_servers: tuple[McpServer, ...] = ()
    cache: Cache = field(default_factory=Cache)
    observability: Observability = field(default_factory=Observability)
    server: Server = field(default_factory=Server)
    claude_code: ClaudeGateway = field(default_factory=ClaudeGateway)
    rules: tuple[Rule, ...] = ()  # routing rules, in evaluation order per scope (runtime.rules)
