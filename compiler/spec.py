"""Pydantic models of gateway.yaml: shape and per-field rules only.

Rules that relate fields to one another (references, cycles, duplicates) live in ``checks.py`` so that every
problem is reported at once with a position. Secrets are never values here: only env var names, or the
sha256 of a virtual key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model, field_validator
from pydantic.json_schema import SkipJsonSchema

from bifrostc.compiler.spec_claude_gateway import ManagedSettingsSpec
from bifrostc.compiler.spec_rules import ClaudeRoutingSpec, RuleSpec
from bifrostc.runtime import config as c
from bifrostc.runtime.providers import registry

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
BUDGET_PERIODS: tuple[str, ...] = ("never", "1h", "1d", "1w", "1M")

EnvName = Annotated[str, Field(pattern=ENV_NAME_PATTERN, description="Name of an environment variable.")]
Weight = Annotated[float, Field(gt=0, description="Relative share; any positive number.")]
Seconds = Annotated[float, Field(gt=0)]


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeySpec(SpecModel):
    env: EnvName
    weight: Weight = 1.0
    models: list[str] = Field(default_factory=list, description="Upstream models this key serves; empty: all.")


class NetworkSpec(SpecModel):
    connect_timeout: Seconds = 10.0
    read_timeout: Seconds = 300.0
    total_timeout: Seconds = 600.0
    first_byte_timeout: Seconds = Field(
        default=60.0,
        description="Longest wait for an attempt's response headers and first event; then the next retry or "
        "fallback is tried (3 attempts x 60 s stay well inside Claude Code's 600 s client timeout).",
    )
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    backoff_initial: Annotated[float, Field(ge=0)] = 0.5
    backoff_max: Annotated[float, Field(ge=0)] = 8.0
    breaker_threshold: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=5, description="Consecutive failures (5xx, timeouts; not 429) that open a (provider, model) breaker."
    )
    breaker_cooldown_seconds: Seconds = Field(
        default=30.0, description="Seconds an open breaker waits before letting one trial request through."
    )
    max_connections: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=4096,
        description="Upstream connections open at once to this provider, per worker process (a stream holds one"
        " until it ends); more requests wait for a free one (bifrostc_upstream_pool_wait_seconds).",
    )


class ProviderSpec(SpecModel):
    """A provider whose type the registry does not know; ``checks`` reports it (with did-you-mean).

    Each known family validates as a subclass from :data:`PROVIDER_FAMILIES`, whose ``type`` is a literal and
    whose ``options`` is the family's runtime options class (``bifrostc.runtime.config``), all built from the
    provider registry: one declaration for the schema, the checks and the adapters.
    """

    type: str
    base_url: str | None = None
    api_key_env: EnvName | None = Field(default=None, description="Shorthand for keys: [{env: NAME}].")
    keys: list[KeySpec] = Field(default_factory=list)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    headers: dict[str, str] = Field(default_factory=dict, description="Static, non-secret extra headers.")
    options: object = Field(default_factory=dict)
    auth: Literal["configured", "passthrough", "passthrough_or_configured"] = Field(
        default="configured",
        description="Who authenticates upstream: the provider's keys (configured), the client's own credential"
        " (passthrough: a Claude subscription or a personal key, never a configured one), or the client's when it"
        " sent one, else the keys (passthrough_or_configured).",
    )
    count_client_spend: bool = Field(
        default=False, description="Spend billed to the client's own account counts towards virtual-key budgets."
    )


def _family_specs() -> dict[str, type[ProviderSpec]]:
    """One spec model per options class, keyed by that class's name (the discriminator's tag)."""
    types_by_options: dict[type[c.ProviderOptions], list[str]] = {}
    for kind in registry.PROVIDERS.values():
        types_by_options.setdefault(kind.options, []).append(kind.name)
    families: dict[str, type[ProviderSpec]] = {}
    for options, names in types_by_options.items():
        family = options.__name__.removesuffix("Options")
        families[options.__name__] = create_model(
            "ProviderWithoutOptions" if options is c.NoOptions else f"{family}Provider",
            __base__=ProviderSpec,
            __doc__=f"Provider types {', '.join(names)}.",
            type=(Literal[tuple(names)], ...),
            options=(options, Field(default_factory=options)),
        )
    return families


PROVIDER_FAMILIES = _family_specs()
UNKNOWN_FAMILY = "unknown"


def provider_family(value: object) -> str:
    """The discriminator: which family model validates a provider mapping (or serialises a provider spec)."""
    name = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    kind = registry.PROVIDERS.get(name) if isinstance(name, str) else None
    return kind.options.__name__ if kind else UNKNOWN_FAMILY


_MEMBERS = (
    *(Annotated[model, Tag(tag)] for tag, model in PROVIDER_FAMILIES.items()),
    Annotated[SkipJsonSchema[ProviderSpec], Tag(UNKNOWN_FAMILY)],  # kept out of the schema: `checks` reports it
)
if TYPE_CHECKING:
    AnyProviderSpec = ProviderSpec  # what every member is; the union itself is built at import time
else:
    AnyProviderSpec = Annotated[Union[_MEMBERS], Discriminator(provider_family)]  # noqa: UP007


class TargetSpec(SpecModel):
    provider: str
    model: str
    weight: Weight = 1.0
    api: Literal["chat", "responses"] | None = Field(
        default=None,
        description="The API the model is called on (OpenAI family): chat or responses; the same as the provider's "
        "`options.api` entry for this model. Default: responses for the families OpenAI serves only there.",
    )


class PriceSpec(SpecModel):
    """USD per million tokens."""

    input: Annotated[float, Field(ge=0)]
    output: Annotated[float, Field(ge=0)]
    cache_read: Annotated[float, Field(ge=0)] | None = None
    cache_write: Annotated[float, Field(ge=0)] | None = None


class ModelSpec(SpecModel):
    target: str | None = Field(default=None, description="Shorthand for one target: 'provider/model'.")
    targets: list[TargetSpec] = Field(default_factory=list)
    fallbacks: list[str] = Field(default_factory=list, description="Public names or 'provider/model', in order.")
    aliases: list[str] = Field(default_factory=list)
    tools: bool = Field(default=True, description="Whether the targets support tool calling.")
    pricing: PriceSpec | None = None
    context_window: Annotated[int, Field(gt=0)] | None = Field(
        default=None,
        description="Input tokens the targets accept; a request estimated larger goes to context_fallbacks"
        " before any upstream call (or gets 'prompt is too long' so Claude Code compacts).",
    )
    context_fallbacks: list[str] = Field(
        default_factory=list, description="Routes tried when the prompt does not fit (estimate or upstream error)."
    )
    content_policy_fallbacks: list[str] = Field(
        default_factory=list, description="Routes tried when an upstream refuses on content policy."
    )
    affinity: Literal["session", "none"] = Field(
        default="session",
        description="How a route with several targets picks one: 'session' keeps each conversation (its "
        "prompt_cache_key, metadata.user_id or user) on one target so provider prompt caches stay warm and "
        "thinking stays with one model; 'none' draws by weight on every request.",
    )


class OidcSpec(SpecModel):
    """Sign in on the verification page through the organization's OpenID Connect provider (authorization code
    flow with PKCE); the IdP's groups pick the person's team."""

    issuer: str = Field(description="The IdP's issuer URL; its /.well-known/openid-configuration is read.")
    client_id_env: EnvName
    client_secret_env: EnvName | None = Field(default=None, description="Unset: a public client (PKCE only).")
    groups_claim: str = Field(default="groups", description="The id_token claim listing the person's groups.")
    teams: dict[str, str] = Field(
        default_factory=dict,
        description="IdP group -> spec team, first match wins; empty: a group named like a team maps to it.",
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile", "offline_access"])
    recheck_seconds: Annotated[int, Field(ge=0)] = Field(
        default=300,
        description="How often a signed-in person's groups are read again from the IdP (refresh grant); losing"
        " the group, or the IdP refusing, ends the session at that request.",
    )


class SignInSpec(SpecModel):
    """Claude Code's /login against this gateway: device sign-in under /claude-code."""

    token_ttl_seconds: Annotated[int, Field(gt=0)] = 3600
    refresh_ttl_seconds: Annotated[int, Field(gt=0)] = 30 * 86400
    secret_env: EnvName | None = Field(default=None, description="Token signing secret; unset: one per process.")
    login_notice: Annotated[str, Field(max_length=500)] | None = None
    oidc: OidcSpec | None = None


class ClaudeCodeSpec(SpecModel):
    sonnet: str | None = None
    opus: str | None = None
    haiku: str | None = None
    key_env: EnvName | None = Field(default=None, description="Env var holding the virtual key Claude Code sends.")
    credentials: Literal["gateway", "subscription", "own_key"] = Field(
        default="gateway",
        description="What Claude Code authenticates upstream with: the gateway's keys, the person's own /login"
        " (subscription) or own ANTHROPIC_API_KEY (own_key); env.sh then sends the virtual key in x-bifrostc-key.",
    )
    sign_in: SignInSpec | None = None
    managed_settings: ManagedSettingsSpec | None = None
    routing: ClaudeRoutingSpec | None = None


class BudgetSpec(SpecModel):
    max_usd: Annotated[float, Field(ge=0)]
    period: str = Field(default="never", json_schema_extra={"enum": list(BUDGET_PERIODS)})


class RateLimitSpec(SpecModel):
    requests_per_minute: Annotated[int, Field(gt=0)] | None = None
    tokens_per_minute: Annotated[int, Field(gt=0)] | None = None


class CustomerSpec(SpecModel):
    budget: BudgetSpec | None = None
    rate_limit: RateLimitSpec | None = None
    rules: list[RuleSpec] = Field(default_factory=list, description="Routing rules for this customer's keys.")


MaxConcurrent = Annotated[int, Field(gt=0)] | None


class TeamSpec(SpecModel):
    customer: str | None = None
    budget: BudgetSpec | None = None
    rate_limit: RateLimitSpec | None = None
    rules: list[RuleSpec] = Field(default_factory=list, description="Routing rules for this team's keys.")
    max_concurrent_requests: MaxConcurrent = Field(
        default=None,
        description="Requests of the team's keys in flight at once, across every replica (leases expire 30 s after"
        " a replica holding them dies); over it: a 429 with retry-after.",
    )


class VirtualKeySpec(SpecModel):
    name: str
    key_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    key_env: EnvName | None = None
    team: str | None = None
    budget: BudgetSpec | None = None
    rate_limit: RateLimitSpec | None = None
    allowed_models: list[str] = Field(default_factory=list, description="Globs over public model names; empty: all.")
    allowed_providers: list[str] = Field(default_factory=list)
    allowed_mcp_tools: list[str] = Field(default_factory=list, description="Globs over gateway tool names.")
    cache: bool = True
    rules: list[RuleSpec] = Field(default_factory=list, description="Routing rules for this key (checked first).")
    max_concurrent_requests: MaxConcurrent = Field(
        default=None,
        description="Requests of this key in flight at once, across every replica (leases expire 30 s after a"
        " replica holding them dies); over it: a 429 with retry-after.",
    )


class McpServerSpec(SpecModel):
    transport: Literal["stdio", "http", "sse"]
    command: list[str] = Field(default_factory=list)
    url: str | None = None
    env: dict[str, EnvName] = Field(default_factory=dict, description="Child env var -> env var it is copied from.")
    headers: dict[str, EnvName] = Field(default_factory=dict, description="Header -> env var holding its value.")
    allow_tools: list[str] = Field(default_factory=list)
    deny_tools: list[str] = Field(default_factory=list)
    timeout: Seconds = 30.0


class CacheSpec(SpecModel):
    mode: Literal["off", "exact", "semantic"] = "off"

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as false; that is what the author meant.
        return "off" if value is False else value

    backend: Literal["memory", "redis"] = "memory"
    ttl_seconds: Annotated[int, Field(gt=0)] = 3600
    semantic_threshold: Annotated[float, Field(gt=0, le=1)] = 0.95
    embedding_model: str | None = None
    max_entries: Annotated[int, Field(gt=0)] = 10_000
    passthrough: Literal["per_credential", "off"] = Field(
        default="per_credential",
        description="Requests carrying the client's own credential: entries keyed on its salted hash, or no caching.",
    )


class ClaudeCodeTelemetrySpec(SpecModel):
    """Where Claude Code's OTLP exports to /claude-code/v1/{metrics,logs,traces} are also sent, byte for byte."""

    forward_to: list[str] = Field(
        default_factory=list,
        description="OTLP/HTTP collector base URLs; each export is posted to <url>/v1/<signal> unchanged.",
    )
    headers_env: dict[str, EnvName] = Field(
        default_factory=dict, description="Header name -> env var holding its value, sent to every collector."
    )
    max_in_flight: Annotated[int, Field(ge=1, le=4096)] = Field(
        default=64, description="Relayed exports under way per collector; beyond it an export is not relayed."
    )


class ObservabilitySpec(SpecModel):
    log_store: Literal["sqlite", "postgres", "none"] = "sqlite"
    sqlite_path: str = "bifrostc.db"
    postgres_dsn_env: EnvName | None = None
    postgres_pool_size: Annotated[int, Field(ge=1, le=100)] = Field(
        default=4, description="PostgreSQL connections each replica keeps (the log writer and dashboard queries)."
    )
    log_bodies: bool = True
    log_full_history: bool = Field(
        default=False,
        description="Log every request's whole conversation; by default only what each turn adds (agents resend "
        "the full history every turn, which would grow the log with the square of a session's length).",
    )
    retention_days: Annotated[int, Field(gt=0)] | None = Field(
        default=30, description="Delete request-log rows older than this many days; null keeps them forever."
    )
    metrics: bool = True
    otlp_endpoint: str | None = None
    service_name: str = "bifrostc"
    spool_dir: str | None = Field(
        default=None,
        description="Directory where request-log records wait on disk while the log store is unreachable (replayed "
        "in order when it is back); default: the directory of sqlite_path.",
    )
    metrics_token_env: EnvName | None = Field(
        default=None,
        description="Env var holding a bearer token for /metrics (Prometheus scrapers) when require_key is on.",
    )
    claude_code_telemetry: ClaudeCodeTelemetrySpec = Field(default_factory=ClaudeCodeTelemetrySpec)


class RedisSpec(SpecModel):
    """How replicas reach the shared Redis: one node, a Sentinel-monitored master, or a Cluster."""

    mode: Literal["single", "sentinel", "cluster"] = "single"
    url_env: EnvName | None = Field(
        default=None,
        description="Env var holding the URL (single: redis:// or rediss://; cluster: comma-separated startup nodes).",
    )
    sentinels_env: EnvName | None = Field(
        default=None, description="sentinel: env var holding the sentinels as comma-separated host:port."
    )
    service_name: str = Field(default="mymaster", description="sentinel: the name of the monitored master.")
    username_env: EnvName | None = None
    password_env: EnvName | None = Field(
        default=None, description="Env var holding the password (overrides the URL's)."
    )
    sentinel_password_env: EnvName | None = None
    tls: bool = Field(default=False, description="TLS to Redis (also implied by a rediss:// URL).")
    tls_ca_file: str | None = None
    replica_acks: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="Replicas that must acknowledge each admission and settlement (WAIT) before it counts, so a"
        " failover loses no spend; default 1 for sentinel and cluster, 0 for single.",
    )
    ack_timeout_ms: Annotated[int, Field(ge=1)] = 500


class TlsSpec(SpecModel):
    """A native TLS listener (Claude Code's /login needs https off loopback); paths are read at `serve`."""

    cert_file: str = Field(description="PEM certificate chain, leaf first (Claude Code pins the leaf).")
    key_file: str = Field(description="PEM private key of the leaf certificate.")


class ResponsesStoreSpec(SpecModel):
    """Stored Responses: a `store: true` answer on /v1/responses is kept for the key that asked, so
    `previous_response_id`, `item_reference` input items, GET and DELETE /v1/responses/{id} find it. Kept in
    the embedded SQLite file next to the log database, or in Redis with `state: redis` (shared by replicas)."""

    enabled: bool = Field(
        default=True,
        description="false: nothing is stored, and previous_response_id and item_reference are refused (400).",
    )
    ttl_seconds: Annotated[int, Field(ge=1)] = Field(
        default=2_592_000, description="How long a stored response is kept (default 30 days, as OpenAI keeps them)."
    )
    max_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=268_435_456,
        description="Bytes all stored responses may take together; past it the oldest are dropped first.",
    )


class ServerSpec(SpecModel):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    require_key: bool = False
    admin_key_env: EnvName | None = None
    state: Literal["embedded", "redis"] = "embedded"
    redis_url_env: EnvName | None = Field(
        default=None, description="Shorthand for redis: {mode: single, url_env: ...}."
    )
    redis: RedisSpec | None = None
    responses_store: ResponsesStoreSpec = ResponsesStoreSpec()
    state_failure: Literal["closed", "open"] = Field(
        default="closed",
        description="With state redis, while Redis is unreachable: closed refuses requests with a 503 and"
        " retry-after; open admits them on each replica's own counters and adds their spend to Redis when it returns.",
    )
    budget_default_max_tokens: Annotated[int, Field(ge=1)] = Field(
        default=32_000,
        description="Output tokens a budget holds at admission for a request without max_tokens, on a model"
        " whose maximum output is not documented.",
    )
    budgets_refuse_unpriced: bool = Field(
        default=False,
        description="true: a key with a budget (its own, its team's or its customer's) is refused (403) a route"
        " with a target that has no price (`pricing:` or the built-in table), so the budget counts all it admits.",
    )
    default_provider: str | None = None
    max_request_mb: float = Field(
        default=32, gt=0, description="Largest request body accepted (413 beyond); Anthropic's own limit is 32 MB."
    )
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Host header names accepted (DNS-rebinding guard); empty: loopback names and `host`, or any "
        "name when `host` is a wildcard address; '*' accepts any.",
    )
    shutdown_grace_seconds: Annotated[float, Field(ge=0)] = Field(
        default=20.0,
        description="On SIGTERM, how long open requests may finish; then open streams get an error event.",
    )
    header_timeout_seconds: Seconds = Field(
        default=10.0, description="A client must send a request's headers within this time (slowloris guard)."
    )
    stream_ping_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        default=15.0,
        description="A stream to a client gets a keep-alive (Anthropic's `event: ping`, an SSE comment for the"
        " OpenAI dialects) after this many seconds without bytes, so idle watchdogs and proxies keep it open.",
    )
    workers: Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] = Field(
        default="auto",
        description="Gateway worker processes `bifrostc serve` runs on one port; auto: one per core this process"
        " may use (1 when the embedded state is in memory and cannot be shared). `serve --workers` and the"
        " BIFROSTC_WORKERS env var override it.",
    )
    tls: TlsSpec | None = Field(
        default=None,
        description="Serve https with this certificate (every worker); unset: plain http, e.g. behind a"
        " TLS-terminating balancer.",
    )
    mcp_default: Literal["allow", "deny"] = Field(
        default="allow",
        description="MCP tools for a key without `allowed_mcp_tools` (and for callers without a key): allow sees"
        " every tool; deny sees none, so each key sees only the tools it is granted.",
    )


class GatewaySpec(SpecModel):
    """The whole gateway.yaml document."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="bifrostc gateway.yaml")

    version: Literal[1] = 1
    server: ServerSpec = Field(default_factory=ServerSpec)
    providers: dict[str, AnyProviderSpec] = Field(default_factory=dict)
    models: dict[str, ModelSpec] = Field(default_factory=dict, description="Public model names (routes).")
    pricing: dict[str, PriceSpec] = Field(default_factory=dict, description="'provider/model' -> price override.")
    claude_code: ClaudeCodeSpec = Field(default_factory=ClaudeCodeSpec)
    customers: dict[str, CustomerSpec] = Field(default_factory=dict)
    teams: dict[str, TeamSpec] = Field(default_factory=dict)
    virtual_keys: list[VirtualKeySpec] = Field(default_factory=list)
    mcp_servers: dict[str, McpServerSpec] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list, description="Global routing rules; first match wins.")
    cache: CacheSpec = Field(default_factory=CacheSpec)
    observability: ObservabilitySpec = Field(default_factory=ObservabilitySpec)
