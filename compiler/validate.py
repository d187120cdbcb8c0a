"""The validation pipeline: YAML with positions -> literal-secret scan -> field shapes -> cross-field checks."""

from __future__ import annotations

import copy
import pathlib
from dataclasses import dataclass
from typing import Any

from bifrostc.compiler import checks
from bifrostc.compiler.diagnostics import Diagnostic, Path, dedupe, error
from bifrostc.compiler.loader import LoadedSpec, decode_spec, load_text
from bifrostc.compiler.secrets import find_literal_secrets
from bifrostc.compiler.shape import check_shape
from bifrostc.compiler.spec import GatewaySpec

_REPAIR_ROUNDS = 3
_EMPTY_HINT = "`bifrostc init --quickstart -o gateway.yaml` writes one that runs offline"


@dataclass
class Validated:
    loaded: LoadedSpec
    spec: GatewaySpec | None  # None when any error was found
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return self.spec is not None


def validate_text(text: str, environ: dict[str, str] | None = None, *, check_env: bool = True) -> Validated:
    """Every problem in a spec, sorted by position; the spec object only when there are no errors (``check_env``:
    also warn about variables unset in ``environ``, default os.environ)."""
    loaded = load_text(text)
    diags = list(loaded.diagnostics)
    spec = None
    if not diags:
        if not isinstance(loaded.data, dict | None):
            diags.append(error((), "the spec must be a mapping (version:, providers:, models: ...)"))
        elif not loaded.data:
            diags.append(error((), "the spec is empty: it names no providers and no models", _EMPTY_HINT))
        else:
            secrets = find_literal_secrets(loaded.data)
            # Top-level `x-…` keys hold YAML anchors for reuse (as in compose files); they are not config.
            data = {k: v for k, v in loaded.data.items() if not (isinstance(k, str) and k.startswith("x-"))}
            spec, shape = check_shape(data)
            secret_paths = {d.path for d in secrets}
            diags += secrets + [d for d in shape if not _under_any(d.path, secret_paths)]
            bad_paths = [d.path for d in secrets + shape]
            checked = spec or _repaired(data, bad_paths)
            if checked is not None:
                # A rule failing on an object that already has a shape error inside is an echo of it: skip.
                found = checks.run_all(checked, environ, check_env=check_env)
                diags += [d for d in found if not any(bad[: len(d.path)] == d.path for bad in bad_paths)]
    diags = dedupe(loaded.locate(diags))
    if any(d.is_error for d in diags):
        spec = None
    return Validated(loaded, spec, diags)


def validate_file(path: pathlib.Path, environ: dict[str, str] | None = None, *, check_env: bool = True) -> Validated:
    text, undecodable = decode_spec(path.read_bytes())
    if text is None:
        assert undecodable is not None
        return Validated(LoadedSpec(text="", data=None), None, [undecodable])
    return validate_text(text, environ, check_env=check_env)


def _repaired(data: dict[str, Any], bad_paths: list[Path]) -> GatewaySpec | None:
    """The spec with each offending key dropped (so defaults apply), to run cross-field checks anyway.

    Reporting shape and reference errors together saves the user a round trip. When dropping keys is not
    enough (a required key is missing or wrong), give up: checks would only produce noise.
    """
    pruned = copy.deepcopy(data)
    for _ in range(_REPAIR_ROUNDS):
        for path in bad_paths:
            _drop(pruned, path)
        spec, shape = check_shape(pruned)
        if spec is not None:
            return spec
        bad_paths = [d.path for d in shape]
    return None


def _drop(data: Any, path: Path) -> None:
    parent = data
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(parent, dict):
        parent.pop(path[-1] if path else None, None)


def _under_any(path: tuple[str | int, ...], prefixes: set[tuple[str | int, ...]]) -> bool:
    return any(path[: len(p)] == p for p in prefixes)
