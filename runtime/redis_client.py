"""One home for connecting to the shared Redis (`server.redis`): a single node, a Sentinel-monitored master,
or a Redis Cluster. Governance counters and the response cache both get their client here.

Every secret comes from an env var named in the spec (URL, username, password, sentinel password). A rediss://
URL or ``tls: true`` turns TLS on (``tls_ca_file`` names the CA bundle). Short socket timeouts: an unreachable
Redis must fail a request fast (``server.state_failure`` decides what then), not hold it for the OS's TCP
timeout; one immediate retry on a fresh connection, since after a restart every pooled connection is stale.
A Sentinel client asks the sentinels for the master on every new connection, so after a promotion the next
connection goes to the new master; a Cluster client follows MOVED redirections and refreshes its slot map.

Under uvloop (what `bifrostc serve` runs), a write on a connection whose peer just closed it raises
``RuntimeError: unable to perform operation on <TCPTransport closed=True>`` where asyncio's own loop raises
nothing (and the next read fails with a ConnectionError). redis-py does not expect it, so a master killed or a
Sentinel's ``CLIENT KILL`` during a failover surfaced as a 500. Every connection class here turns it into the
ConnectionError redis-py retries on and the stores treat as an outage (``_ClosedWriteIsConnectionError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis_async
import redis.asyncio.connection as redis_connection
import redis.exceptions as redis_exceptions
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from bifrostc.runtime.config import RedisState, Server

# What an outage raises: connection refused or reset, timeouts, a Redis still loading its data, a demoted
# master refusing writes, a cluster slot whose master is gone (SlotNotCoveredError: the client's slot map, read
# mid-failover, has no node for it; it is no RedisError).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
    redis_exceptions.ReadOnlyError,
    redis_exceptions.ClusterDownError,
    redis_exceptions.TryAgainError,
    redis_exceptions.MasterDownError,
    redis_exceptions.SlotNotCoveredError,
)

Client = redis_async.Redis | RedisCluster


class _ClosedWriteIsConnectionError(redis_connection.AbstractConnection):
    """Mixed in before a redis-py connection class: a write on a closed transport is a ConnectionError."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except RuntimeError as exc:  # redis-py has already disconnected it (its BaseException branch)
            raise redis_exceptions.ConnectionError(f"Redis connection closed while writing: {exc}") from exc


_GUARDED: dict[type[Any], type[Any]] = {}


def _guarded(base: type[Any]) -> type[Any]:
    if issubclass(base, _ClosedWriteIsConnectionError):
        return base
    if base not in _GUARDED:
        _GUARDED[base] = type(f"Guarded{base.__name__}", (_ClosedWriteIsConnectionError, base), {})
    return _GUARDED[base]


def _guard(client: Client) -> Client:
    """Give every connection ``client`` opens the closed-write translation (see the module docstring)."""
    if isinstance(client, RedisCluster):
        kwargs = client.nodes_manager.connection_kwargs
        kwargs["connection_class"] = _guarded(kwargs.get("connection_class", redis_connection.Connection))
        for node in client.nodes_manager.startup_nodes.values():
            node.connection_class = _guarded(node.connection_class)
    else:
        pool = client.connection_pool
        pool.connection_class = _guarded(pool.connection_class)
    return client


@dataclass(frozen=True, slots=True)
class RedisHandle:
    """A connected client and what its mode implies for the stores."""

    client: Client
    mode: str  # single | sentinel | cluster
    replica_acks: int  # replicas that must acknowledge a write (WAIT); 0: none
    ack_timeout_ms: int

    @property
    def cluster(self) -> bool:
        return self.mode == "cluster"


def settings(server: Server) -> RedisState | None:
    """``server.redis``, or the single-URL shorthand ``server.redis_url_env`` folded into it."""
    if server.redis is not None:
        return server.redis
    if server.redis_url_env:
        return RedisState(mode="single", url_env=server.redis_url_env)
    return None


def _env(environ: Mapping[str, str], name: str | None, what: str, *, required: bool = False) -> str | None:
    value = environ.get(name) if name else None
    if required and not value:
        raise RuntimeError(f"server.redis: env var {name!r} holding the {what} is not set")
    return value or None


def _common(state: RedisState, environ: Mapping[str, str], *, decode: bool) -> dict[str, Any]:
    options: dict[str, Any] = {
        "decode_responses": decode,
        "socket_connect_timeout": 1.0,
        "socket_timeout": 2.0,
        "retry": Retry(NoBackoff(), 1),
    }
    if username := _env(environ, state.username_env, "username"):
        options["username"] = username
    if password := _env(environ, state.password_env, "password"):
        options["password"] = password
    if state.tls:
        options["ssl"] = True
    if state.tls_ca_file:
        options["ssl_ca_certs"] = state.tls_ca_file
    return options


def _host_port(item: str) -> tuple[str, int]:
    parsed = urlsplit(item if "://" in item else f"redis://{item}")
    return parsed.hostname or "127.0.0.1", parsed.port or 6379


def connect(state: RedisState, environ: Mapping[str, str], *, decode: bool) -> RedisHandle:
    """A client for ``state``; raises RuntimeError naming the env var that is missing."""
    acks = state.replica_acks if state.replica_acks is not None else (0 if state.mode == "single" else 1)
    options = _common(state, environ, decode=decode)
    client: Client
    if state.mode == "sentinel":
        raw = _env(environ, state.sentinels_env, "sentinel addresses", required=True) or ""
        sentinels = [_host_port(item.strip()) for item in raw.split(",") if item.strip()]
        sentinel_options: dict[str, Any] = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
        if secret := _env(environ, state.sentinel_password_env, "sentinel password"):
            sentinel_options["password"] = secret
        options.pop("retry")
        watcher = Sentinel(sentinels, sentinel_kwargs=sentinel_options, **options)  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8
        client = watcher.master_for(state.service_name, retry=Retry(NoBackoff(), 1))
    elif state.mode == "cluster":
        raw = _env(environ, state.url_env, "cluster node URLs", required=True) or ""
        urls = [item.strip() for item in raw.split(",") if item.strip()]
        if any(url.startswith("rediss://") for url in urls):
            options["ssl"] = True
        nodes = [ClusterNode(*_host_port(url)) for url in urls]
        options.pop("retry")
        client = RedisCluster(startup_nodes=nodes, retry=Retry(NoBackoff(), 2), **options)
    else:
        url = _env(environ, state.url_env, "Redis URL", required=True) or ""
        if options.pop("ssl", False) and url.startswith("redis://"):
            url = "rediss://" + url.removeprefix("redis://")
        if not url.startswith("rediss://"):
            options.pop("ssl_ca_certs", None)
        client = redis_async.Redis.from_url(
            url, retry_on_error=[redis_exceptions.ConnectionError, redis_exceptions.TimeoutError], **options
        )
    return RedisHandle(_guard(client), state.mode, acks, state.ack_timeout_ms)


def from_url(url: str, *, decode: bool) -> RedisHandle:
    """A single-node client for a URL given directly (tests, ``Governor.from_gateway(redis_url=...)``)."""
    return connect(RedisState(mode="single", url_env="URL"), {"URL": url}, decode=decode)
