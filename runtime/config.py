"""Runtime configuration: the contract between the compiler and the gateway.

The generated ``out/routing.py`` builds one :class:`Gateway` from these frozen dataclasses as plain
literals, so a person debugging a route reads the exact tables the runtime uses. Secrets never appear
here: keys are referenced by environment-variable *name* and virtual keys by their sha256 hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FORMAT_VERSION = 1


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


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    type: str  # adapter family: anthropic, openai, azure, bedrock, vertex, gemini, cohere, or an OpenAI-compatible name
    base_url: str
    keys: tuple[KeyRef, ...] = ()
    network: Network = field(default_factory=Network)
    headers: tuple[tuple[str, str], ...] = ()  # static, non-secret extra headers
    options: tuple[tuple[str, str], ...] = ()  # api_version, region, project, location, deployment map entries...

    def option(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.options:
            if key == name:
                return value
        return default


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


@dataclass(frozen=True, slots=True)
class Observability:
    log_store: str = "sqlite"  # sqlite | postgres | none
    sqlite_path: str = "bifrostc.db"
    postgres_dsn_env: str | None = None
    log_bodies: bool = True
    log_full_history: bool = False  # log each request's whole conversation, not just what the turn adds
    retention_days: int | None = 30  # request-log rows older than this are deleted; None keeps them
    metrics: bool = True
    otlp_endpoint: str | None = None
    service_name: str = "bifrostc"
    metrics_token_env: str | None = None  # env var holding the bearer token /metrics takes when require_key is on


@dataclass(frozen=True, slots=True)
class Server:
    host: str = "127.0.0.1"
    port: int = 8080
    require_key: bool = False  # when true every request needs a virtual key
    admin_key_env: str | None = None  # env var holding the dashboard/admin key
    state: str = "embedded"  # embedded (in-process + SQLite) | redis
    redis_url_env: str | None = None
    default_provider: str | None = None
    max_request_mb: float = 32  # larger request bodies get a 413 before they are read into memory
    allowed_hosts: tuple[str, ...] = ()  # Host names accepted; empty: loopback names + host ("*": any)
    shutdown_grace_seconds: float = 20.0  # SIGTERM: then open streams get their dialect's error event
    header_timeout_seconds: float = 10.0  # a request's headers must arrive within this (slowloris)


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
