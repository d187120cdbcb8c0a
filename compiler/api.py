"""The compiler's keyword-only API under the CLI: validate, build (or check) and render diagnostics."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

from bifrostc.compiler.diagnostics import Diagnostic, render, summary
from bifrostc.compiler.emit import Source, drift, render_all, write_atomically
from bifrostc.compiler.plan import build_gateway
from bifrostc.compiler.validate import Validated, validate_file
from bifrostc.runtime import config as c


@dataclass
class BuildResult:
    validated: Validated
    gateway: c.Gateway | None = None
    files: dict[str, str] = field(default_factory=dict)
    drift: str = ""  # unified diff against out/ (check mode only)

    @property
    def ok(self) -> bool:
        return self.validated.ok and not self.drift


def compile_spec(
    spec_path: pathlib.Path, *, environ: dict[str, str] | None = None, check_env: bool = True
) -> BuildResult:
    """Validate and render in memory; nothing is written (``check_env=False``: no unset-variable warnings)."""
    validated = validate_file(spec_path, environ, check_env=check_env)
    result = BuildResult(validated)
    if validated.spec is not None:
        result.gateway = build_gateway(validated.spec)
        source = Source.of(spec_path, validated.loaded.text)
        result.files = render_all(validated.spec, result.gateway, source)
    return result


def build(
    spec_path: pathlib.Path, out_dir: pathlib.Path, *, check: bool = False, environ: dict[str, str] | None = None
) -> BuildResult:
    """Compile ``spec_path`` into ``out_dir``; with ``check`` only compare and report drift."""
    result = compile_spec(spec_path, environ=environ)
    if not result.validated.ok:
        return result
    if check:
        result.drift = drift(result.files, out_dir)
    else:
        write_atomically(result.files, out_dir)
    return result


def report(diags: list[Diagnostic], display_name: str, text: str, *, writing: bool) -> str:
    """All diagnostics rendered for a terminal, then a one-line summary; empty when there is nothing to say."""
    if not diags:
        return ""
    lines = text.splitlines()
    body = [render(d, display_name, lines) for d in diags]
    return "\n".join([*body, summary(diags, display_name, writing=writing)]) + "\n"
