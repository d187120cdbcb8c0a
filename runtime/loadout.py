"""Load a compiled out/routing.py and resolve the provider secrets it names."""

from __future__ import annotations

import importlib.util
import logging
import os
import pathlib
import sys
from collections.abc import Mapping
from types import ModuleType

from bifrostc.runtime import config

log = logging.getLogger("bifrostc.loadout")


class LoadoutError(RuntimeError):
    """out/routing.py is missing, broken, stale or not a bifrostc routing module."""


def routing_path(out: pathlib.Path) -> pathlib.Path:
    """Accept either the out/ directory or the routing.py file itself."""
    return out / "routing.py" if out.is_dir() else out


def _import_by_path(path: pathlib.Path) -> ModuleType:
    # A fresh, unregistered module name each time so a reload never sees a cached copy.
    name = f"_bifrostc_routing_{abs(hash((str(path), path.stat().st_mtime_ns)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadoutError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # any error in generated code must become one clear message
        raise LoadoutError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(name, None)
    return module


def load_gateway(out: pathlib.Path) -> config.Gateway:
    """Import routing.py by path, check its FORMAT_VERSION and return its GATEWAY."""
    path = routing_path(pathlib.Path(out))
    if not path.is_file():
        raise LoadoutError(f"{path}: not found; run `bifrostc build gateway.yaml -o {path.parent}` first")
    module = _import_by_path(path)
    version = getattr(module, "FORMAT_VERSION", None)
    if version != config.FORMAT_VERSION:
        raise LoadoutError(
            f"{path}: FORMAT_VERSION is {version!r} but this runtime reads version {config.FORMAT_VERSION}; "
            "rebuild it with this bifrostc (`bifrostc build gateway.yaml -o out/`)"
        )
    gateway = getattr(module, "GATEWAY", None)
    if not isinstance(gateway, config.Gateway):
        raise LoadoutError(f"{path}: defines no `GATEWAY: Gateway`")
    return gateway


def resolve_keys(gateway: config.Gateway, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each provider key's env-var name to its value; warn once per missing variable."""
    env = os.environ if environ is None else environ
    resolved: dict[str, str] = {}
    for provider in gateway.providers.values():
        for key in provider.keys:
            value = env.get(key.env)
            if value:
                resolved[key.env] = value
            else:
                log.warning("provider %s: env var %s is not set; requests needing it will fail", provider.name, key.env)
    return resolved


def configured_secrets(gateway: config.Gateway, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of every secret the spec names by env var (provider keys, admin key, metrics token, virtual
    keys held in env, MCP server headers): what the redactor must never let out. MCP child env vars are left
    out: they are often not secrets (PATH, HOME), and redacting a path everywhere would ruin the logs."""
    env = os.environ if environ is None else environ
    names: list[str | None] = [key.env for provider in gateway.providers.values() for key in provider.keys]
    names += [gateway.server.admin_key_env, gateway.observability.metrics_token_env]
    names += [key.env for key in gateway.virtual_keys]
    names += [source for server in gateway.mcp_servers for _, source in server.headers]
    return [value for name in names if name and (value := env.get(name))]
