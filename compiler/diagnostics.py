"""Diagnostics: one problem in a spec, with where it is and how to fix it, rendered like a compiler error.

gateway.yaml:14:15: error: providers.openai.keys[0].weight: must be greater than 0 (got -1)
   14 |       weight: -1
      |               ^^
  hint: weights are relative shares; use a positive number such as 1
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Path = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Span:
    """A 1-based line and column, and how many characters to underline."""

    line: int
    col: int
    length: int = 1


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    path: Path
    message: str
    hint: str | None = None
    span: Span | None = None
    on_key: bool = False  # point at the mapping key rather than its value (unknown or duplicate keys)
    quote_source: bool = True  # False for literal secrets: never copy them into terminals and CI logs
    inner: Span | None = None  # a position inside the value's text (a rule's CEL condition), 1-based

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(path: Path, message: str, hint: str | None = None, *, on_key: bool = False) -> Diagnostic:
    return Diagnostic(Severity.ERROR, path, message, hint, on_key=on_key)


def warning(path: Path, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, path, message, hint)


def format_path(path: Path) -> str:
    """``("providers", "openai", "keys", 0, "env")`` -> ``providers.openai.keys[0].env``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text or "<document>"


def did_you_mean(bad: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    options = sorted(set(candidates))
    same_letters = [c for c in options if c.lower() == bad.lower()]  # '1D' -> '1d': too short for difflib
    matches = same_letters or difflib.get_close_matches(bad, options, n=1, cutoff=0.6)
    return f" Did you mean '{matches[0]}'?" if matches else ""


def sort_key(diag: Diagnostic) -> tuple[int, int, str, str]:
    span = diag.span or Span(0, 0)
    return (span.line, span.col, format_path(diag.path), diag.message)


def dedupe(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Drop repeats of the same (path, message), keep the first, sort by position."""
    seen: set[tuple[Path, str]] = set()
    unique = []
    for diag in diags:
        if (diag.path, diag.message) not in seen:
            seen.add((diag.path, diag.message))
            unique.append(diag)
    return sorted(unique, key=sort_key)


def render(diag: Diagnostic, filename: str, source_lines: Sequence[str]) -> str:
    """The compiler-style text of one diagnostic: location line, source excerpt with a caret, hint."""
    where = f"{filename}:{diag.span.line}:{diag.span.col}" if diag.span else filename
    subject = f"{format_path(diag.path)}: " if diag.path else ""
    lines = [f"{where}: {diag.severity.value}: {subject}{diag.message}"]
    if diag.span and diag.quote_source and 0 < diag.span.line <= len(source_lines):
        number = str(diag.span.line)
        gutter = " " * len(number)
        lines.append(f"   {number} | {source_lines[diag.span.line - 1].rstrip()}")
        lines.append(f"   {gutter} | {' ' * (diag.span.col - 1)}{'^' * max(diag.span.length, 1)}")
    if diag.hint:
        lines.append(f"  hint: {diag.hint}")
    return "\n".join(lines)


def summary(diags: Sequence[Diagnostic], filename: str, *, writing: bool) -> str:
    """``2 errors, 1 warning in gateway.yaml; nothing written to out/``."""
    errors = sum(1 for d in diags if d.is_error)
    warnings = len(diags) - errors
    parts = ([_plural(errors, "error")] if errors or not warnings else []) + (
        [_plural(warnings, "warning")] if warnings else []
    )
    tail = "; nothing written" if writing and errors else ""
    return f"{', '.join(parts)} in {filename}{tail}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
