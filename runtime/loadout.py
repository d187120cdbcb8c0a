"""Load a compiled out/routing.py, checked against out/MANIFEST.json, and resolve the provider secrets it names.

``bifrostc build`` writes MANIFEST.json with the sha256 of every file it wrote. The gateway serves only the
routing.py that build wrote: a hand-edited (or half-copied) routing.py is refused before it is imported, unless
the operator passes ``--allow-modified``, in which case it is served and ``LoadedRouting.verified`` is False.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import pathlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType

from bifrostc.runtime import config

log = logging.getLogger("bifrostc.loadout")


MANIFEST = "MANIFEST.json"


class LoadoutError(RuntimeError):
    """out/routing.py is missing, broken, stale, modified or not a bifrostc routing module."""


@dataclass(frozen=True, slots=True)
class LoadedRouting:
    """One loaded routing.py: what the gateway serves, and what it was built from (for /health)."""

    path: pathlib.Path
    gateway: config.Gateway
    format_version: int
    source_sha256: str  # sha256 of the gateway.yaml it was compiled from (routing.py's SOURCE_SHA256)
    verified: bool  # matched MANIFEST.json; False only when served with --allow-modified


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


def verify_manifest(path: pathlib.Path) -> str | None:
    """Why ``path`` (a routing.py) is not the file ``bifrostc build`` wrote next to its MANIFEST.json, or None."""
    manifest_path = path.with_name(MANIFEST)
    rebuild = f"rebuild with `bifrostc build gateway.yaml -o {path.parent}` or serve it with --allow-modified"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected = manifest["files"][path.name]
    except FileNotFoundError:
        return f"{path}: no {MANIFEST} next to it, so it was not written by bifrostc build; {rebuild}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{manifest_path}: unreadable ({type(exc).__name__}: {exc}); {rebuild}"
    if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        return f"{path}: modified since bifrostc build wrote it (sha256 differs from {MANIFEST}); {rebuild}"
    return None


def load_routing(out: pathlib.Path, *, allow_modified: bool = False) -> LoadedRouting:
    """Check routing.py against MANIFEST.json, import it by path, check its FORMAT_VERSION, take its GATEWAY."""
    path = routing_path(pathlib.Path(out))
    if not path.is_file():
        raise LoadoutError(f"{path}: not found; run `bifrostc build gateway.yaml -o {path.parent}` first")
    problem = verify_manifest(path)
    if problem is not None and not allow_modified:
        raise LoadoutError(problem)  # before the import: a hand-edited module's code never runs
    if problem is not None:
        log.warning("serving it anyway (--allow-modified): %s", problem)
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
    source = getattr(module, "SOURCE_SHA256", "")
    return LoadedRouting(path, gateway, version, source if isinstance(source, str) else "", problem is None)


def load_gateway(out: pathlib.Path, *, allow_modified: bool = False) -> config.Gateway:
    """`load_routing(...).gateway`."""
    return load_routing(out, allow_modified=allow_modified).gateway


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
