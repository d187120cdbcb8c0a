"""Lazy package exports: a package names its public objects and the module each lives in; a module loads on first use.

Packages whose submodules pull in heavy dependencies (the MCP SDK, Redis, OpenTelemetry) use this so that
importing one light submodule, or the package itself, costs nothing until a name is really asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package_globals: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the module-level ``__getattr__`` and ``__dir__`` for a package exporting ``exports`` (name → module)."""
    package = package_globals["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        package_globals[name] = value  # cache: later lookups never reach __getattr__ again
        return value

    def __dir__() -> list[str]:
        return sorted([*package_globals, *exports])

    return __getattr__, __dir__
