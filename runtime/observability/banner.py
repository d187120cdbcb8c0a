"""The start-up banner `bifrostc serve` logs once: version, spec sha256, routes, listening and dashboard URLs."""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

from bifrostc.runtime import config
from bifrostc.runtime.loadout import LoadedRouting

log = logging.getLogger("bifrostc.server")
_ANY_HOST = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}


def version() -> str:
    try:
        return importlib.metadata.version("bifrostc")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def listening_urls(host: str, port: int, scheme: str = "http") -> list[str]:
    """Where clients reach the gateway; an any-address bind lists the loopback URL first."""
    if host in _ANY_HOST:
        return [f"{scheme}://{_ANY_HOST[host]}:{port}", f"{scheme}://{host or '0.0.0.0'}:{port} (every interface)"]
    return [f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"]


def route_lines(gateway: config.Gateway) -> list[str]:
    lines = []
    for name, route in sorted(gateway.routes.items()):
        if name != route.name:
            lines.append(f"{name} = {route.name}")
            continue
        targets = ", ".join(f"{t.provider}/{t.model}" for t in route.targets)
        fallbacks = f" (then {', '.join(route.fallbacks)})" if route.fallbacks else ""
        lines.append(f"{name} -> {targets}{fallbacks}")
    return lines


def banner_fields(loaded: LoadedRouting, host: str, port: int) -> dict[str, Any]:
    gateway = loaded.gateway
    urls = listening_urls(host, port, "https" if gateway.server.tls else "http")
    base = urls[0]
    dashboard = None if gateway.observability.log_store == "none" else base + "/"
    return {
        "event": "startup",
        "version": version(),
        "spec_sha256": loaded.source_sha256,
        "routing": str(loaded.path),
        "routes": {name: [f"{t.provider}/{t.model}" for t in r.targets] for name, r in sorted(gateway.routes.items())},
        "tiers": dict(sorted(gateway.tiers.items())),
        "listening": urls,
        "dashboard": dashboard,
        "dashboard_needs_admin_key": bool(gateway.server.admin_key_env),
        "metrics": base + "/metrics" if gateway.observability.metrics else None,
        "mcp": base + "/mcp" if gateway.mcp_servers else None,
    }


def log_banner(loaded: LoadedRouting, host: str, port: int) -> None:
    fields = banner_fields(loaded, host, port)
    lines = [
        f"bifrostc {fields['version']} serving {fields['routing']} (spec sha256 {fields['spec_sha256']})",
        *(f"  route {line}" for line in route_lines(loaded.gateway)),
        *(f"  tier {tier} -> {route}" for tier, route in fields["tiers"].items()),
        *(f"  listening on {url}" for url in fields["listening"]),
    ]
    if fields["dashboard"]:
        lock = " (admin key: server.admin_key_env)" if fields["dashboard_needs_admin_key"] else ""
        lines.append(f"  dashboard {fields['dashboard']}{lock}")
    else:
        lines.append("  dashboard off (observability.log_store: none)")
    if fields["metrics"]:
        lines.append(f"  metrics {fields['metrics']}")
    if fields["mcp"]:
        lines.append(f"  mcp {fields['mcp']}")
    log.info("\n".join(lines), extra={"fields": fields})
