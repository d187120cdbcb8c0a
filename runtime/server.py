"""`bifrostc serve out/`: run the gateway under uvicorn and hot-reload out/routing.py when it changes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import math
import os
import pathlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from bifrostc.runtime.loadout import MANIFEST, LoadoutError, load_routing, routing_path
from bifrostc.runtime.observability.logging_setup import LogFormat, configure_logging, uvicorn_log_config

log = logging.getLogger("bifrostc.server")
POLL_SECONDS = 1.0
ACCESS_LOG_ENV = "BIFROSTC_ACCESS_LOG"
TRUTHY = frozenset({"1", "true", "yes", "on"})


Stamp = tuple[int, int, int, int]


@dataclass(slots=True)
class RoutingWatcher:
    """Polls routing.py's and MANIFEST.json's mtimes; on change loads routing.py (checked against the manifest)
    and swaps it in, keeping the old one if it is broken or modified. The manifest is watched too because a
    build replaces the two files one after the other: a check between them fails, the next one succeeds."""

    app: Starlette
    path: pathlib.Path
    last_stamp: Stamp | None = None
    allow_modified: bool = False

    def stamp(self) -> Stamp | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        try:
            manifest = self.path.with_name(MANIFEST).stat()
        except OSError:
            return stat.st_mtime_ns, stat.st_size, 0, 0
        return stat.st_mtime_ns, stat.st_size, manifest.st_mtime_ns, manifest.st_size

    def prime(self) -> None:
        self.last_stamp = self.stamp()

    def check(self) -> bool:
        """Reload if routing.py changed since the last check; True when a new gateway was installed."""
        from bifrostc.runtime.app import swap_gateway
        from bifrostc.runtime.providers import UnknownProviderType

        current = self.stamp()
        if current is None or current == self.last_stamp:
            return False
        self.last_stamp = current
        try:
            loaded = load_routing(self.path, allow_modified=self.allow_modified)
            swap_gateway(self.app, loaded.gateway)
        except (LoadoutError, UnknownProviderType, TypeError, ValueError, KeyError) as exc:
            log.error("keeping the previous gateway: %s could not be loaded: %s", self.path, exc)
            self.app.state.routing_error = f"{type(exc).__name__}: {exc}"  # readiness fails until a good rebuild
            return False
        self.app.state.loaded_routing = loaded
        self.app.state.routing_error = None
        return True

    async def run(self, interval: float = POLL_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            self.check()


def routing_watcher(
    path: pathlib.Path, interval: float = POLL_SECONDS, *, allow_modified: bool = False
) -> Callable[[Starlette], AsyncIterator[None]]:
    """A lifespan hook for create_app(lifespan_hooks=...) running the watcher as a background task."""

    @contextlib.asynccontextmanager
    async def hook(app: Starlette) -> AsyncIterator[None]:
        watcher = RoutingWatcher(app, path, allow_modified=allow_modified)
        watcher.prime()
        app.state.routing_watcher = watcher
        task = asyncio.create_task(watcher.run(interval), name="bifrostc-routing-watcher")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return hook  # type: ignore[return-value]


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_server_app(
    out_dir: pathlib.Path, *, reload: bool = True, allow_modified: bool = False, **app_options: Any
) -> Starlette:
    """The app for out/; `app_options` go to create_app (hooks_factory, extra_routes, lifespan_hooks...).
    `allow_modified`: serve a routing.py that does not match MANIFEST.json (otherwise LoadoutError).
    `app.state.loaded_routing` is the LoadedRouting being served (spec sha256, format version), kept current
    by hot reloads."""
    from bifrostc.runtime.app import create_app

    path = routing_path(pathlib.Path(out_dir))
    loaded = load_routing(path, allow_modified=allow_modified)
    gateway = loaded.gateway
    lifespan_hooks = list(app_options.pop("lifespan_hooks", ()))
    on_app = None
    if "hooks" not in app_options and "hooks_factory" not in app_options:
        # The full gateway: governance, cache, observability and MCP wired from the spec.
        from bifrostc.runtime.assembly import gateway_app_options

        wired = gateway_app_options(gateway)
        on_app = wired.pop("on_app")
        app_options["parts"] = wired.pop("parts")
        lifespan_hooks = [*wired.pop("lifespan_hooks"), *lifespan_hooks]
        app_options["extra_routes"] = [*wired.pop("extra_routes"), *app_options.get("extra_routes", ())]
        app_options.update(wired)
    if reload:
        lifespan_hooks.append(routing_watcher(path, allow_modified=allow_modified))
    parts = app_options.pop("parts", None)
    app = create_app(gateway, lifespan_hooks=lifespan_hooks, **app_options)
    app.state.routing_path = path
    app.state.loaded_routing = loaded
    if on_app is not None:
        on_app(app)
        app.state.parts = parts
    return app


# Measured with bench/run.py: agents resend their whole history every turn, so each request parses ~10^4 JSON
# objects; with CPython's default threshold (700) the cyclic collector runs every few requests and sweeps the
# long-lived start-up heap too. Freezing that heap and collecting young objects every 50,000 allocations took a
# 158 KB Claude Code history's p99 from 15.5 ms to 2.6 ms and small requests from 3,105 to 3,581 req/s @32.
GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc() -> None:
    """Move what start-up allocated out of the collector's way, then collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve(
    out_dir: pathlib.Path,
    *,
    host: str | None = None,
    port: int | None = None,
    reload: bool = True,
    access_log: bool | None = None,
    log_format: LogFormat = "text",
    allow_modified: bool = False,
    workers: str | int | None = None,
    listen_fd: int | None = None,
    ready_dir: str | None = None,
    **app_options: Any,
) -> int:
    """Serve out/ with uvicorn (uvloop + httptools when installed). `reload`: hot-swap a rebuilt routing.py.
    `access_log`: one line per request (request id, key, model, provider, status, latency, tokens, cost), off
    unless asked for (or BIFROSTC_ACCESS_LOG=1): the request log store records every request anyway.
    `log_format`: text, or one JSON object per line.
    `workers`: processes (an int or "auto"; None: BIFROSTC_WORKERS, then server.workers); more than one runs
    runtime/supervisor.py, which starts each worker through this function with `listen_fd` (the shared socket)
    and `ready_dir` (where it marks itself ready). `app_options` go to create_app (hooks_factory, extra_routes,
    lifespan_hooks; one process only). Returns the exit status."""
    configure_logging(log_format)
    if listen_fd is None:
        from bifrostc.runtime.supervisor import WorkersError, resolve_workers, supervise

        gateway = load_routing(routing_path(pathlib.Path(out_dir)), allow_modified=allow_modified).gateway
        # App options (hooks, routes) live in this process: they cannot be handed to other workers.
        count = resolve_workers(gateway, 1 if app_options and workers is None else workers)
        bind_host = host or gateway.server.host
        bind_port = port if port is not None else gateway.server.port
        if count.count > 1:
            _warn_port(port, gateway.server.port)
            if app_options:
                raise WorkersError(f"serve(workers={count.count}) takes no app options: {sorted(app_options)}")
            options = {"out_dir": str(out_dir), "reload": reload, "access_log": access_log}
            options["allow_modified"] = allow_modified
            options["log_format"] = log_format
            return supervise(count, bind_host, bind_port, gateway.server.shutdown_grace_seconds, options)
        log.info(
            "bifrostc serve: 1 worker (%s) on http://%s:%d, pid %d", count.source, bind_host, bind_port, os.getpid()
        )
    _run_worker(out_dir, host, port, reload, access_log, log_format, allow_modified, listen_fd, ready_dir, app_options)
    return 0


def _warn_port(port: int | None, spec_port: int) -> None:
    if port is not None and port != spec_port:
        log.warning(
            "serving on port %d, but out/env.sh and out/mcp.json send clients to port %d: set server.port: %d"
            " in the spec and rebuild, or serve without --port",
            port,
            spec_port,
            port,
        )


def _ready_marker(ready_dir: str) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan hook telling the supervisor this worker started (a file named after its pid)."""

    @contextlib.asynccontextmanager
    async def hook(app: Starlette) -> AsyncIterator[None]:
        pathlib.Path(ready_dir, f"ready.{os.getpid()}").touch()
        yield

    return hook


def _run_worker(
    out_dir: pathlib.Path,
    host: str | None,
    port: int | None,
    reload: bool,
    access_log: bool | None,
    log_format: LogFormat,
    allow_modified: bool,
    listen_fd: int | None,
    ready_dir: str | None,
    app_options: dict[str, Any],
) -> None:
    import socket

    import uvicorn

    from bifrostc.runtime.http_server import MAX_HEADER_BYTES, SHUTDOWN_CUT_SECONDS, GracefulServer, protocol_class
    from bifrostc.runtime.loadout import configured_secrets
    from bifrostc.runtime.observability.banner import log_banner
    from bifrostc.runtime.observability.redaction import install_log_redaction, register_secrets

    access = access_log if access_log is not None else os.environ.get(ACCESS_LOG_ENV, "") in TRUTHY
    configure_logging(log_format, access=access)
    if ready_dir is not None:
        app_options["lifespan_hooks"] = [*app_options.get("lifespan_hooks", ()), _ready_marker(ready_dir)]
    app = build_server_app(out_dir, reload=reload, allow_modified=allow_modified, **app_options)
    server_config = app.state.runtime.gateway.server
    if listen_fd is None:  # workers: the supervisor said it once
        _warn_port(port, server_config.port)
    bind_host, bind_port = host or server_config.host, port if port is not None else server_config.port
    config = uvicorn.Config(
        app,
        host=bind_host,
        port=bind_port,
        loop="uvloop" if _available("uvloop") else "asyncio",
        http=protocol_class(server_config.header_timeout_seconds) if _available("httptools") else "h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        lifespan="on",
        log_config=uvicorn_log_config(log_format),
        log_level="info",
        access_log=False,  # bifrostc's own access line (bifrostc.access) names the key, model and cost
        timeout_keep_alive=75,
        # The backstop: what is still running this long after the grace period is cancelled outright.
        timeout_graceful_shutdown=math.ceil(server_config.shutdown_grace_seconds + SHUTDOWN_CUT_SECONDS),
        # Each worker wraps the supervisor's shared socket itself: the spec's TLS reaches every one of them.
        ssl_certfile=server_config.tls.cert_file if server_config.tls else None,
        ssl_keyfile=server_config.tls.key_file if server_config.tls else None,
    )
    # On the handlers uvicorn.Config just installed too; start-up names env vars, never their values.
    register_secrets(configured_secrets(app.state.runtime.gateway))
    install_log_redaction()
    log_banner(app.state.loaded_routing, bind_host, bind_port)
    tune_gc()
    server = GracefulServer(config, server_config.shutdown_grace_seconds)
    if listen_fd is None:
        server.run()
    else:
        server.run(sockets=[socket.socket(fileno=listen_fd)])  # the supervisor's socket, shared by every worker
